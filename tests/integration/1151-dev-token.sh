#!/usr/bin/env bash
# 1151-dev-token: `make up` runs the API with bearer tokens and stays
# frictionless (scripts/up.sh, scripts/dev-auth.sh, web/dashboard.mjs,
# `sluice watch --token`). Against the test stack, with the roles on free
# ports: up.sh makes a secret (0600) and prints a development token that
# `sluice token --verify` accepts (sub dev, every market), the dashboard
# link with #token=<it> and a watch command; the API refuses a request
# without it (401, WWW-Authenticate: Bearer); `sluice watch` without a
# token fails naming the 401, with --token or SLUICE_API_TOKEN it streams
# prices, and a token that could break the header is refused (exit 2).
# The publisher requires the channel's stream token (401 without it), which
# the API returns with the channel and watch and the page pass on.
# In Chromium (tests/node/web/dev-token-browser.mjs) the printed link goes
# live and sends the token; without it the page says how to get one. A
# second up.sh leaves the roles alone and prints a fresh link. The roles
# are stopped by their pid files (the stack is shared; no down.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing (scripts/install.d/web.sh installs it)"
export SLUICE_RUN="$SLUICE_STATE/sys-devtoken-run"
export SLUICE_UP_STACK_DIR=${SLUICE_STACK_DIR:?no stack}
stop_roles() {
	local f rc=0
	for f in "$SLUICE_RUN"/*.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
	for f in "$SLUICE_RUN"/*.pid; do
		[ -f "$f" ] || continue
		wait_for 30 "$(basename "$f" .pid) to stop" bash -c ". '$IT_ROOT/scripts/lib.sh'; ! proc_exists '$f'" || rc=1
		rm -f "$f"
	done
	return $rc
}
cleanup() { stop_roles || true; rm -rf "$SLUICE_RUN"; }
trap cleanup EXIT
rm -rf "$SLUICE_RUN"
for v in API PUBLISHER RESTPROXY REDUCER1 REDUCER2 FEED; do export "SLUICE_${v}_PORT=$(free_port)"; done
export SLUICE_DATA_TOPIC=$(unique devtok-markets) SLUICE_COMMAND_TOPIC=$(unique devtok-commands)
export SLUICE_REDIS_PREFIX=$(unique devtok): SLUICE_REDUCER_GROUP=$(unique devtok-reducers)
export SLUICE_FEED_MARKETS=5 SLUICE_FEED_RATE=20
unset SLUICE_JWT_SECRET_FILE SLUICE_DEV_AUTH
log=$SLUICE_STATE/it-devtoken.up.log
timeout 240 "$IT_ROOT/scripts/up.sh" > "$log" 2>&1 || { cat "$log"; fail "up"; }
api=http://127.0.0.1:$SLUICE_API_PORT

# ---- what up printed and made ----
[ -s "$SLUICE_RUN/dev-token" ] || fail "no $SLUICE_RUN/dev-token: $(cat "$log")"
token=$(cat "$SLUICE_RUN/dev-token")
expect_eq "the secret is private" 600 "$(stat -c %a "$SLUICE_RUN/jwt-secret")"
expect_eq "the token file is private" 600 "$(stat -c %a "$SLUICE_RUN/dev-token")"
claims=$("$SLUICE_RELEASE_BIN" token --jwt-secret-file "$SLUICE_RUN/jwt-secret" --verify "$token") ||
	fail "sluice token --verify refused the development token"
printf '%s' "$claims" | grep -q '"sub": *"dev"' && printf '%s' "$claims" | grep -q '"markets": *\[ *"\*" *\]' ||
	fail "development token claims: $claims"
pass "a development token: sub dev, every market ($(printf '%s' "$claims" | tr -d '\n' | head -c 100))"
dash=$(grep -o "http://127.0.0.1:$SLUICE_PUBLISHER_PORT/#token=[A-Za-z0-9._-]*" "$log" | head -1)
expect_eq "up prints the dashboard link with the token" "http://127.0.0.1:$SLUICE_PUBLISHER_PORT/#token=$token" "$dash"
grep -q "SLUICE_API_TOKEN=.*build/sluice watch" "$log" || fail "no watch command with the token: $(cat "$log")"
grep -q "API token .*dev-token" "$log" || fail "no API token line: $(cat "$log")"
pass "up prints the dashboard link, the token file and a watch command"

# ---- the API wants it ----
code=$(curl -sS -o /dev/null -D "$SLUICE_RUN/h" -w '%{http_code}' -X POST "$api/v1/channels" -H 'Content-Type: application/json' --data '{}')
expect_eq "POST /v1/channels without a token" 401 "$code"
grep -qi '^www-authenticate: Bearer' "$SLUICE_RUN/h" || fail "no WWW-Authenticate: Bearer"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$api/v1/channels" -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' --data '{}')
expect_eq "POST /v1/channels with the development token" 201 "$code"

# ---- sluice watch ----
w=(timeout 60 "$SLUICE_BIN" watch --api-url "$api" --publisher-url "http://127.0.0.1:$SLUICE_PUBLISHER_PORT")
rc=0; "${w[@]}" m-0001 > /dev/null 2> "$SLUICE_RUN/w.err" || rc=$?
expect_eq "watch without a token: exit 1" 1 "$rc"
grep -q "401" "$SLUICE_RUN/w.err" || fail "watch without a token does not name the 401: $(cat "$SLUICE_RUN/w.err")"
"${w[@]}" --token "$token" --max-updates 3 m-0001 m-0002 > "$SLUICE_RUN/w.out" 2> "$SLUICE_RUN/w.err" ||
	fail "watch --token: $(cat "$SLUICE_RUN/w.err")"
grep -q '^update ' "$SLUICE_RUN/w.out" || fail "watch --token printed no update: $(cat "$SLUICE_RUN/w.out")"
SLUICE_API_TOKEN=$token "${w[@]}" --max-updates 3 m-0003 > "$SLUICE_RUN/w.out" 2> "$SLUICE_RUN/w.err" ||
	fail "watch with SLUICE_API_TOKEN: $(cat "$SLUICE_RUN/w.err")"
grep -Eq '^update +m-0003' "$SLUICE_RUN/w.out" || fail "SLUICE_API_TOKEN: no update: $(cat "$SLUICE_RUN/w.out")"
rc=0; "${w[@]}" --token "$token"$'\r\nX-Evil: 1' m-0001 > /dev/null 2> "$SLUICE_RUN/w.err" || rc=$?
expect_eq "watch with a token that would break the header: exit 2" 2 "$rc"
grep -q "bad --token" "$SLUICE_RUN/w.err" || fail "unclear: $(cat "$SLUICE_RUN/w.err")"
pass "watch: 401 without a token; --token and SLUICE_API_TOKEN stream; a bad token is refused"

# The publisher wants the channel's stream token (make up requires it);
# watch above passed on the one the API returned with the channel.
pub=http://127.0.0.1:$SLUICE_PUBLISHER_PORT
ch=$(curl -fsS -X POST "$api/v1/channels" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
	--data '{"markets":["m-0001"]}')
id=$(printf '%s' "$ch" | python3 -c 'import json,sys; print(json.load(sys.stdin)["channel"])')
st=$(printf '%s' "$ch" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stream_token"])')
code=$(curl -sS -o /dev/null -m 5 -w '%{http_code}' "$pub/v1/events/$id")
expect_eq "a stream without its token" 401 "$code"
timeout 5 curl -sN "$pub/v1/events/$id?token=$st" > "$SLUICE_RUN/sse" || true
grep -q '"subscribed"' "$SLUICE_RUN/sse" || fail "no subscribed event with the stream token: $(cat "$SLUICE_RUN/sse")"
curl -fsS -o /dev/null -X DELETE "$api/v1/channels/$id" -H "Authorization: Bearer $token"
pass "the publisher wants the channel's stream token, which the API returns with the channel"

# ---- the dashboard in Chromium ----
DASH_URL=$dash API_URL=$api timeout 240 node "$IT_ROOT/tests/node/web/dev-token-browser.mjs" ||
	fail "the dashboard with the development token"

# ---- a second up: nothing restarted, a fresh link ----
timeout 120 "$IT_ROOT/scripts/up.sh" > "$log" 2>&1 || { cat "$log"; fail "second up"; }
grep -q "already up" "$log" || fail "second up restarted something: $(cat "$log")"
grep -q "#token=$(cat "$SLUICE_RUN/dev-token")" "$log" || fail "second up printed no fresh link: $(cat "$log")"
pass "a second up leaves the roles alone and prints a fresh link"
stop_roles || fail "a role did not stop"
echo "1151 ok"
