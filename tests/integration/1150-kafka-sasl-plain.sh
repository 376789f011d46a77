#!/usr/bin/env bash
# 1150-kafka-sasl-plain: the whole pipeline over SASL/PLAIN, proven once.
# A stack of its own (scripts/stack.sh up --sasl: one broker with a
# SASL_PLAINTEXT listener, mechanism PLAIN, users in .state/it-sasl/sasl.env)
# and every Kafka client of sluice pointed at that listener only, with
#   -X kafka.security.protocol=SASL_PLAINTEXT -X kafka.sasl.mechanism=PLAIN
#   -X kafka.sasl.username=... -X kafka.sasl.password=...
# The console tools create, list, produce and consume; the feed, a
# reducer, the api and the publisher carry prices to `sluice watch`
# (commands and data both cross Kafka); the REST proxy produces and
# consumes through a consumer instance. Wrong credentials fail with a clear
# error: the tools exit 1 naming the refused login, a role is not ready and
# says why (/readyz, ev=kafka_auth_failed).
# Non-goals: SASL_SSL (librdkafka's TLS is the same code path as any
# other client's; docs/security.md), SCRAM, Kafka ACLs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_stack_up sasl 1 sasl || fail "could not start a SASL stack"
. "$SLUICE_STATE/it-sasl/sasl.env"
[ -n "${SLUICE_KAFKA_SASL_BROKERS:-}" ] || fail "stack.env has no SLUICE_KAFKA_SASL_BROKERS"
# Only the SASL listener from here on.
export SLUICE_KAFKA_BROKERS=$SLUICE_KAFKA_SASL_BROKERS
name=$(unique sasl)
work=$(mktemp -d)
cleanup() {
	it_system_down "$name" || true
	rm -rf "$work"
	it_stack_down sasl
}
trap cleanup EXIT

sasl_x() { # user password
	printf '%s\n' -X kafka.security.protocol=SASL_PLAINTEXT -X kafka.sasl.mechanism=PLAIN \
		-X "kafka.sasl.username=$1" -X "kafka.sasl.password=$2"
}
mapfile -t X < <(sasl_x "$SASL_USER" "$SASL_PASSWORD")
mapfile -t BAD < <(sasl_x "$SASL_USER" "not-$SASL_PASSWORD")

# ---- without credentials the listener serves nothing ----
if timeout 30 "$SLUICE_BIN" topics --list --kafka-timeout-ms 3000 > "$work/out" 2> "$work/err"; then
	fail "topics --list without credentials succeeded: $(cat "$work/out")"
fi
pass "a client without credentials gets nothing from the SASL listener"

# ---- wrong credentials: a clear error from each tool ----
for tool in "topics --list" "produce --topic $name-tools" "consume --topic $name-tools --from-beginning --max-messages 1"; do
	rc=0
	# shellcheck disable=SC2086 # the tool and its flags
	echo x | timeout 60 "$SLUICE_BIN" $tool "${BAD[@]}" > /dev/null 2> "$work/err" || rc=$?
	[ "$rc" = 1 ] || fail "$tool with a wrong password: exit $rc, expected 1 ($(cat "$work/err"))"
	grep -q "refused the credentials" "$work/err" && grep -q "Invalid username or password" "$work/err" ||
		fail "$tool with a wrong password: unclear error: $(cat "$work/err")"
	pass "sluice ${tool%% *} with a wrong password: $(head -c 120 "$work/err")"
done

# ---- the console tools ----
for t in "$name-tools:2" "$name-markets:4" "$name-commands:1"; do
	timeout 60 "$SLUICE_BIN" topics --create --topic "${t%%:*}" --partitions "${t##*:}" "${X[@]}" > /dev/null ||
		fail "topics --create ${t%%:*} over SASL"
done
timeout 60 "$SLUICE_BIN" topics --list "${X[@]}" > "$work/topics" || fail "topics --list over SASL"
for t in tools markets commands; do grep -qx "$name-$t" "$work/topics" || fail "topics --list lacks $name-$t"; done
pass "topics --create and --list over SASL/PLAIN"
printf 'k1:one\nk2:two\nk3:three\n' | timeout 60 "$SLUICE_BIN" produce --topic "$name-tools" \
	--property parse.key=true --property key.separator=: "${X[@]}" || fail "produce over SASL"
got=$(timeout 60 "$SLUICE_BIN" consume --topic "$name-tools" --from-beginning --max-messages 3 \
	--property print.key=true --property key.separator=: "${X[@]}" | LC_ALL=C sort)
