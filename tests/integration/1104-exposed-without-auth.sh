#!/usr/bin/env bash
# 1104-exposed-without-auth: safe by default. The api and the rest-proxy,
# asked to listen beyond loopback with no authentication configured,
# refuse to start: exit 2 with one line saying why and what to do, and no
# port is opened. On 127.0.0.1 (the default) they start; with --insecure
# they start exposed; with authentication they start exposed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

refuses() { # role args...
	local role=$1; shift
	local port; port=$(free_port)
	set +e
	timeout 20 "$SLUICE_BIN" "$role" --port "$port" --listen-host 0.0.0.0 "$@" > "$work/out" 2> "$work/err"
	local rc=$?
	set -e
	[ "$rc" = 2 ] || { cat "$work/err"; fail "$role on 0.0.0.0 without auth exited $rc, not 2"; }
	grep -q "refusing to listen on 0.0.0.0" "$work/err" || { cat "$work/err"; fail "$role: no reason given"; }
	grep -q -- "--insecure" "$work/err" || fail "$role: the refusal does not say how to override"
	[ "$(wc -l < "$work/err")" = 1 ] || { cat "$work/err"; fail "$role: the refusal is not one line"; }
	say "$role on 0.0.0.0 without authentication refuses: $(cut -c1-100 < "$work/err")..."
}
starts() { # what role args...
	local what=$1 role=$2; shift 2
	local port; port=$(free_port)
	"$SLUICE_BIN" "$role" --port "$port" "$@" > /dev/null 2> "$work/$role-$port.log" &
	pids+=($!)
	wait_for 20 "$role $what /healthz" curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" ||
		{ cat "$work/$role-$port.log"; fail "$role $what did not start"; }
	say "$role $what starts"
}

refuses api
refuses rest-proxy
starts "on 127.0.0.1 (default)" api
starts "on 127.0.0.1 (default)" rest-proxy
starts "exposed with --insecure" api --listen-host 0.0.0.0 --insecure
starts "exposed with --insecure" rest-proxy --listen-host 0.0.0.0 --insecure
printf 'u: p\n' > "$work/creds"
printf '%s\n' "0123456789abcdef0123456789abcdef-1104" > "$work/secret"
starts "exposed with tokens" api --listen-host 0.0.0.0 --jwt-secret-file "$work/secret"
starts "exposed with an API key" api --listen-host 0.0.0.0 --api-key k
starts "exposed with credentials" rest-proxy --listen-host 0.0.0.0 --credentials-file "$work/creds"
# A bad secret is a configuration error too, named, exit 2.
printf 'short\n' > "$work/short"
set +e
"$SLUICE_BIN" api --port "$(free_port)" --jwt-secret-file "$work/short" 2> "$work/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "32 bytes" "$work/err" || { cat "$work/err"; fail "a short secret is not refused (rc $rc)"; }
say "a short HS256 secret: exit 2, named"
echo "1104 ok"
