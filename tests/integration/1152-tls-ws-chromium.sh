#!/usr/bin/env bash
# 1152-tls-ws-chromium: TLS handshakes from Node's `ws` client and from
# Chromium, next to 1105 (curl). A self-signed CA made here (openssl)
# signs the certificate of 127.0.0.1; every role of a small system (api,
# reducer, publisher, feed) serves TLS with it. The Node part
# (tests/node/web/tls-clients.mjs) checks that:
#  - `ws` without the CA refuses the publisher's certificate; with it
#    (ca option) a wss:// stream says subscribed, then brings the snapshot
#    and updates of the markets the API (https, same CA) subscribed;
#  - Chromium with the CA in its NSS database ($HOME/.pki/nssdb, certutil)
#    loads the dashboard over https, streams over wss:// (and SSE over
#    https) with prices moving; Chromium without the CA refuses the page
#    (net::ERR_CERT_AUTHORITY_INVALID).
# Non-goals: client certificates on the listeners; TLS to Redis is 1108,
# SASL to Kafka 1150 (docs/security.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing (scripts/install.d/web.sh installs it)"
command -v certutil > /dev/null || fail "certutil is missing (scripts/install.d/web.sh installs libnss3-tools)"
[ -f "$SLUICE_STATE/node/web/node_modules/ws/package.json" ] || fail "ws is missing (scripts/install.d/web.sh installs it)"
work=$(mktemp -d)
name=$(unique tlsb)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# ---- a CA and a certificate it signs ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=sluice test CA $name" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-keyout "$work/ca.key" -out "$work/ca.pem" 2> /dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
	-keyout "$work/key.pem" -out "$work/leaf.csr" 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$work/ext"
openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
	-extfile "$work/ext" -out "$work/cert.pem" 2> /dev/null
openssl verify -CAfile "$work/ca.pem" "$work/cert.pem" > /dev/null || fail "the test certificate does not verify"
# Chromium on Linux trusts the roots of the NSS database in $HOME/.pki/nssdb.
mkdir -p "$work/home/.pki/nssdb" "$work/nohome"
certutil -d "sql:$work/home/.pki/nssdb" -N --empty-password
certutil -d "sql:$work/home/.pki/nssdb" -A -t "C,," -n "sluice-test-ca" -i "$work/ca.pem"
pass "a CA, a certificate for 127.0.0.1 it signs, and an NSS database that trusts the CA"

# ---- the roles, each over TLS ----
export SLUICE_DATA_TOPIC=$name-markets SLUICE_COMMAND_TOPIC=$name-commands
export SLUICE_REDIS_PREFIX=$name: SLUICE_REDUCER_GROUP=$name-reducers
it_topic "$SLUICE_DATA_TOPIC" 4
it_topic "$SLUICE_COMMAND_TOPIC" 1
tls=(--tls-cert-file "$work/cert.pem" --tls-key-file "$work/key.pem")
pub_port=$(free_port)
origin=https://127.0.0.1:$pub_port
start() { # name role args...
	local n=$1 role=$2 port; shift 2
	port=$(free_port)
	"$SLUICE_BIN" "$role" --port "$port" "${tls[@]}" --cors-origin "$origin" "$@" > /dev/null 2> "$work/$n.log" &
	pids+=($!)
	eval "${n//-/_}_port=$port"
	wait_for 30 "$n /readyz over https" curl -fsS --cacert "$work/ca.pem" -o /dev/null "https://127.0.0.1:$port/readyz" ||
		{ tail -20 "$work/$n.log"; fail "$n did not become ready over https"; }
}
start api api
start reducer reducer
owned() {
	curl -fsS --cacert "$work/ca.pem" "https://127.0.0.1:$reducer_port/metrics" |
		awk '$1 == "sluice_reducer_partitions_owned" {exit !(int($2) == 4)}'
}
wait_for 60 "the reducer to own the 4 partitions" owned || fail "the reducer did not get its partitions"
start feed feed --markets 5 --rate 50
# The publisher on its chosen port: the page's origin.
"$SLUICE_BIN" publisher --port "$pub_port" "${tls[@]}" --cors-origin "$origin" --api-url "https://127.0.0.1:$api_port" \
	--metrics-urls "api=https://127.0.0.1:$api_port/metrics" --metrics-urls "publisher=$origin/metrics" \
	> /dev/null 2> "$work/publisher.log" &
pids+=($!)
wait_for 30 "publisher /readyz over https" curl -fsS --cacert "$work/ca.pem" -o /dev/null "$origin/readyz" ||
	{ tail -20 "$work/publisher.log"; fail "publisher did not become ready over https"; }
pass "api, reducer, feed and publisher serve https (CA verified by curl)"

CA_FILE=$work/ca.pem API_URL=https://127.0.0.1:$api_port PUB_URL=$origin NSS_HOME=$work/home EMPTY_HOME=$work/nohome \
	timeout 300 node "$IT_ROOT/tests/node/web/tls-clients.mjs" || fail "ws and Chromium over TLS"

for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a role did not exit 0 on SIGTERM (see its log)"; done
pids=()
echo "1152 ok"
