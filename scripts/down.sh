#!/usr/bin/env bash
# down.sh: `make down`: stop the sluice roles (SIGTERM, then wait), then the stack.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
run=$SLUICE_STATE/run
for f in "$run"/*.pid; do
	[ -f "$f" ] || continue
	p=$(cat "$f")
	if kill -0 "$p" 2>/dev/null; then
		kill -TERM "$p" 2>/dev/null || true
		wait_for 20 "$(basename "$f" .pid) to stop" bash -c "! kill -0 $p 2>/dev/null" \
			|| { say "$(basename "$f" .pid) did not stop in 20s; killing"; kill -9 "$p" 2>/dev/null || true; }
	fi
	rm -f "$f"
done
"$here/stack.sh" down
