#!/usr/bin/env bash
# stack.sh: the local stack without Docker: real Kafka (KRaft) and real Redis.
#
#   scripts/stack.sh up     [--dir D] [--brokers 1|3] [--kafka-port P] [--redis-port P]
#   scripts/stack.sh down   [--dir D]
#   scripts/stack.sh status [--dir D]
#
# `up` formats and starts 1 combined KRaft node (or 3, each broker+controller,
# a three-voter quorum: the seed's 2F+1 with F=1) and a redis-server with the
# append-only file on, then waits until each really answers (a metadata
# request for Kafka, PING for Redis) and fails naming the part, with the tail
# of its log. Data and logs live under the stack directory (default
# .state/stack), so a restart keeps the data. It writes D/stack.env with
# SLUICE_KAFKA_BROKERS and SLUICE_REDIS_URL for the roles and tests.
# Ports default to 9092 and 6379; a 3-node stack uses P, P+1, P+2 for brokers.
# Controller ports are picked free at first start and then kept.
# Redis gets a larger pub/sub output buffer than its default (32 MB hard,
# 8 MB for 60 s): a publisher that falls behind for a moment under a burst
# should be given time to catch up, not be disconnected (docs/operations.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:-}; shift || true
dir=${SLUICE_STACK_DIR:-$SLUICE_STATE/stack}
brokers=${SLUICE_STACK_BROKERS:-1}
kport=${SLUICE_KAFKA_PORT:-9092}
rport=${SLUICE_REDIS_PORT:-6379}
heap=${SLUICE_KAFKA_HEAP:-512m}
while [ $# -gt 0 ]; do
	case $1 in
	--dir) dir=$2; shift 2 ;;
	--brokers) brokers=$2; shift 2 ;;
	--kafka-port) kport=$2; shift 2 ;;
	--redis-port) rport=$2; shift 2 ;;
	*) die "stack.sh: unknown option $1" ;;
	esac
done
case $brokers in 1|3) ;; *) die "stack.sh: --brokers must be 1 or 3" ;; esac

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Ports of an existing stack win over flags, so `up` after `down` reuses them.
load_layout() {
	if [ -f "$dir/layout" ]; then . "$dir/layout"; fi
}

kafka_ready() { # all brokers visible in metadata from the first one
	local out i
	# A broker that died (port taken, bad config) will never answer: stop waiting.
	for i in $(seq 1 "$brokers"); do
		pid_alive "$dir/kafka-$i/pid" || { kafka_dead=$i; return 0; }
	done
	out=$(timeout 10 kcat -b "127.0.0.1:$kport" -L -m 5 2>/dev/null) || return 1
	local n
	n=$(printf '%s\n' "$out" | sed -n 's/^ *\([0-9]*\) brokers:.*/\1/p' | head -1)
	[ "${n:-0}" -ge "$brokers" ]
}

redis_ready() { [ "$(timeout 5 redis-cli -p "$rport" ping 2>/dev/null)" = PONG ]; }

start_kafka_node() { # id
	local id=$1 nd="$dir/kafka-$1" port=$((kport + $1 - 1))
	local cport_var="cport_$1"; local cport=${!cport_var}
	mkdir -p "$nd"
	if pid_alive "$nd/pid"; then return 0; fi
	local voters="" i
	for i in $(seq 1 "$brokers"); do
		local cv="cport_$i"
		voters="${voters:+$voters,}$i@127.0.0.1:${!cv}"
	done
	cat > "$nd/server.properties" <<PROPS
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$nd/data
num.partitions=1
default.replication.factor=$brokers
offsets.topic.replication.factor=$brokers
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$brokers
transaction.state.log.min.isr=$(( brokers > 1 ? 2 : 1 ))
min.insync.replicas=$(( brokers > 1 ? 2 : 1 ))
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=24
log.segment.bytes=268435456
PROPS
	# Extra broker settings, one per line (benchmarks tune threads with it).
	[ -n "${SLUICE_KAFKA_EXTRA_PROPS:-}" ] && printf '%s\n' "$SLUICE_KAFKA_EXTRA_PROPS" >> "$nd/server.properties"
	if [ ! -f "$nd/data/meta.properties" ]; then
		java -cp "$(kafka_cp)" -Dlog4j.configuration="file:$KAFKA_LIBS/log4j.properties" \
			kafka.tools.StorageTool format -t "$cluster_id" -c "$nd/server.properties" \
			> "$nd/format.log" 2>&1 || { tail -20 "$nd/format.log" >&2; die "kafka node $id: storage format failed"; }
	fi
	# setsid: the broker outlives this script and ignores the terminal's signals.
	# shellcheck disable=SC2086 # SLUICE_KAFKA_JVM_OPTS: extra JVM flags, split on spaces
	setsid java -Xms"$heap" -Xmx"$heap" ${SLUICE_KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20} -Djava.awt.headless=true \
		-Dlog4j.configuration="file:$KAFKA_LIBS/log4j.properties" \
		-cp "$(kafka_cp)" kafka.Kafka "$nd/server.properties" \
		> "$nd/kafka.log" 2>&1 < /dev/null &
	echo $! > "$nd/pid"
}

