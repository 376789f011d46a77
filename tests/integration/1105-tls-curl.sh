#!/usr/bin/env bash
# 1105-tls-curl: TLS on the listeners, checked with curl against a
# self-signed CA made here (openssl req). The api and the rest-proxy answer
# https:// with the CA verified (and refuse plain http on that port); the
# publisher streams SSE over https; SIGHUP reloads a new certificate (the
# next connection sees its serial) and the role keeps running.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

mkcert() { # serial
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -set_serial "$1" \
		-subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
}
mkcert 4242
tls=(--tls-cert-file "$work/cert.pem" --tls-key-file "$work/key.pem")

start() { # name role args...
	local name=$1 role=$2; shift 2
	local port; port=$(free_port)
	"$SLUICE_BIN" "$role" --port "$port" "${tls[@]}" "$@" > /dev/null 2> "$work/$name.log" &
	pids+=($!)
	eval "${name}_port=$port ${name}_pid=$!"
	wait_for 30 "$name over https" curl -fsS --cacert "$work/cert.pem" -o /dev/null "https://127.0.0.1:$port/healthz" ||
		{ cat "$work/$name.log"; fail "$name did not answer over https"; }
	say "$name answers https:// (CA verified)"
}
start api api
start rp rest-proxy
start pub publisher --redis-url "$SLUICE_REDIS_URL"

# The certificate is checked: without the CA curl refuses it.
if curl -fsS -o /dev/null "https://127.0.0.1:$api_port/healthz" 2>/dev/null; then fail "curl trusted an unknown CA"; fi
# Plain HTTP to a TLS port gets no HTTP answer.
if curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$api_port/healthz" 2>/dev/null; then fail "plain http answered on a TLS port"; fi
say "an unknown CA and plain http are refused"
# (a JSON answer, 200 or 503 whether this stack has the data topic: either
# came through TLS)
curl -sS --cacert "$work/cert.pem" "https://127.0.0.1:$api_port/v1/markets?ids=m-0001" | grep -Eq '"(markets|error)"' ||
	fail "api /v1/markets over https"
curl -fsS --cacert "$work/cert.pem" "https://127.0.0.1:$rp_port/topics" | grep -q '^\[' || fail "rest-proxy /topics over https"
say "api and rest-proxy routes over https"

# SSE over https: a channel record, then the stream's first event.
chan=$(cat /proc/sys/kernel/random/uuid)
prefix=sluice:
redis-cli -u "$SLUICE_REDIS_URL" HSET "${prefix}channel:$chan" created 1 > /dev/null
timeout 10 curl -sN --cacert "$work/cert.pem" "https://127.0.0.1:$pub_port/v1/events/$chan" > "$work/sse" || true
grep -q '"subscribed"' "$work/sse" || { cat "$work/sse"; cat "$work/pub.log"; fail "no subscribed event over SSE/https"; }
say "SSE over https: subscribed"
redis-cli -u "$SLUICE_REDIS_URL" DEL "${prefix}channel:$chan" > /dev/null

# SIGHUP: a new certificate is served to the next connection.
serial() { openssl s_client -connect "127.0.0.1:$1" -CAfile "$work/cert.pem" < /dev/null 2>/dev/null |
	openssl x509 -noout -serial; }
[ "$(serial "$api_port")" = "serial=1092" ] || fail "first serial: $(serial "$api_port")"
mkcert 4343
kill -HUP "$api_pid"
wait_for 10 "the new certificate" bash -c "[ \"\$(openssl s_client -connect 127.0.0.1:$api_port < /dev/null 2>/dev/null | openssl x509 -noout -serial)\" = serial=10F7 ]" ||
	fail "SIGHUP did not load the new certificate"
kill -0 "$api_pid" || fail "the api died on SIGHUP"
grep -q "ev=tls_reloaded" "$work/api.log" || fail "no tls_reloaded line"
say "SIGHUP reloads the certificate; the api keeps running"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a role did not exit 0 on SIGTERM"; done
pids=()
echo "1105 ok"
