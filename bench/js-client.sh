#!/usr/bin/env bash
# js-client.sh: the JavaScript client's per-core capacity (`bench/run-all.sh
# js-client`): messages/s that web/sluice-client.mjs applies under Node.js,
# next to the bare JSON.parse of the same 200-market update stream. The
# measuring is in bench/js-client.mjs; this wrapper prints its table and
# appends it to bench/results/js-client.md with the date and the versions.
# Knobs (env): BENCH_MESSAGES (200000), BENCH_ROUNDS (5). Takes ~10 s.
# Never fails on a number; exits non-zero only when it could not run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v node >/dev/null || { echo "js-client: node is missing"; exit 1; }
table=$(node bench/js-client.mjs) || { echo "js-client: the benchmark did not run"; exit 1; }
out=bench/results/js-client.md
{
	echo
	echo "## $(date -u +%Y-%m-%dT%H:%MZ) — node $(node --version), $(nproc) cores, ${BENCH_MESSAGES:-200000} messages"
	echo
	echo "Command: \`bench/run-all.sh js-client\`"
	echo
	echo "$table"
} | tee -a "$out"
