#!/usr/bin/env bash
# chaos.sh: `make chaos`: the full chaos run (tests/chaos/chaos.py) on a
# stack of its own: three brokers, a Redis primary + replica + three
# Sentinels, on free ports under .state/chaos-stack, stopped afterwards.
# Defaults: 1,000 clients, the feed at 1,000 records/s over 500 markets;
# CHAOS_ARGS passes more options (e.g. CHAOS_ARGS="--faults redis,api").
# Release binaries (the roles' speed is part of what is measured). The
# report (a Markdown table) goes to .state/chaos/report.md and stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/integration/lib.sh"
export SLUICE_BIN=$root/build/sluice
trap 'it_stack_down chaos-stack' EXIT
it_stack_up chaos-stack 3 ha || { it_stack_down chaos-stack; it_stack_up chaos-stack 3 ha; } || die "no stack"
# shellcheck disable=SC2086 # CHAOS_ARGS: options, split on spaces
python3 "$root/tests/chaos/chaos.py" --stack-dir "$SLUICE_STATE/it-chaos-stack" --bin "$root/build/sluice" \
	--out "$SLUICE_STATE/chaos" --report "$SLUICE_STATE/chaos/report.md" ${CHAOS_ARGS:-}
