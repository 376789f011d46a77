#!/usr/bin/env bash
# up.sh: `make up` (`make up CLUSTER=1`): the whole local system, ready when
# this returns.
#
#   scripts/up.sh [--cluster]
#
# Starts the stack (scripts/stack.sh: Kafka + Redis), creates the topics of
# SPEC section 3, then the sluice roles of the shape (scripts/topology.sh):
# by default one broker, one Redis, api, two reducers, publisher, REST proxy
# and feed; with --cluster three brokers (topics at replication factor 3,
# min.insync.replicas=2), a Redis primary + replica + three Sentinels, two
# api instances, three reducers, two publishers, the REST proxy and the feed.
# It converges: a part that answers is left alone, a dead one is started
# again (liveness is asked: /healthz, PING, a metadata request; never
# `kill -0`, which a zombie passes), so running it again after a crash
# restarts exactly what died. Each role runs in the background with its log
# under .state/run/ (the log of a previous life kept as NAME.log.1). Waits
# for every started role's /readyz and prints where to look, with a
# development token for the API (scripts/dev-auth.sh: the API runs with
# bearer tokens; the dashboard link carries the token).
# Non-goals: several machines (docs/operations.md), supervising (it starts
# what is dead when asked; it does not watch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/topology.sh"
. "$here/dev-auth.sh"

want=single
for a in "$@"; do
	case $a in
	--cluster) want=cluster ;;
	*) die "up.sh: unknown option $a (usage: up.sh [--cluster])" ;;
	esac
done
[ "${CLUSTER:-}" = 1 ] && want=cluster

run=$SLUICE_RUN
mkdir -p "$run"
bin=$SLUICE_ROOT/build/sluice
[ -x "$bin" ] || die "build/sluice is missing: run make first"

shape=$(current_shape "$want")
if [ "$shape" != "$want" ] && [ "$want" = cluster ]; then
	die "a single-node system is up (.state/run/shape): make down first, then make up CLUSTER=1"
fi
[ "$shape" != "$want" ] && say "the running system is a $shape one: converging to it"
echo "$shape" > "$run/shape"

export SLUICE_STACK_DIR
SLUICE_STACK_DIR=$(stack_dir_of "$shape")
if [ "$shape" = cluster ]; then
	"$here/stack.sh" up --brokers 3 --redis-ha
else
	"$here/stack.sh" up
fi
set -a; . "$SLUICE_STACK_DIR/stack.env"; set +a
brokers=$(echo "$SLUICE_KAFKA_BROKERS" | tr ',' '\n' | wc -l)

# Topics: idempotent (an existing topic is fine).
partitions=${SLUICE_DATA_PARTITIONS:-12}
topic_args=(--replication-factor "$brokers")
[ "$brokers" -gt 1 ] && topic_args+=(--config min.insync.replicas=2)
"$bin" topics --create --if-not-exists --topic "${SLUICE_DATA_TOPIC:-markets}" --partitions "$partitions" \
	"${topic_args[@]}" >/dev/null
"$bin" topics --create --if-not-exists --topic "${SLUICE_COMMAND_TOPIC:-stream-commands}" --partitions 1 \
	"${topic_args[@]}" >/dev/null

# The dashboard (served by the publishers) calls the API and reads every
# role's /metrics from its own origin: allow it everywhere (CORS), and tell
# the publisher where the API and the metrics are, for its /config.json.
api_port=$(topology "$shape" | awk '$1 == "api" {print $2}')
pub_port=$(topology "$shape" | awk '$1 == "publisher" {print $2}')
origins=""
while read -r name port role; do
	[ "$role" = publisher ] && origins="${origins:+$origins,}http://127.0.0.1:$port,http://localhost:$port"
done < <(topology "$shape")
export SLUICE_CORS_ORIGIN=${SLUICE_CORS_ORIGIN:-$origins}
dash_args=(--api-url "http://127.0.0.1:$api_port")
while read -r name port role; do
	dash_args+=(--metrics-urls "$name=http://127.0.0.1:$port/metrics")
done < <(topology "$shape")

role_args() { # role
	case $1 in
	publisher) printf '%s\n' "${dash_args[@]}" ;;
	feed) printf '%s\n' --markets "${SLUICE_FEED_MARKETS:-50}" --rate "${SLUICE_FEED_RATE:-20}" ;;
	# With a Redis replica, offsets are committed only once it holds the
	# writes (WAIT): a failover then cannot turn a market back.
	reducer) if [ "$shape" = cluster ]; then printf '%s\n' --redis-wait-replicas 1; fi ;;
	esac
}

dev_auth_setup
started=()
kept=0
while read -r name port role; do
	state=$(liveness http "$port" "$run/$name.pid")
	case $state in
	up) kept=$((kept + 1)); continue ;;
	hung) say "$name (pid $(cat "$run/$name.pid")) exists but does not answer /healthz: left alone"; continue ;;
	esac
	[ -f "$run/$name.log" ] && mv -f "$run/$name.log" "$run/$name.log.1"
	mapfile -t extra < <(role_args "$role")
	setsid "$bin" "$role" --port "$port" "${extra[@]}" > "$run/$name.log" 2>&1 < /dev/null &
	echo $! > "$run/$name.pid"
	started+=("$name:$port")
done < <(topology "$shape")

for s in "${started[@]}"; do
	name=${s%%:*}; port=${s##*:}
	if ! wait_for 45 "$name /readyz" curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; then
		say "--- tail of $run/$name.log"; log_tail "$run/$name.log" 20 >&2
		die "$name did not become ready on port $port (make status shows the rest; make down cleans up)"
	fi
done

token=$(dev_auth_token "$bin")
if [ ${#started[@]} = 0 ]; then
	say "already up: every part answers (make status shows what runs; make down stops it)"
	[ -n "$token" ] && say "dashboard with a fresh development token: http://127.0.0.1:$pub_port/#token=$token"
	exit 0
fi
[ "$kept" -gt 0 ] && say "started ${#started[@]} role(s) that were not running; $kept left alone"

pubs=""
while read -r name port role; do
	[ "$role" = publisher ] && pubs="${pubs:+$pubs }http://127.0.0.1:$port/${token:+#token=$token}"
done < <(topology "$shape")
try="build/sluice watch m-0001 m-0002 m-0003"
tokline=""
if [ -n "$token" ]; then
	try="SLUICE_API_TOKEN=\$(cat ${SLUICE_RUN#"$SLUICE_ROOT"/}/dev-token) $try"
	tokline="  API token     ${SLUICE_RUN#"$SLUICE_ROOT"/}/dev-token  (Authorization: Bearer; sub dev, every market; docs/security.md)"
fi
cat <<TXT

sluice is up ($shape).
  dashboard     $pubs
  stream        ws://127.0.0.1:$pub_port/v1/stream/<channel>${token:+?token=<stream_token>}   (SSE: /v1/events/<channel>)
  control API   http://127.0.0.1:$api_port/v1/channels
  REST proxy    http://127.0.0.1:$(topology "$shape" | awk '$1 == "rest-proxy" {print $2}')/topics
  Kafka         $SLUICE_KAFKA_BROKERS      Redis  ${SLUICE_REDIS_SENTINELS:+sentinels $SLUICE_REDIS_SENTINELS, primary }$SLUICE_REDIS_URL
  logs          $run/*.log
$tokline${tokline:+
}  try           $try
  status        make status        stop  make down
TXT
