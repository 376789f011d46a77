#!/usr/bin/env bash
# install.d/web.sh: what the dashboard's tests need beyond the C build:
# Debian's Chromium (/usr/bin/chromium, driven headless), certutil
# (libnss3-tools: the TLS test 1152 makes Chromium trust a test CA) and the npm package
# playwright-core (the Node.js driver only; it never downloads a browser of
# its own) and ws (the WebSocket client of the TLS test 1152), installed
# into .state/node/web from tests/node/web/package.json.
#
# Run by scripts/install-deps.sh; idempotent and quiet when all is present.
# Non-goals: Playwright's bundled browsers, anything global to the machine
# beyond the Debian package.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "ok installed"; then
	say "installing Debian package: chromium (browser tests of the dashboard)"
	sudo_ apt-get update -qq
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium fonts-dejavu-core >/dev/null
fi
if ! command -v certutil >/dev/null 2>&1; then
	say "installing Debian package: libnss3-tools (certutil, for the TLS browser test)"
	sudo_ apt-get update -qq
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnss3-tools >/dev/null
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	say "installing Debian packages: nodejs npm (dashboard tests)"
	sudo_ apt-get update -qq
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

dest=$SLUICE_STATE/node/web
pkg=$SLUICE_ROOT/tests/node/web/package.json
if [ ! -f "$dest/node_modules/playwright-core/package.json" ] || [ ! -f "$dest/node_modules/ws/package.json" ] ||
	! cmp -s "$pkg" "$dest/package.json"; then
	say "installing npm packages for the dashboard tests into $dest"
	mkdir -p "$dest"
	cp "$pkg" "$dest/package.json"
	# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: we drive Debian's Chromium, never a downloaded one.
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$dest" --no-audit --no-fund \
		--loglevel=error >/dev/null
fi
exit 0
