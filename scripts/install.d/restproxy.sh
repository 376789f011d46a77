#!/usr/bin/env bash
# install.d/restproxy.sh: what the REST proxy's tests and benchmark need
# beyond the C build: Node.js with the seed's client, the npm package
# kafka-rest 0.0.5 (plus random 2.2.0 for the seed's producer), installed
# into .state/node/restproxy from tests/node/restproxy/package.json; jq
# (Debian), which the tests use to check JSON; and wrk (Debian) for the
# benchmark.
#
# Run by scripts/install-deps.sh; idempotent and quiet when all is present.
# Non-goals: global npm installs, anything not from Debian or npm.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v jq >/dev/null 2>&1 || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
	say "installing Debian packages: ${missing[*]} (REST proxy tests and benchmark)"
	sudo_ apt-get update -qq
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

dest=$SLUICE_STATE/node/restproxy
pkg=$SLUICE_ROOT/tests/node/restproxy/package.json
if [ ! -f "$dest/node_modules/kafka-rest/package.json" ] || ! cmp -s "$pkg" "$dest/package.json"; then
	say "installing npm packages for the REST proxy tests into $dest"
	mkdir -p "$dest"
	cp "$pkg" "$dest/package.json"
	npm install --prefix "$dest" --no-audit --no-fund --loglevel=error >/dev/null
fi
exit 0
