#!/usr/bin/env bash
# run-all.sh: `make bench`: every benchmark, one after another, each
# bench/<name>.sh printing its own table and appending it to
# bench/results/<name>.md. Run one alone: bench/run-all.sh <name>.
# Benchmarks are not tests: they measure (medians of several runs, ratios
# side by side in one run) and never fail on a number.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
rc=0
for b in bench/*.sh; do
	name=$(basename "$b" .sh)
	[ "$name" = run-all ] && continue
	[ "$name" = lib ] && continue
	[[ "$name" = install-* ]] && continue # helpers, not benchmarks
	[ $# -gt 0 ] && [[ " $* " != *" $name "* ]] && continue
	echo "=== bench $name"
	bash "$b" || { echo "bench $name failed"; rc=1; }
done
exit $rc
