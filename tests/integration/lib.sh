# lib.sh: helpers for integration tests (sourced by run-all.sh and by tests).
#
# A test is a script tests/integration/NNNN-name.{sh,py,mjs} that exits 0 on
# success, anything else to fail (77, the usual "skip", fails too: a
# missing dependency must fail the run). run-all.sh starts one shared stack and exports SLUICE_KAFKA_BROKERS,
# SLUICE_REDIS_URL, SLUICE_BIN (the ASan build, so integration tests run
# under the sanitizers too) and SLUICE_RELEASE_BIN. A test can be run alone:
# `tests/integration/lib.sh` notices a missing stack and starts one.
# Every wait here has a timeout; nothing sleeps and hopes.

IT_ROOT=${IT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$IT_ROOT/scripts/lib.sh"
export SLUICE_BIN=${SLUICE_BIN:-$IT_ROOT/build-asan/sluice}
export SLUICE_RELEASE_BIN=${SLUICE_RELEASE_BIN:-$IT_ROOT/build/sluice}
export KAFKA_LIBS
# LeakSanitizer must fail a test that leaks; librdkafka's own threads are fine.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# it_stack_up NAME [BROKERS [ha|sasl]]: start a stack in .state/it-NAME on free
# ports and export its settings (with "ha": a Redis replica and three
# Sentinels, and SLUICE_REDIS_SENTINELS etc.; with "sasl": a SASL/PLAIN
# listener too, SLUICE_KAFKA_SASL_BROKERS, users in .state/it-NAME/sasl.env). Reuses a running one of the
# same name, starting again whatever part of it died.
it_stack_up() {
	local name=$1 brokers=${2:-1} ha=()
	[ "${3:-}" = ha ] && ha=(--redis-ha)
	[ "${3:-}" = sasl ] && ha=(--sasl)
	local d="$SLUICE_STATE/it-$name"
	if [ ! -f "$d/layout" ]; then
		rm -rf "$d"; mkdir -p "$d"
		local kp rp
		# The other brokers' ports, the replica's and the Sentinels' are
		# chosen by stack.sh (free ones: these bases are ephemeral).
		kp=$(free_port)
		rp=$(free_port)
		SLUICE_STACK_DIR=$d "$IT_ROOT/scripts/stack.sh" up --brokers "$brokers" "${ha[@]}" --kafka-port "$kp" --redis-port "$rp" || return 1
	else
		SLUICE_STACK_DIR=$d "$IT_ROOT/scripts/stack.sh" up || return 1
	fi
	set -a; . "$d/stack.env"; set +a
}

# it_cluster_up: the suite's one three-broker stack with a Redis replica and
# three Sentinels (.state/it-cluster), started once and reused by every
# test that needs it (run-all.sh stops it at the end); a part a test left
# dead is started again. Exports its settings like it_stack_up.
it_cluster_up() {
	# Three JVMs on a loaded shared machine sometimes miss the start-up
	# bound, or a port picked free is taken before it is bound: up to two
	# retries from scratch, on other ports.
	local try
	for try in 1 2; do
		it_stack_up cluster 3 ha && return 0
		say "three-broker stack did not start (attempt $try); retrying from scratch"
		it_stack_down cluster
	done
	it_stack_up cluster 3 ha
}

it_stack_down() {
	local d="$SLUICE_STATE/it-$1"
	SLUICE_STACK_DIR=$d "$IT_ROOT/scripts/stack.sh" down >/dev/null 2>&1
	rm -rf "$d"
}

# Ensure a stack when a test runs alone.
it_require_stack() {
	if [ -z "${SLUICE_KAFKA_BROKERS:-}" ]; then it_stack_up solo || exit 1; fi
}

# unique NAME: a name no other test run uses (topics, groups, channels).
unique() { printf '%s-%s-%s' "$1" "$$" "$RANDOM"; }

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
pass() { printf 'ok: %s\n' "$*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"; pass "$1"; }

# expect_exit WHAT CODE CMD...: run CMD, check its exit status.
expect_exit() {
	local what=$1 code=$2; shift 2
	local rc=0; "$@" || rc=$?
	[ "$rc" = "$code" ] || fail "$what: expected exit $code, got $rc"
	pass "$what"
}

# wait_http URL [SECONDS]: until URL answers 200.
wait_http() { wait_for "${2:-20}" "$1" curl -fsS -o /dev/null "$1"; }

# ---- the whole system on free ports (pipeline engineer; used by others) ----
# it_topic NAME PARTITIONS: create a topic unless it exists, replicated on
# every broker of the stack (min.insync.replicas=2 with three).
it_topic() {
	local n; n=$(echo "$SLUICE_KAFKA_BROKERS" | tr ',' '\n' | wc -l)
	local args=(--replication-factor "$n")
	[ "$n" -gt 1 ] && args+=(--config min.insync.replicas=2)
	timeout 60 "$SLUICE_RELEASE_BIN" topics --create --if-not-exists --topic "$1" --partitions "$2" \
		"${args[@]}" >/dev/null
}

# it_role_start SYS INSTANCE ROLE ARGS...: start `sluice ROLE --port P ARGS...`
# (the ASan binary) in the background with its log in $IT_SYS_DIR, wait for
# its /readyz (30 s), export the URL as IT_URL_<INSTANCE> (dashes become
# underscores) and print nothing. Fails with the log's tail.
it_role_start() {
	local sys=$1 inst=$2 role=$3; shift 3
	local d="$SLUICE_STATE/sys-$sys" port
	mkdir -p "$d"
	port=$(free_port)
	rm -f "$d/$inst.rc" "$d/$inst.pid"
	# A small wrapper records the exit status, so a later shell can read it.
	setsid bash -c '"$@" > "$0.log" 2>&1 < /dev/null & echo $! > "$0.pid"; wait $!; echo $? > "$0.rc"' \
		"$d/$inst" "$SLUICE_BIN" "$role" --port "$port" "$@" < /dev/null > /dev/null 2>&1 &
	wait_for 10 "$inst to start" test -s "$d/$inst.pid" || return 1
	echo "$port" > "$d/$inst.port"
	if ! wait_for 30 "$inst /readyz" curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; then
		tail -20 "$d/$inst.log" >&2
		return 1
	fi
	local var="IT_URL_${inst//-/_}"
	export "$var=http://127.0.0.1:$port"
}

# it_role_stop SYS INSTANCE [SIGNAL]: send SIGTERM (or SIGNAL), wait up to
# 30 s, return the role's exit status (ASan leaks exit 23; KILL gives 137).
it_role_stop() {
	local d="$SLUICE_STATE/sys-$1" inst=$2 sig=${3:-TERM} pid rc=0
	[ -f "$d/$inst.pid" ] || return 0
	pid=$(cat "$d/$inst.pid"); rm -f "$d/$inst.pid"
	kill -"$sig" "$pid" 2>/dev/null || return 0
	if ! wait_for 30 "$inst to stop" test -s "$d/$inst.rc"; then
		kill -KILL "$pid" 2>/dev/null; say "$inst did not stop in 30 s"; return 124
	fi
	rc=$(cat "$d/$inst.rc")
	[ "$sig" = KILL ] && return 0
	if [ "$rc" != 0 ]; then say "$inst exited $rc"; tail -15 "$d/$inst.log" >&2; fi
	return "$rc"
}

# it_system_up NAME [REDUCERS [FEED_ARGS...]]: against the current stack, with
# topics NAME-markets (12 partitions) and NAME-commands, Redis prefix NAME:
# and group NAME-reducers (exported as SLUICE_DATA_TOPIC, SLUICE_COMMAND_TOPIC,
# SLUICE_REDIS_PREFIX, SLUICE_REDUCER_GROUP, so every role started after
# reads them), start the api, REDUCERS reducers (default 2), the publisher
# (once it is built) and, when FEED_ARGS are given, a feed with them. Exports
# SLUICE_API_URL, SLUICE_PUBLISHER_URL (empty without a publisher),
# SLUICE_REDUCER_URLS (space-separated ops URLs), SLUICE_FEED_URL.
it_system_up() {
	local name=$1 reducers=${2:-2}; shift; [ $# -gt 0 ] && shift
	export SLUICE_DATA_TOPIC=$name-markets SLUICE_COMMAND_TOPIC=$name-commands
	export SLUICE_REDIS_PREFIX=$name: SLUICE_REDUCER_GROUP=$name-reducers
	it_topic "$SLUICE_DATA_TOPIC" "${IT_PARTITIONS:-12}" || return 1
	it_topic "$SLUICE_COMMAND_TOPIC" 1 || return 1
	it_role_start "$name" api api || return 1
	export SLUICE_API_URL=$IT_URL_api
	SLUICE_REDUCER_URLS=""
	local i
	for i in $(seq 1 "$reducers"); do
		it_role_start "$name" "reducer-$i" reducer || return 1
		local v="IT_URL_reducer_$i"
		SLUICE_REDUCER_URLS="$SLUICE_REDUCER_URLS ${!v}"
	done
	export SLUICE_REDUCER_URLS=${SLUICE_REDUCER_URLS# }
	if [ "$reducers" -gt 0 ]; then
		wait_for 60 "the reducers to own every partition" it_reducers_settled "${IT_PARTITIONS:-12}" || return 1
	fi
	it_role_start "$name" publisher publisher --loops 2 --api-url "$SLUICE_API_URL" || return 1
	export SLUICE_PUBLISHER_URL=$IT_URL_publisher
	export SLUICE_FEED_URL=""
	if [ $# -gt 0 ]; then
		it_role_start "$name" feed feed "$@" || return 1
		export SLUICE_FEED_URL=$IT_URL_feed
	fi
}

# it_reducers_settled N: the reducers of SLUICE_REDUCER_URLS own N partitions
# between them and each owns at least one (their consumer group settled).
it_reducers_settled() {
	local u sum=0 v
	for u in $SLUICE_REDUCER_URLS; do
		v=$(curl -fsS "$u/metrics" 2>/dev/null | awk '$1 == "sluice_reducer_partitions_owned" {print int($2)}')
		[ "${v:-0}" -gt 0 ] || return 1
		sum=$((sum + v))
	done
	[ "$sum" = "$1" ]
}

# it_system_down NAME: SIGTERM every role of the system; fails when one did
# not exit 0 (a leak under ASan, an unclean shutdown). The logs in
# .state/sys-NAME are kept only when something failed.
it_system_down() {
	local d="$SLUICE_STATE/sys-$1" rc=0 f
	[ -d "$d" ] || return 0
	for f in "$d"/*.pid; do
		[ -f "$f" ] || continue
		it_role_stop "$1" "$(basename "$f" .pid)" || rc=1
	done
	[ "$rc" = 0 ] && [ -z "${IT_KEEP_LOGS:-}" ] && rm -rf "$d"
	return "$rc"
}

# it_redis_cli ARGS...: redis-cli against the stack's Redis.
it_redis_cli() {
	local hp=${SLUICE_REDIS_URL#redis://}; hp=${hp%%/*}
	redis-cli -h "${hp%%:*}" -p "${hp##*:}" "$@"
}