expect_eq "consume reads what produce wrote over SASL" "k1:one
k2:two
k3:three" "$got"

# ---- the pipeline: feed -> reducer -> Redis -> publisher, api commands ----
export SLUICE_DATA_TOPIC=$name-markets SLUICE_COMMAND_TOPIC=$name-commands
export SLUICE_REDIS_PREFIX=$name: SLUICE_REDUCER_GROUP=$name-reducers
it_role_start "$name" api api "${X[@]}" || fail "api over SASL not ready"
it_role_start "$name" reducer reducer "${X[@]}" || fail "reducer over SASL not ready"
export SLUICE_REDUCER_URLS=$IT_URL_reducer
wait_for 60 "the reducer to own every partition" it_reducers_settled 4 || fail "the reducer did not get the partitions"
it_role_start "$name" publisher publisher --api-url "$IT_URL_api" || fail "publisher not ready"
it_role_start "$name" feed feed --markets 4 --rate 40 "${X[@]}" || fail "feed over SASL not ready"
timeout 60 "$SLUICE_BIN" watch --api-url "$IT_URL_api" --publisher-url "$IT_URL_publisher" --max-updates 8 \
	m-0001 m-0002 > "$work/watch" 2> "$work/watch.err" || { cat "$work/watch.err"; fail "watch over a SASL pipeline"; }
grep -Eq '^snapshot m-000[12] price=' "$work/watch" || fail "no snapshot: $(cat "$work/watch")"
[ "$(grep -Ec '^update +m-000[12] price=' "$work/watch")" -ge 1 ] || fail "no updates: $(cat "$work/watch")"
pass "feed, reducer, api and publisher carry prices over SASL/PLAIN ($(wc -l < "$work/watch") lines to watch)"

# ---- the REST proxy ----
it_role_start "$name" rest-proxy rest-proxy "${X[@]}" || fail "rest-proxy over SASL not ready"
RP=$IT_URL_rest_proxy
BIN2=application/vnd.kafka.binary.v2+json
v=$(printf 'through-the-proxy' | base64)
out=$(curl -fsS -X POST -H "Content-Type: $BIN2" --data "{\"records\":[{\"value\":\"$v\",\"partition\":1}]}" "$RP/topics/$name-tools") ||
	fail "rest-proxy produce over SASL"
echo "$out" | grep -q '"error_code":null' || fail "rest-proxy produce answer: $out"
g=$name-rp
curl -fsS -X POST -H 'Content-Type: application/vnd.kafka.v2+json' \
	--data '{"name":"c1","format":"binary","auto.offset.reset":"earliest"}' "$RP/consumers/$g" > /dev/null ||
	fail "rest-proxy consumer instance"
curl -fsS -X POST -H 'Content-Type: application/vnd.kafka.v2+json' --data "{\"topics\":[\"$name-tools\"]}" \
	"$RP/consumers/$g/instances/c1/subscription" > /dev/null || fail "rest-proxy subscribe"
seen() {
	curl -fsS -H "Accept: $BIN2" "$RP/consumers/$g/instances/c1/records?timeout=1000" >> "$work/records" &&
		grep -q "$v" "$work/records"
}
wait_for 60 "the proxy's consumer to read the record back" seen || fail "rest-proxy read: $(cat "$work/records")"
curl -fsS -X DELETE "$RP/consumers/$g/instances/c1" > /dev/null || fail "rest-proxy delete instance"
pass "rest-proxy produces and consumes over SASL/PLAIN"

# ---- a role with a wrong password is not ready and says why ----
port=$(free_port)
"$SLUICE_BIN" api --port "$port" "${BAD[@]}" > /dev/null 2> "$work/bad-api.log" &
bad=$!
refused() { curl -sS "http://127.0.0.1:$port/readyz" 2>/dev/null | grep -q "refused the credentials"; }
wait_for 60 "the api's /readyz to name the refused login" refused ||
	{ kill "$bad"; fail "api with a wrong password: $(curl -sS "http://127.0.0.1:$port/readyz"; tail -5 "$work/bad-api.log")"; }
grep -q "ev=kafka_auth_failed" "$work/bad-api.log" || { kill "$bad"; fail "no kafka_auth_failed line"; }
kill -TERM "$bad"
wait "$bad" || fail "the api with a wrong password did not exit 0 on SIGTERM"
pass "a role with a wrong password: /readyz 503 and ev=kafka_auth_failed"

it_system_down "$name" || fail "a role did not stop cleanly"
echo "1150 ok"
