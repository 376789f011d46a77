#!/usr/bin/env bash
# install.d/publisher.sh: what the publisher's tests need beyond the C build:
# redis-cli/redis-server (Debian redis-server, also used by the stack) and
# the Python package `websockets` (a real third-party WebSocket client used
# next to the tests' own raw-socket client in tests/integration/publib.py).
#
# Run by scripts/install-deps.sh; idempotent and quiet when all is present.
# Non-goals: anything for the product itself (the product is C only).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

if ! command -v redis-cli >/dev/null 2>&1; then
	say "installing Debian package: redis-server (publisher tests)"
	sudo_ apt-get update -qq
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi

if ! python3 -c 'import websockets' >/dev/null 2>&1; then
	say "installing Python package: websockets (publisher tests)"
	python3 -m pip install -q --disable-pip-version-check websockets >/dev/null 2>&1 ||
		python3 -m pip install -q --disable-pip-version-check --break-system-packages websockets >/dev/null
fi
