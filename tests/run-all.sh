#!/usr/bin/env bash
# run-all.sh: runs every test suite and prints one summary line.
#
#   tests/run-all.sh [--unit-only | --integration-only] [PATTERN]
#
# Unit tests: every build-asan/tests/test_* (cmocka, under ASan + UBSan);
# each cmocka test case counts. Fuzz replay: every build-fuzz/fuzz_X (clang,
# libFuzzer, ASan + UBSan) runs once over each input in tests/corpus/X/,
# with a 1 MiB stack; each target counts once (`make test` builds them and
# sets SLUICE_FUZZ_REQUIRED=1, so a missing one fails there). Integration tests: every
# tests/integration/NNNN-*.{sh,py,mjs}, run against one real Kafka + Redis
# that this script starts on free ports (scripts/stack.sh) and stops at the
# end; each script counts once (exit 0 pass, else fail: a test that exits 77
# to skip fails too, since nothing may skip for want of a dependency). Tests that
# need three brokers share one (it_cluster_up in tests/integration/lib.sh),
# started by the first of them and stopped here at the end.
# The last line is "N passed, N failed, N skipped"; the exit status is 1 if
# anything failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=all; pattern=""
for a in "$@"; do
	case $a in
	--unit-only) mode=unit ;;
	--integration-only) mode=integration ;;
	*) pattern=$a ;;
	esac
done

passed=0 failed=0 skipped=0
failures=()
logdir=$root/.state/test-logs
mkdir -p "$logdir"

if [ "$mode" != integration ]; then
	for t in build-asan/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		[ -n "$pattern" ] && [[ $name != *$pattern* ]] && continue
		out=$(ASAN_OPTIONS=detect_leaks=1 timeout 300 "$t" 2>&1); rc=$?
		p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
		f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crash, leak or timeout
		passed=$((passed + p)); failed=$((failed + f))
		if [ "$f" -gt 0 ]; then
			failures+=("unit:$name"); printf '%s\n' "$out" > "$logdir/$name.log"
			printf 'FAIL unit %s (%d passed, %d failed; log %s)\n' "$name" "$p" "$f" "$logdir/$name.log"
			printf '%s\n' "$out" | tail -30
		else
			printf 'ok   unit %s (%d)\n' "$name" "$p"
		fi
	done
fi

if [ "$mode" != integration ]; then
	for t in tests/fuzz/fuzz_*.c; do
		name=$(basename "$t" .c); target=${name#fuzz_}; bin=build-fuzz/$name
		[ -n "$pattern" ] && [[ $name != *$pattern* ]] && continue
		if [ ! -x "$bin" ]; then
			[ "${SLUICE_FUZZ_REQUIRED:-0}" = 1 ] || continue
			failed=$((failed + 1)); failures+=("fuzz:$name")
			printf 'FAIL fuzz %s (not built: make fuzzers)\n' "$name"; continue
		fi
		inputs=(tests/corpus/"$target"/*)
		out=$( (ulimit -s 1024; timeout 300 "$bin" -runs=1 "${inputs[@]}") 2>&1); rc=$?
		if [ "$rc" -eq 0 ]; then
			passed=$((passed + 1)); printf 'ok   fuzz %s (%d inputs replayed)\n' "$name" "${#inputs[@]}"
		else
			failed=$((failed + 1)); failures+=("fuzz:$name"); printf '%s\n' "$out" > "$logdir/$name.log"
			printf 'FAIL fuzz %s (exit %d; log %s)\n' "$name" "$rc" "$logdir/$name.log"
			printf '%s\n' "$out" | grep -E 'ERROR|SUMMARY|Running:' | tail -10
		fi
	done
fi

if [ "$mode" != unit ]; then
	. tests/integration/lib.sh
	tests=()
	for t in tests/integration/[0-9][0-9][0-9][0-9]-*; do
		[ -f "$t" ] || continue
		[ -n "$pattern" ] && [[ $(basename "$t") != *$pattern* ]] && continue
		tests+=("$t")
	done
	if [ ${#tests[@]} -gt 0 ]; then
		it_stack_up shared || { echo "FAIL integration: could not start Kafka + Redis"; failed=$((failed + 1)); failures+=("stack"); }
		if [ -z "${SLUICE_KAFKA_BROKERS:-}" ]; then tests=(); fi
		for t in "${tests[@]}"; do
			name=$(basename "$t")
			case $t in
			*.py) runner=(python3 "$t") ;;
			*.mjs|*.js) runner=(node "$t") ;;
			*) runner=(bash "$t") ;;
			esac
			start=$(date +%s)
			timeout --kill-after=10 "${IT_TIMEOUT:-600}" "${runner[@]}" > "$logdir/$name.log" 2>&1; rc=$?
			secs=$(( $(date +%s) - start ))
			case $rc in
			0) passed=$((passed + 1)); printf 'ok   %s (%ss)\n' "$name" "$secs" ;;
			77) # Nothing may skip (STYLE section 9): a test that cannot run fails.
			   failed=$((failed + 1)); failures+=("$name")
			   printf 'FAIL %s (asked to skip: %s)\n' "$name" "$(tail -1 "$logdir/$name.log")" ;;
			*) failed=$((failed + 1)); failures+=("$name")
			   printf 'FAIL %s (exit %d, %ss; log %s)\n' "$name" "$rc" "$secs" "$logdir/$name.log"
			   tail -25 "$logdir/$name.log" | sed 's/^/    /' ;;
			esac
		done
		it_stack_down shared
		it_stack_down cluster # started by the tests that need three brokers
	fi
fi

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
