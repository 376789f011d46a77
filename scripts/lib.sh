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

# ---- liveness: ask the process, never `kill -0` ----
# Where PID 1 does not reap, a dead daemon stays a zombie and `kill -0`
# still succeeds on it; a stopped (SIGSTOP) or hung one answers nothing.
# So a part is "up" only when it answers (PING, a Kafka metadata request,
# /healthz); proc_state tells the rest apart: a process that exists and
# is not a zombie but does not answer is "hung" (left alone: starting a
# second one on its port would fail), anything else is "dead".

# proc_state PIDFILE: print the state letter of the process (R, S, D, T,
# Z, ...) from /proc/PID/stat, or nothing when there is none.
proc_state() {
	local pid
	[ -f "$1" ] || return 0
	pid=$(cat "$1" 2>/dev/null) || return 0
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 0
	# The command name (2nd field) may hold spaces: the state follows ") ".
	sed -n 's/^.*) \([A-Za-z]\) .*/\1/p' "/proc/$pid/stat" 2>/dev/null
}

# proc_exists PIDFILE: a process that is not a zombie (it may be stopped).
proc_exists() {
	local s; s=$(proc_state "$1")
	[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}

# redis_ping PORT: the Redis (or Sentinel) on PORT answers PONG within 2 s.
redis_ping() { [ "$(timeout 2 redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; }

# kafka_answers PORT: the broker on PORT answers a metadata request (5 s).
# (All topics: asking for one could auto-create it.)
kafka_answers() { timeout 6 kcat -b "127.0.0.1:$1" -L -m 5 >/dev/null 2>&1; }

# http_alive URL: the role answers /healthz within 2 s.
http_alive() { curl -fsS -m 2 -o /dev/null "$1/healthz" 2>/dev/null; }

# liveness KIND PORT PIDFILE: print up, hung or dead (see above).
liveness() {
	local ok=1
	case $1 in
	redis) redis_ping "$2" && ok=0 ;;
	kafka) kafka_answers "$2" && ok=0 ;;
	http) http_alive "http://127.0.0.1:$2" && ok=0 ;;
	esac
	if [ $ok = 0 ]; then echo up
	elif proc_exists "$3"; then echo hung
	else echo dead; fi
}

# log_tail FILE [N]: the last N (15) lines of a log, indented.
log_tail() { [ -f "$1" ] && tail -"${2:-15}" "$1" | sed 's/^/    | /'; return 0; }
