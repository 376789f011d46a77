# lib.sh: small shell helpers shared by the scripts in scripts/ (sourced).
#
# Defines where state lives (SLUICE_STATE, default .state/ in the checkout),
# the Kafka version, logging helpers and a wait-with-timeout loop, so that no
# script sleeps and hopes.

SLUICE_ROOT=${SLUICE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SLUICE_STATE=${SLUICE_STATE:-$SLUICE_ROOT/.state}
KAFKA_VERSION=${KAFKA_VERSION:-3.9.1}
KAFKA_LIBS=${KAFKA_LIBS:-$SLUICE_STATE/kafka/libs-$KAFKA_VERSION}

say()  { printf 'sluice: %s\n' "$*" >&2; }
die()  { printf 'sluice: error: %s\n' "$*" >&2; exit 1; }

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# wait_for SECONDS DESCRIPTION CMD...: run CMD until it succeeds or time runs out.
wait_for() {
	local limit=$1 what=$2; shift 2
	local deadline=$(( $(date +%s) + limit ))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || { say "timed out after ${limit}s waiting for $what"; return 1; }
		sleep 0.2
	done
}

# free_port: print a TCP port nobody listens on (tests use their own ports).
free_port() {
	python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

kafka_cp() { echo "$KAFKA_LIBS/*"; }
