#!/usr/bin/env bash
# 1108-redis-tls: the roles reach Redis over TLS (rediss://), against a
# redis-server started here with tls-port and tls-auth-clients on, and
# certificates from a CA made here (openssl req).
#
# The api creates a channel over it (command mode: the record is read back
# with redis-cli --tls); the publisher looks the channel up and subscribes
# over it (pub/sub mode: a message published to the channel's stream comes
# out on SSE). TLS 1.2 works too, with a server that asks for no client
# certificate. Refused, with a clear line and /readyz 503, never
# half-working: a server certificate from another CA, no client
# certificate, plain redis:// to the TLS port; a CA file that does not
# exist stops the role at start (exit 2) naming the file.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
work=$(mktemp -d)
sys=$(unique rtls)
redis_pid= redis12_pid=
cleanup() {
	for i in api api12 pub; do it_role_stop "$sys" "$i" KILL > /dev/null 2>&1 || true; done
	for p in $redis_pid $redis12_pid; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work" "$SLUICE_STATE/sys-$sys"
}
trap cleanup EXIT

# ---- a CA, the server's and a client's certificates, and another CA ----
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
mkca() { openssl req -x509 "${ec[@]}" -days 1 -subj "/CN=$1" -keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null; }
mkcert() { # name san
	openssl req "${ec[@]}" -subj "/CN=$1" -keyout "$work/$1.key" -out "$work/$1.csr" 2>/dev/null
	openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -set_serial "$RANDOM" -days 1 \
		${2:+-extfile <(printf 'subjectAltName=%s\n' "$2")} -out "$work/$1.pem" 2>/dev/null
}
mkca ca
mkca other-ca
mkcert server "IP:127.0.0.1"
mkcert client ""

port=$(free_port)
redis-server --port 0 --tls-port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
	--tls-cert-file "$work/server.pem" --tls-key-file "$work/server.key" --tls-ca-cert-file "$work/ca.pem" \
	--tls-auth-clients yes > "$work/redis.log" 2>&1 &
redis_pid=$!
rcli() { redis-cli --tls --cacert "$work/ca.pem" --cert "$work/client.pem" --key "$work/client.key" -p "$port" "$@"; }
wait_for 20 "redis-server with TLS" rcli PING || { cat "$work/redis.log"; fail "redis-server did not start with TLS"; }
pass "redis-server $(redis-server --version | grep -o 'v=[0-9.]*') with TLS on $port, client certificates required"

good="rediss://127.0.0.1:$port/0?tls_ca=$work/ca.pem&tls_cert=$work/client.pem&tls_key=$work/client.key"
export SLUICE_DATA_TOPIC=$(unique rtls-markets) SLUICE_COMMAND_TOPIC=$(unique rtls-commands)
export SLUICE_REDIS_PREFIX=$(unique rtls):
it_topic "$SLUICE_DATA_TOPIC" 4
it_topic "$SLUICE_COMMAND_TOPIC" 1

# ---- command mode: the api ----
it_role_start "$sys" api api --redis-url "$good" || fail "the api did not get ready over rediss://"
grep -q "ev=redis_connected conn=api addr=127.0.0.1:$port" "$SLUICE_STATE/sys-$sys/api.log" ||
	fail "no redis_connected line: $(tail -5 "$SLUICE_STATE/sys-$sys/api.log")"
body=$(curl -fsS -X POST -H 'Content-Type: application/json' -d '{"markets":["m-0001"]}' "$IT_URL_api/v1/channels") ||
	fail "POST /v1/channels over a TLS Redis"
chan=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["channel"])')
expect_eq "the channel's record, read back with redis-cli --tls" 1 "$(rcli EXISTS "${SLUICE_REDIS_PREFIX}channel:$chan")"

