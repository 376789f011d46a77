#!/usr/bin/env bash
# down.sh: `make down`: stop the sluice roles (SIGTERM, then wait up to 20 s,
# then SIGKILL), then the stack of the shape that runs (scripts/topology.sh).
# A stopped (SIGSTOP) process is continued first so it can act on SIGTERM;
# a zombie counts as gone (no `kill -0`: scripts/lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/topology.sh"
run=$SLUICE_RUN
shape=$(current_shape single)
# Every role at once (each drains in parallel), then wait for each.
for f in "$run"/*.pid; do
	[ -f "$f" ] || continue
	if proc_exists "$f"; then p=$(cat "$f"); kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; fi
done
for f in "$run"/*.pid; do
	[ -f "$f" ] || continue
	p=$(cat "$f")
	if proc_exists "$f"; then
		wait_for 20 "$(basename "$f" .pid) to stop" bash -c ". '$here/lib.sh'; ! proc_exists '$f'" \
			|| { say "$(basename "$f" .pid) did not stop in 20s; killing"; kill -9 "$p" 2>/dev/null || true; }
	fi
	rm -f "$f"
done
SLUICE_STACK_DIR=$(stack_dir_of "$shape") "$here/stack.sh" down
rm -f "$run/shape"
