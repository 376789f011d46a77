# lib.sh: helpers the REST proxy's integration tests share (sourced after
# tests/integration/lib.sh by tests/integration/04NN-restproxy-*.sh).
#
# rp_start runs the ASan build of `sluice rest-proxy` on a free port against
# the test stack and waits for /readyz; rp_stop sends SIGTERM and fails the
# test unless the process exits 0 within a bound with no sanitizer report
# (LeakSanitizer makes a leaking process exit 23). rp_call does one HTTP call
# and leaves the status and body in RP_STATUS and RP_BODY; expect_error checks
# Confluent's {"error_code":N} shape. Every wait is bounded.

RP_LOG_DIR=${RP_LOG_DIR:-$IT_ROOT/.state/test-logs}
mkdir -p "$RP_LOG_DIR"

# rp_start [ARGS...]: start a proxy; sets RP_PID RP_PORT RP_URL RP_LOG.
rp_start() {
	RP_PORT=$(free_port)
	RP_URL=http://127.0.0.1:$RP_PORT
	RP_LOG=$RP_LOG_DIR/restproxy-$$-$RP_PORT.log
	"$SLUICE_BIN" rest-proxy --port "$RP_PORT" --listen-host 127.0.0.1 "$@" > "$RP_LOG" 2>&1 &
	RP_PID=$!
	if ! wait_for 60 "rest-proxy /readyz" curl -fsS -o /dev/null "$RP_URL/readyz"; then
		tail -20 "$RP_LOG" >&2
		fail "rest-proxy did not become ready"
	fi
}

# rp_stop: SIGTERM, bounded wait, exit status 0 and a clean sanitizer log.
rp_stop() {
	[ -n "${RP_PID:-}" ] || return 0
	kill -TERM "$RP_PID" 2>/dev/null || true
	local deadline=$(( $(date +%s) + 40 ))
	while kill -0 "$RP_PID" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			kill -9 "$RP_PID" 2>/dev/null || true
			fail "rest-proxy did not exit within 40 s of SIGTERM"
		fi
		sleep 0.1
	done
	local rc=0
	wait "$RP_PID" || rc=$?
	RP_PID=
	if [ "$rc" != 0 ] || grep -qE "ERROR: (LeakSanitizer|AddressSanitizer)|runtime error" "$RP_LOG"; then
		tail -40 "$RP_LOG" >&2
		fail "rest-proxy exit status $rc after SIGTERM (or a sanitizer report)"
	fi
	grep -q "ev=shutdown_done" "$RP_LOG" || fail "no shutdown_done log line"
	pass "rest-proxy stopped cleanly on SIGTERM (exit 0, no leaks)"
}

# Kill a proxy left running when a test fails half way.
rp_cleanup() { if [ -n "${RP_PID:-}" ]; then kill -9 "$RP_PID" 2>/dev/null || true; fi; }

# rp_call METHOD PATH [BODY [CONTENT-TYPE [ACCEPT]]]: sets RP_STATUS, RP_BODY, RP_CTYPE.
rp_call() {
	local method=$1 path=$2 body=${3-} ctype=${4-application/vnd.kafka.v2+json} accept=${5-}
	local args=(-sS -X "$method" --max-time 30 -o /tmp/rp-body.$$ -w '%{http_code} %{content_type}')
	[ -n "$accept" ] && args+=(-H "Accept: $accept")
	if [ -n "$body" ]; then args+=(-H "Content-Type: $ctype" --data-binary "$body"); fi
	local out
	out=$(curl "${args[@]}" "$RP_URL$path") || fail "curl $method $path failed"
	RP_STATUS=${out%% *}
	RP_CTYPE=${out#* }
	RP_BODY=$(cat /tmp/rp-body.$$)
	rm -f /tmp/rp-body.$$
}

# jget FILTER: jq over RP_BODY, compact output.
jget() { printf '%s' "$RP_BODY" | jq -c "$1"; }

# expect_error WHAT STATUS ERROR_CODE: the last call failed this exact way.
expect_error() {
	local what=$1 status=$2 code=$3
	[ "$RP_STATUS" = "$status" ] || fail "$what: expected HTTP $status, got $RP_STATUS: $RP_BODY"
	local got
	got=$(printf '%s' "$RP_BODY" | jq -r '.error_code' 2>/dev/null) || fail "$what: body is not JSON: $RP_BODY"
	[ "$got" = "$code" ] || fail "$what: expected error_code $code, got $got: $RP_BODY"
	printf '%s' "$RP_BODY" | jq -e '.message | type == "string" and length > 0' >/dev/null \
		|| fail "$what: no message: $RP_BODY"
	pass "$what -> $status $code"
}

# expect_status WHAT STATUS: the last call answered this status.
expect_status() {
	[ "$RP_STATUS" = "$2" ] || fail "$1: expected HTTP $2, got $RP_STATUS: $RP_BODY"
	pass "$1"
}

# rp_topic NAME PARTITIONS: create a topic with Kafka's own tool.
rp_topic() {
	timeout 60 java -Dlog4j.configuration="file:$KAFKA_LIBS/log4j.properties" -cp "$KAFKA_LIBS/*" \
		org.apache.kafka.tools.TopicCommand --bootstrap-server "$SLUICE_KAFKA_BROKERS" --create \
		--topic "$1" --partitions "$2" --replication-factor 1 >/dev/null 2>&1 \
		|| fail "could not create topic $1"
}

b64() { printf '%s' "$1" | base64 -w0; }
