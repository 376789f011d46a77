#!/usr/bin/env bash
# up.sh: `make up`: the whole local system, ready when this returns.
#
# Starts the stack (scripts/stack.sh: Kafka + Redis), creates the topics of
# SPEC section 3, then the sluice roles: api, two reducers, publisher,
# rest-proxy and the feed, each in the background with its log under
# .state/run/. Waits for every role's /readyz and prints where to look.
# Run again while up: it says so and exits 0. Ports come from the
# environment (SLUICE_KAFKA_PORT, SLUICE_REDIS_PORT, SLUICE_API_PORT,
# SLUICE_PUBLISHER_PORT, SLUICE_RESTPROXY_PORT) with the defaults of SPEC 4.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

run=$SLUICE_STATE/run
mkdir -p "$run"
bin=$SLUICE_ROOT/build/sluice
[ -x "$bin" ] || die "build/sluice is missing: run make first"

api_port=${SLUICE_API_PORT:-8080}
pub_port=${SLUICE_PUBLISHER_PORT:-8090}
rp_port=${SLUICE_RESTPROXY_PORT:-8082}
red1_port=${SLUICE_REDUCER1_PORT:-8091}
red2_port=${SLUICE_REDUCER2_PORT:-8092}
feed_port=${SLUICE_FEED_PORT:-8093}
partitions=${SLUICE_DATA_PARTITIONS:-12}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if pid_alive "$run/api.pid" || pid_alive "$run/publisher.pid" || pid_alive "$run/reducer-1.pid"; then
	say "already up (make status shows what runs; make down stops it)"
	exit 0
fi

"$here/stack.sh" up
set -a; . "$SLUICE_STATE/stack/stack.env"; set +a

# Topics: idempotent (an existing topic is fine).
"$bin" topics --create --if-not-exists --topic "${SLUICE_DATA_TOPIC:-markets}" --partitions "$partitions" \
	--replication-factor 1 >/dev/null
"$bin" topics --create --if-not-exists --topic "${SLUICE_COMMAND_TOPIC:-stream-commands}" --partitions 1 \
	--replication-factor 1 >/dev/null

started=()
start_role() { # name port role args...
	local name=$1 port=$2 role=$3; shift 3
	setsid "$bin" "$role" --port "$port" "$@" > "$run/$name.log" 2>&1 < /dev/null &
	echo $! > "$run/$name.pid"
	started+=("$name:$port")
}

# The dashboard (served by the publisher) calls the API and reads every
# role's /metrics from its own origin: allow it everywhere (CORS), and tell
# the publisher where the API and the metrics are, for its /config.json.
export SLUICE_CORS_ORIGIN=${SLUICE_CORS_ORIGIN:-http://127.0.0.1:$pub_port,http://localhost:$pub_port}
dash_args=(--api-url "http://127.0.0.1:$api_port")
for m in "reducer-1=$red1_port" "reducer-2=$red2_port" "api=$api_port" "publisher=$pub_port" \
	"rest-proxy=$rp_port" "feed=$feed_port"; do
	dash_args+=(--metrics-urls "${m%%=*}=http://127.0.0.1:${m##*=}/metrics")
done

start_role api "$api_port" api
start_role reducer-1 "$red1_port" reducer
start_role reducer-2 "$red2_port" reducer
start_role publisher "$pub_port" publisher "${dash_args[@]}"
start_role rest-proxy "$rp_port" rest-proxy
start_role feed "$feed_port" feed --markets 50 --rate 20

for s in "${started[@]}"; do
	name=${s%%:*}; port=${s##*:}
	if ! wait_for 30 "$name /readyz" curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; then
		say "--- tail of $run/$name.log"; tail -20 "$run/$name.log" >&2
		die "$name did not become ready on port $port (make down to clean up)"
	fi
done

cat <<TXT

sluice is up.
  dashboard     http://127.0.0.1:$pub_port/
  stream        ws://127.0.0.1:$pub_port/v1/stream/<channel>   (SSE: /v1/events/<channel>)
  control API   http://127.0.0.1:$api_port/v1/channels
  REST proxy    http://127.0.0.1:$rp_port/topics
  Kafka         $SLUICE_KAFKA_BROKERS      Redis  $SLUICE_REDIS_URL
  logs          $run/*.log
  try           build/sluice watch m-0001 m-0002 m-0003
  stop          make down
TXT
