# lib.sh: helpers for integration tests (sourced by run-all.sh and by tests).
#
# A test is a script tests/integration/NNNN-name.{sh,py,mjs} that exits 0 on
# success, 77 to skip (with a reason on its last line), anything else to
# fail. run-all.sh starts one shared stack and exports SLUICE_KAFKA_BROKERS,
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

# it_stack_up NAME [BROKERS]: start a stack in .state/it-NAME on free ports and
# export its settings. Reuses a running one of the same name.
it_stack_up() {
	local name=$1 brokers=${2:-1}
	local d="$SLUICE_STATE/it-$name"
	if [ ! -f "$d/layout" ]; then
		rm -rf "$d"; mkdir -p "$d"
		local kp rp
		# Brokers need P..P+2 free: pick a base and check the next ports too.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kp=$(free_port)
			if [ "$brokers" = 1 ] || { ! (exec 3<>/dev/tcp/127.0.0.1/$((kp+1))) 2>/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/$((kp+2))) 2>/dev/null; }; then break; fi
		done
		rp=$(free_port)
		SLUICE_STACK_DIR=$d "$IT_ROOT/scripts/stack.sh" up --brokers "$brokers" --kafka-port "$kp" --redis-port "$rp" || return 1
	else
		SLUICE_STACK_DIR=$d "$IT_ROOT/scripts/stack.sh" up || return 1
	fi
	set -a; . "$d/stack.env"; set +a
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