# ---- pub/sub mode: the publisher ----
it_role_start "$sys" pub publisher --redis-url "$good" || fail "the publisher did not get ready over rediss://"
curl -sN -m 20 "$IT_URL_pub/v1/events/$chan" > "$work/sse" &
sse=$!
wait_for 15 "subscribed" grep -q '"subscribed"' "$work/sse" || fail "no subscribed event: $(cat "$work/sse")"
# Subscribed to Redis once the client is told so; a message comes through.
wait_for 15 "the stream message through TLS pub/sub" bash -c \
	"redis-cli --tls --cacert '$work/ca.pem' --cert '$work/client.pem' --key '$work/client.key' -p $port \
	 PUBLISH '${SLUICE_REDIS_PREFIX}stream:$chan' '{\"type\":\"snapshot\",\"markets\":[]}' > /dev/null;
	 grep -q '\"snapshot\"' '$work/sse'" || fail "no snapshot over SSE: $(cat "$work/sse")"
kill "$sse" 2>/dev/null || true
pass "the publisher looks up and subscribes over TLS; a message comes through"

# ---- TLS 1.2, and a server that asks for no client certificate ----
port12=$(free_port)
redis-server --port 0 --tls-port "$port12" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
	--tls-cert-file "$work/server.pem" --tls-key-file "$work/server.key" --tls-ca-cert-file "$work/ca.pem" \
	--tls-auth-clients no --tls-protocols TLSv1.2 > "$work/redis12.log" 2>&1 &
redis12_pid=$!
wait_for 20 "redis-server with TLS 1.2" redis-cli --tls --cacert "$work/ca.pem" -p "$port12" PING ||
	{ cat "$work/redis12.log"; fail "redis-server did not start with TLS 1.2"; }
it_role_start "$sys" api12 api --redis-url "rediss://127.0.0.1:$port12?tls_ca=$work/ca.pem" ||
	fail "the api did not get ready over TLS 1.2"
expect_eq "POST /v1/channels over TLS 1.2" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H 'Content-Type: application/json' -d '{"markets":["m-0002"]}' "$IT_URL_api12/v1/channels")"
rc=0; it_role_stop "$sys" api12 || rc=$?
expect_eq "api12 exits 0 on SIGTERM" 0 "$rc"
kill "$redis12_pid"

# ---- refused ----
# refused NAME URL WORDS: the api never gets ready, and says WORDS.
refused() {
	local name=$1 url=$2 words=$3 p log
	p=$(free_port)
	log="$work/refused-$p.log"
	"$SLUICE_BIN" api --port "$p" --redis-url "$url" > "$log" 2>&1 &
	local pid=$!
	wait_for 20 "$name: redis_connect_failed" grep -q "ev=redis_connect_failed" "$log" ||
		{ kill "$pid"; fail "$name: no redis_connect_failed: $(tail -5 "$log")"; }
	grep "ev=redis_connect_failed" "$log" | head -1 | grep -q "$words" ||
		{ kill "$pid"; fail "$name: the line does not say '$words': $(grep redis_connect_failed "$log" | head -1)"; }
	local st; st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/readyz")
	kill -TERM "$pid"; wait "$pid" || fail "$name: the api did not exit 0 on SIGTERM"
	expect_eq "$name: refused, not ready ($(grep -o 'error=.*' "$log" | head -1 | cut -c1-90))" 503 "$st"
}
refused "another CA" "rediss://127.0.0.1:$port?tls_ca=$work/other-ca.pem&tls_cert=$work/client.pem&tls_key=$work/client.key" \
	"certificate"
refused "no client certificate" "rediss://127.0.0.1:$port?tls_ca=$work/ca.pem" "TLS\|closed\|reset"
refused "plain redis:// to the TLS port" "redis://127.0.0.1:$port" "timed out\|closed\|reset\|protocol"

rc=0
"$SLUICE_BIN" api --port 0 --redis-url "rediss://127.0.0.1:$port?tls_ca=$work/nope.pem" > "$work/nofile.log" 2>&1 || rc=$?
expect_eq "a CA file that does not exist: exit 2" 2 "$rc"
grep -q "nope.pem" "$work/nofile.log" || fail "the error does not name the file: $(cat "$work/nofile.log")"
pass "it names the file: $(grep -o 'TLS CA file[^"]*' "$work/nofile.log" | head -1 | cut -c1-100)"

for i in pub api; do
	rc=0; it_role_stop "$sys" "$i" || rc=$?
	expect_eq "$i exits 0 on SIGTERM" 0 "$rc"
done
echo "1108 ok"
