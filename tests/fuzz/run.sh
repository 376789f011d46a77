#!/usr/bin/env bash
# run.sh: `make fuzz`: run every libFuzzer target (build-fuzz/fuzz_*) for
# SECONDS each (default 60), or only the TARGETS named, and print how many
# inputs each ran. tests/corpus/<target>/ holds the seeds (kept in git);
# what a run discovers goes to .state/fuzz/<target>/ (not in git); a crash
# is written to tests/corpus/<target>/crash-<sha1>, where `make test`
# replays it (tests/run-all.sh) until it is fixed: add it to git with the fix.
# The targets run with a 1 MiB stack, so deep recursion shows as a crash too.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#   FUZZ_RUNS=10000000 tests/fuzz/run.sh 0 [TARGET...]   # a number of inputs instead
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bindir=${FUZZ_BIN_DIR:-build-fuzz}   # another copy lets a long run go on while you rebuild
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for b in "$bindir"/fuzz_*; do targets+=("${b#"$bindir"/fuzz_}"); done
fi
ulimit -s 1024
rc=0
printf '%-10s %12s %10s %8s %8s %s\n' target executions exec/s seconds corpus result
for t in "${targets[@]}"; do
	bin=$bindir/fuzz_$t
	[ -x "$bin" ] || { echo "fuzz: $bin missing (make fuzzers)" >&2; rc=1; continue; }
	work=.state/fuzz/$t
	mkdir -p "$work" "tests/corpus/$t"
	log=$work/last.log
	limit=(-max_total_time="$secs")
	[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
	start=$SECONDS
	"$bin" "${limit[@]}" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="tests/corpus/$t/" "$work" "tests/corpus/$t" > "$log" 2>&1
	r=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	size=$(find "$work" -type f | wc -l)
	if [ $r -eq 0 ]; then res=ok; else res="CRASH (log $log)"; rc=1; fi
	printf '%-10s %12s %10s %8s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$((SECONDS - start))" "$size" "$res"
done
exit $rc
