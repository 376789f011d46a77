#!/usr/bin/env bash
# status.sh: `make status`: what of the local system runs, and where.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
run=$SLUICE_STATE/run
"$here/stack.sh" status
for f in "$run"/*.pid; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .pid)
	if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$name: running (pid $(cat "$f"))"; else echo "$name: stopped"; fi
done
