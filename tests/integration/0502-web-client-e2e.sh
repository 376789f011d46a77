#!/usr/bin/env bash
# 0502-web-client-e2e: the JavaScript client (web/sluice-client.mjs) under
# Node.js against the real system (api, two reducers, publisher on Kafka +
# Redis): SSE and WebSocket clients get exact snapshots and updates, add and
# remove markets live, ride out a publisher restart ending with the full
# state, report the API being down, and see a deleted channel close.
# The Node part is tests/node/web/e2e-client.mjs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_require_stack
command -v kcat >/dev/null || fail "kcat is missing (scripts/install-deps.sh installs it)"
# --experimental-websocket: Node 20's WebSocket client, for the WebSocket half.
exec timeout 300 node --experimental-websocket "$IT_ROOT/tests/node/web/e2e-client.mjs"
