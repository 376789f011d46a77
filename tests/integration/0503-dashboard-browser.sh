#!/usr/bin/env bash
# 0503-dashboard-browser: the dashboard in a real browser (Debian's Chromium,
# headless, driven by playwright-core) against the real system: the page
# loads from the publisher, subscribes, shows prices that change and a
# system panel fed by the roles' /metrics (cross-origin, through CORS),
# keeps going through a publisher restart, shows an error state when the API
# is down, stays usable on a phone-sized screen, and keeps up with 200
# markets. It saves screenshots in .state/test-logs/ (SLUICE_UPDATE_SCREENSHOTS=1
# writes docs/img/dashboard.png instead, which the README shows).
# The Node part is tests/node/web/dashboard-browser.mjs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing (scripts/install.d/web.sh installs it)"
[ -f "$SLUICE_STATE/node/web/node_modules/playwright-core/package.json" ] \
	|| fail "playwright-core is missing (scripts/install.d/web.sh installs it into .state/node/web)"
exec timeout 400 node "$IT_ROOT/tests/node/web/dashboard-browser.mjs"