up() {
	mkdir -p "$dir"
	load_layout
	if [ ! -f "$dir/layout" ]; then
		cluster_id=$(java -cp "$(kafka_cp)" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
		{
			echo "brokers=$brokers"; echo "kport=$kport"; echo "rport=$rport"; echo "cluster_id=$cluster_id"
			for i in $(seq 1 "$brokers"); do echo "cport_$i=$(free_port)"; done
		} > "$dir/layout"
		. "$dir/layout"
	fi
	# Redis first: it starts in milliseconds.
	mkdir -p "$dir/redis"
	if ! pid_alive "$dir/redis/pid"; then
		redis-server --port "$rport" --bind 127.0.0.1 --dir "$dir/redis" --appendonly yes \
			--save "" --daemonize yes --pidfile "$dir/redis/pid" --logfile "$dir/redis/redis.log" \
			--maxclients 20000 --client-output-buffer-limit "pubsub 256mb 128mb 60" >/dev/null \
			|| die "redis: redis-server failed to start"
	fi
	for i in $(seq 1 "$brokers"); do start_kafka_node "$i"; done

	wait_for 20 "redis on port $rport" redis_ready \
		|| { tail -15 "$dir/redis/redis.log" >&2; die "redis did not become ready on port $rport"; }
	# JVMs start slowly on a loaded 2-core machine; three of them at once more so.
	local kafka_wait=${SLUICE_KAFKA_WAIT:-$((60 + 60 * brokers))}
	kafka_dead=""
	if ! wait_for "$kafka_wait" "kafka on port $kport" kafka_ready || [ -n "$kafka_dead" ]; then
		[ -n "$kafka_dead" ] && say "kafka node $kafka_dead exited during start-up"
		for i in $(seq 1 "$brokers"); do
			say "--- tail of $dir/kafka-$i/kafka.log"; tail -15 "$dir/kafka-$i/kafka.log" >&2 || true
		done
		die "kafka did not become ready on port $kport ($brokers node(s))"
	fi
	local bl="" i
	for i in $(seq 1 "$brokers"); do bl="${bl:+$bl,}127.0.0.1:$((kport + i - 1))"; done
	cat > "$dir/stack.env" <<ENV
SLUICE_KAFKA_BROKERS=$bl
SLUICE_REDIS_URL=redis://127.0.0.1:$rport/0
SLUICE_STACK_DIR=$dir
ENV
	say "kafka ready: $bl ($brokers node(s), KRaft); redis ready: 127.0.0.1:$rport"
}

down() {
	load_layout
	local any=0
	for nd in "$dir"/kafka-*; do
		[ -d "$nd" ] || continue
		if pid_alive "$nd/pid"; then
			kill "$(cat "$nd/pid")" 2>/dev/null || true; any=1
		fi
	done
	for nd in "$dir"/kafka-*; do
		[ -f "$nd/pid" ] || continue
		local p; p=$(cat "$nd/pid")
		# A broker shuts down in seconds; a hung one is killed after 30.
		wait_for 30 "kafka pid $p to exit" bash -c "! kill -0 $p 2>/dev/null" || kill -9 "$p" 2>/dev/null || true
		rm -f "$nd/pid"
	done
	if pid_alive "$dir/redis/pid"; then
		local p; p=$(cat "$dir/redis/pid"); kill "$p" 2>/dev/null || true; any=1
		wait_for 10 "redis to exit" bash -c "! kill -0 $p 2>/dev/null" || kill -9 "$p" 2>/dev/null || true
	fi
	[ $any = 1 ] && say "stack in $dir stopped" || true
}

status() {
	load_layout
	local rc=0
	for nd in "$dir"/kafka-*; do
		[ -d "$nd" ] || continue
		if pid_alive "$nd/pid"; then echo "kafka $(basename "$nd"): running (pid $(cat "$nd/pid"))"
		else echo "kafka $(basename "$nd"): stopped"; rc=1; fi
	done
	if pid_alive "$dir/redis/pid"; then echo "redis: running on port ${rport} (pid $(cat "$dir/redis/pid"))"
	else echo "redis: stopped"; rc=1; fi
	return $rc
}

case $cmd in
up) up ;;
down) down ;;
status) status ;;
*) die "usage: stack.sh up|down|status [--dir D] [--brokers 1|3] [--kafka-port P] [--redis-port P]" ;;
esac
