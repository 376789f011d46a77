#!/usr/bin/env bash
# 0002-docs-current: the pages read off the code (docs/config.md,
# logging.md, metrics.md) match the code; `make docs` regenerates them.
# Also the layering rules of make check (includes point down only; no
# files calling each other in a circle).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$IT_ROOT"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
scripts/gen-docs.sh "$tmp" >/dev/null
for f in config.md logging.md metrics.md; do
	diff -u "docs/$f" "$tmp/$f" > "$tmp/$f.diff" || { head -30 "$tmp/$f.diff"; fail "docs/$f is stale: run make docs"; }
	pass "docs/$f matches the code"
done
scripts/check-layers.sh
pass "includes point down only"
scripts/check-calls.sh
pass "no files call each other in a circle"
