#!/usr/bin/env bash
# stack.sh: the local stack without Docker: real Kafka (KRaft) and real Redis.
#
#   scripts/stack.sh up     [--dir D] [--brokers 1|3] [--redis-ha] [--sasl] [--kafka-port P] [--redis-port P]
#   scripts/stack.sh down   [--dir D]
#   scripts/stack.sh status [--dir D]
#   scripts/stack.sh env    [--dir D]      the settings for the roles (stack.env)
#
# `up` formats and starts 1 combined KRaft node (or 3, each broker+controller,
# a three-voter quorum: the seed's 2F+1 with F=1) and a redis-server with the
# append-only file on; with --redis-ha, a Redis primary, a replica and three
# redis-sentinel processes watching them (master name "sluice", quorum 2).
# It converges: whatever part already answers is left alone, whatever is
# dead is started again (a zombie left where PID 1 does not reap counts as
# dead: liveness is asked, PING or a metadata request, never `kill -0`; see
# scripts/lib.sh). A process that exists but does not answer (stopped,
# hung) is reported and left alone. Then it waits until every part answers
# and fails naming the part, with the tail of its log.
# Data and logs live under the stack directory (default .state/stack), so a
# restart keeps the data; the layout (ports, cluster id, HA or not) is fixed
# at the first `up` and reused. D/stack.env holds SLUICE_KAFKA_BROKERS and
# SLUICE_REDIS_URL (plus SLUICE_REDIS_SENTINELS, SLUICE_REDIS_MASTER_NAME
# and SLUICE_REDIS_WAIT_REPLICAS with --redis-ha) for the roles and tests.
# Ports default to 9092 and 6379; a 3-node stack uses P, P+1, P+2 for
# brokers; the HA replica and the Sentinels get free ports at first start
# (26379-26381 and 6380 when the defaults are free).
# A Redis node restarted in HA mode asks the Sentinels who the primary is
# and starts as its replica, so a returning old primary never competes with
# the promoted one.
# Tuning: SLUICE_KAFKA_EXTRA_PROPS (lines appended to every broker's
# server.properties), SLUICE_KAFKA_JVM_OPTS (replaces the GC flags),
# SLUICE_KAFKA_HEAP (512m). Redis gets a larger pub/sub output buffer than
# its default (docs/operations.md).
# With --sasl each broker also listens with SASL_PLAINTEXT (mechanism
# PLAIN) on a port of its own (fixed at the first `up`); its users and
# passwords (random, made at the first `up`) are in D/sasl.env, and
# stack.env gets SLUICE_KAFKA_SASL_BROKERS. The PLAINTEXT listener stays,
# for the brokers' own traffic and the readiness checks (docs/security.md).
# Non-goals: several machines (docs/operations.md says how), TLS, SCRAM,
# Kafka ACLs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:-}; shift || true
dir=${SLUICE_STACK_DIR:-$SLUICE_STATE/stack}
brokers=${SLUICE_STACK_BROKERS:-1}
redis_ha=${SLUICE_STACK_REDIS_HA:-0}
sasl=${SLUICE_STACK_SASL:-0}
kport=${SLUICE_KAFKA_PORT:-9092}
rport=${SLUICE_REDIS_PORT:-6379}
heap=${SLUICE_KAFKA_HEAP:-512m}
master_name=${SLUICE_REDIS_MASTER_NAME:-sluice}
while [ $# -gt 0 ]; do
	case $1 in
	--dir) dir=$2; shift 2 ;;
	--brokers) brokers=$2; shift 2 ;;
	--redis-ha) redis_ha=1; shift ;;
	--sasl) sasl=1; shift ;;
	--kafka-port) kport=$2; shift 2 ;;
	--redis-port) rport=$2; shift 2 ;;
	*) die "stack.sh: unknown option $1" ;;
	esac
done
case $brokers in 1|3) ;; *) die "stack.sh: --brokers must be 1 or 3" ;; esac
# Absolute: Redis changes into its --dir, and Sentinel rewrites its config
# files with the paths it was given.
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac

# Ports of an existing stack win over flags, so `up` after `down` reuses them.
load_layout() {
	if [ -f "$dir/layout" ]; then . "$dir/layout"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A port derived from a base (the other brokers' from Kafka's: 9093,
# 9094; Redis's replica and Sentinels': 6380, 26380-26382), else any free
# one: when it is taken, past 65535, or when the base came from the
# ephemeral range (a test harness picks free ports there). Linux gives
# bind(0) odd ports and connect() even ones, so base + 1 is where the
# stack's own outgoing connections (a Sentinel's to the primary, a
# broker's to the controllers) land, before the process meant to listen
# there binds it.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
pick_port() { # derived base
	if [ "$1" -le 65535 ] && [ "$2" -lt "$ephemeral_low" ] && port_free "$1"; then echo "$1"; else free_port; fi
}

# ---- Redis ----
# Nodes: redis (node 1, the first primary) and redis-2 (its replica), each
# with its own port; Sentinels: sentinel-1..3.
redis_node_dir() { if [ "$1" = 1 ]; then echo "$dir/redis"; else echo "$dir/redis-$1"; fi; }
redis_node_port() { local v="rport_$1"; echo "${!v}"; }
sentinel_port() { local v="sport_$1"; echo "${!v}"; }

# The primary's port as the Sentinels see it, or nothing.
sentinel_primary_port() {
	local i out
	for i in 1 2 3; do
		out=$(timeout 2 redis-cli -p "$(sentinel_port "$i")" sentinel get-master-addr-by-name "$master_name" 2>/dev/null) || continue
		out=$(printf '%s\n' "$out" | sed -n 2p)
		[ -n "$out" ] && { echo "$out"; return 0; }
	done
}

start_redis_node() { # node
	local n=$1 nd port state
	nd=$(redis_node_dir "$1"); port=$(redis_node_port "$1")
	mkdir -p "$nd"
	state=$(liveness redis "$port" "$nd/pid")
	case $state in
	up) return 0 ;;
	hung) say "redis node $n (port $port, pid $(cat "$nd/pid")) exists but does not answer: left alone"; return 0 ;;
	esac
	local args=(--port "$port" --bind 127.0.0.1 --dir "$nd" --appendonly yes --save ""
		--daemonize yes --pidfile "$nd/pid" --logfile "$nd/redis.log" --maxclients 20000
		--client-output-buffer-limit "pubsub 256mb 128mb 60")
	if [ "$redis_ha" = 1 ]; then
		# Whoever the Sentinels name is the primary; without an answer
		# (first start), node 1 is.
		local p; p=$(sentinel_primary_port || true)
		# (An explicit "no one": a config file Sentinel rewrote may name
		# an old primary.)
		if [ -n "$p" ] && [ "$p" != "$port" ]; then args+=(--replicaof 127.0.0.1 "$p")
		elif [ -z "$p" ] && [ "$n" != 1 ]; then args+=(--replicaof 127.0.0.1 "$rport_1")
		else args+=(--replicaof no one); fi
		# A config file, so that Sentinel's CONFIG REWRITE keeps its changes.
		[ -f "$nd/redis.conf" ] || : > "$nd/redis.conf"
		args=("$nd/redis.conf" "${args[@]}")
	fi
	say "starting redis node $n on port $port"
	rm -f "$nd/pid"
	redis-server "${args[@]}" >/dev/null || die "redis node $n: redis-server failed to start"
}

start_sentinel() { # i
	local i=$1 sd="$dir/sentinel-$1" port state
	port=$(sentinel_port "$i")
	mkdir -p "$sd"
	state=$(liveness redis "$port" "$sd/pid")
	case $state in
	up) return 0 ;;
	hung) say "sentinel $i (port $port) exists but does not answer: left alone"; return 0 ;;
	esac
	# Written once: Sentinel rewrites it with what it learnt (the current
	# primary, the replicas, the other Sentinels, the epoch).
	if [ ! -f "$sd/sentinel.conf" ]; then
		cat > "$sd/sentinel.conf" <<CONF
port $port
bind 127.0.0.1
dir $sd
sentinel monitor $master_name 127.0.0.1 $rport_1 2
sentinel down-after-milliseconds $master_name ${SLUICE_SENTINEL_DOWN_AFTER_MS:-3000}
sentinel failover-timeout $master_name ${SLUICE_SENTINEL_FAILOVER_TIMEOUT_MS:-10000}
sentinel parallel-syncs $master_name 1
CONF
	fi
	say "starting sentinel $i on port $port"
	rm -f "$sd/pid"
	redis-sentinel "$sd/sentinel.conf" --daemonize yes --pidfile "$sd/pid" --logfile "$sd/sentinel.log" >/dev/null \
		|| die "sentinel $i: redis-sentinel failed to start"
}

redis_all_ready() {
	local n i
	for n in $(seq 1 "$redis_nodes"); do redis_ping "$(redis_node_port "$n")" || return 1; done
	[ "$redis_ha" = 1 ] || return 0
	for i in 1 2 3; do redis_ping "$(sentinel_port "$i")" || return 1; done
	# The Sentinels agree on a primary that answers as one.
	local p; p=$(sentinel_primary_port) || return 1
	[ -n "$p" ] && timeout 2 redis-cli -p "$p" role 2>/dev/null | head -1 | grep -qx master
}

# ---- Kafka ----
# Node 1 listens on --kafka-port, node n on kport_n of the layout (before
# it had one: kafka-port + n - 1).
kafka_node_port() { local v="kport_$1"; echo "${!v:-$((kport + $1 - 1))}"; }

kafka_ready() { # all brokers visible in metadata from each one
	local out i n
	for i in $(seq 1 "$brokers"); do
		# A broker that died (port taken, bad config) will never answer: stop waiting.
		proc_exists "$dir/kafka-$i/pid" || { kafka_dead=$i; return 0; }
	done
	for i in $(seq 1 "$brokers"); do
		out=$(timeout 10 kcat -b "127.0.0.1:$(kafka_node_port "$i")" -L -m 5 2>/dev/null) || return 1
		n=$(printf '%s\n' "$out" | sed -n 's/^ *\([0-9]*\) brokers:.*/\1/p' | head -1)
		[ "${n:-0}" -ge "$brokers" ] || return 1
	done
}

start_kafka_node() { # id
	local id=$1 nd="$dir/kafka-$1" port state
	port=$(kafka_node_port "$1")
	local cport_var="cport_$1"; local cport=${!cport_var}
	mkdir -p "$nd"
	state=$(liveness kafka "$port" "$nd/pid")
	case $state in
	up) return 0 ;;
	hung) say "kafka node $id (port $port, pid $(cat "$nd/pid")) exists but does not answer: left alone"; return 0 ;;
	esac
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
	if [ "$sasl" = 1 ]; then sasl_props "$id" "$port" "$cport" >> "$nd/server.properties"; fi
	# Extra broker settings, one per line (benchmarks tune threads with it).
	if [ -n "${SLUICE_KAFKA_EXTRA_PROPS:-}" ]; then printf '%s\n' "$SLUICE_KAFKA_EXTRA_PROPS" >> "$nd/server.properties"; fi
	if [ ! -f "$nd/data/meta.properties" ]; then
		java -cp "$(kafka_cp)" -Dlog4j.configuration="file:$KAFKA_LIBS/log4j.properties" \
			kafka.tools.StorageTool format -t "$cluster_id" -c "$nd/server.properties" \
			> "$nd/format.log" 2>&1 || { tail -20 "$nd/format.log" >&2; die "kafka node $id: storage format failed"; }
	fi
	say "starting kafka node $id on port $port"
	# A restarted node's old log is kept beside the new one.
	[ -f "$nd/kafka.log" ] && mv -f "$nd/kafka.log" "$nd/kafka.log.1"
	# setsid: the broker outlives this script and ignores the terminal's signals.
	# shellcheck disable=SC2086 # SLUICE_KAFKA_JVM_OPTS: extra JVM flags, split on spaces
	setsid java -Xms"$heap" -Xmx"$heap" ${SLUICE_KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20} -Djava.awt.headless=true \
		-Dlog4j.configuration="file:$KAFKA_LIBS/log4j.properties" \
		-cp "$(kafka_cp)" kafka.Kafka "$nd/server.properties" \
		> "$nd/kafka.log" 2>&1 < /dev/null &
	echo $! > "$nd/pid"
}

# ---- SASL/PLAIN (--sasl) ----
# The users of the SASL listener, made once: KEY=value lines, sourced.
make_sasl_users() {
	[ -f "$dir/sasl.env" ] && return 0
	local pw1 pw2
	pw1=$(head -c 18 /dev/urandom | base64 | tr '/+' '_-')
	pw2=$(head -c 18 /dev/urandom | base64 | tr '/+' '_-')
	( umask 077; printf 'SASL_ADMIN_USER=admin\nSASL_ADMIN_PASSWORD=%s\nSASL_USER=sluice\nSASL_PASSWORD=%s\n' \
		"$pw1" "$pw2" > "$dir/sasl.env" )
}

# Later keys win in a .properties file: these replace the listener lines.
# The JAAS configuration of the listener (PlainLoginModule: user_NAME=password
# declares a user) goes inline, so the file holds the secrets: it is 0600.
sasl_props() { # id port controller-port
	local sp; sp=$(sasl_port "$1")
	. "$dir/sasl.env"
	chmod 600 "$dir/kafka-$1/server.properties"
	cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$2,SASL_PLAINTEXT://127.0.0.1:$sp,CONTROLLER://127.0.0.1:$3
advertised.listeners=PLAINTEXT://127.0.0.1:$2,SASL_PLAINTEXT://127.0.0.1:$sp
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$SASL_ADMIN_USER" password="$SASL_ADMIN_PASSWORD" user_$SASL_ADMIN_USER="$SASL_ADMIN_PASSWORD" user_$SASL_USER="$SASL_PASSWORD";
PROPS
}
sasl_port() { local v="saslport_$1"; echo "${!v}"; }

write_env() {
	local bl="" i
	for i in $(seq 1 "$brokers"); do bl="${bl:+$bl,}127.0.0.1:$(kafka_node_port "$i")"; done
	{
		echo "SLUICE_KAFKA_BROKERS=$bl"
		echo "SLUICE_REDIS_URL=redis://127.0.0.1:$rport_1/0"
		echo "SLUICE_STACK_DIR=$dir"
		if [ "$sasl" = 1 ]; then
			local sl="" j
			for j in $(seq 1 "$brokers"); do sl="${sl:+$sl,}127.0.0.1:$(sasl_port "$j")"; done
			echo "SLUICE_KAFKA_SASL_BROKERS=$sl"
		fi
		if [ "$redis_ha" = 1 ]; then
			echo "SLUICE_REDIS_SENTINELS=127.0.0.1:$sport_1,127.0.0.1:$sport_2,127.0.0.1:$sport_3"
			echo "SLUICE_REDIS_MASTER_NAME=$master_name"
			echo "SLUICE_REDIS_WAIT_REPLICAS=1"
		fi
	} > "$dir/stack.env"
}

up() {
	mkdir -p "$dir"
	load_layout
	if [ ! -f "$dir/layout" ]; then
		cluster_id=$(java -cp "$(kafka_cp)" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
		{
			echo "brokers=$brokers"; echo "kport=$kport"; echo "rport=$rport"; echo "cluster_id=$cluster_id"
			echo "redis_ha=$redis_ha"; echo "rport_1=$rport"
			for i in $(seq 1 "$brokers"); do echo "cport_$i=$(free_port)"; done
			echo "sasl=$sasl"
			if [ "$sasl" = 1 ]; then for i in $(seq 1 "$brokers"); do echo "saslport_$i=$(free_port)"; done; fi
			for i in $(seq 2 "$brokers"); do echo "kport_$i=$(pick_port $((kport + i - 1)) "$kport")"; done
			if [ "$redis_ha" = 1 ]; then
				echo "rport_2=$(pick_port $((rport + 1)) "$rport")"
				for i in 1 2 3; do echo "sport_$i=$(pick_port $((rport + 19999 + i)) "$rport")"; done
			fi
		} > "$dir/layout"
		. "$dir/layout"
	fi
	: "${rport_1:=$rport}" "${redis_ha:=0}" "${sasl:=0}"
	if [ "$sasl" = 1 ]; then make_sasl_users; fi
	redis_nodes=$(( redis_ha == 1 ? 2 : 1 ))
	# Redis first: it starts in milliseconds. Sentinels before the nodes,
	# so that a restarted node can ask them who the primary is.
	if [ "$redis_ha" = 1 ]; then
		for i in 1 2 3; do start_sentinel "$i"; done
	fi
	for n in $(seq 1 "$redis_nodes"); do start_redis_node "$n"; done
	for i in $(seq 1 "$brokers"); do start_kafka_node "$i"; done

	if ! wait_for "${SLUICE_REDIS_WAIT:-30}" "redis on port $rport_1" redis_all_ready; then
		for n in $(seq 1 "$redis_nodes"); do say "--- tail of $(redis_node_dir "$n")/redis.log"; log_tail "$(redis_node_dir "$n")/redis.log" >&2; done
		if [ "$redis_ha" = 1 ]; then for i in 1 2 3; do say "--- tail of $dir/sentinel-$i/sentinel.log"; log_tail "$dir/sentinel-$i/sentinel.log" >&2; done; fi
		die "redis did not become ready ($redis_nodes node(s)$([ "$redis_ha" = 1 ] && echo ', 3 sentinels'))"
	fi
	# JVMs start slowly on a loaded 2-core machine; three of them at once more so.
	local kafka_wait=${SLUICE_KAFKA_WAIT:-$((60 + 60 * brokers))}
	kafka_dead=""
	if ! wait_for "$kafka_wait" "kafka on port $kport" kafka_ready || [ -n "$kafka_dead" ]; then
		[ -n "$kafka_dead" ] && say "kafka node $kafka_dead exited during start-up"
		for i in $(seq 1 "$brokers"); do
			say "--- tail of $dir/kafka-$i/kafka.log"; log_tail "$dir/kafka-$i/kafka.log" >&2
		done
		die "kafka did not become ready on port $kport ($brokers node(s))"
	fi
	write_env
	. "$dir/stack.env"
	say "kafka ready: $SLUICE_KAFKA_BROKERS ($brokers node(s), KRaft); redis ready: 127.0.0.1:$rport_1$([ "$redis_ha" = 1 ] && echo " + replica, sentinels $SLUICE_REDIS_SENTINELS")"
}

stop_pidfile() { # pidfile what seconds
	local f=$1 p
	[ -f "$f" ] || return 0
	p=$(cat "$f")
	if proc_exists "$f"; then
		kill -CONT "$p" 2>/dev/null || true # a stopped process cannot act on TERM
		kill "$p" 2>/dev/null || true
		wait_for "$3" "$2 (pid $p) to exit" bash -c ". '$here/lib.sh'; ! proc_exists '$f'" \
			|| kill -9 "$p" 2>/dev/null || true
		any=1
	fi
	rm -f "$f"
}

down() {
	load_layout
	any=0
	local nd
	# Sentinels first, so that stopping the primary starts no failover.
	for nd in "$dir"/sentinel-*; do [ -d "$nd" ] && stop_pidfile "$nd/pid" sentinel 10; done
	# Brokers in parallel: a broker shuts down in seconds; a hung one is killed after 30.
	for nd in "$dir"/kafka-*; do
		[ -d "$nd" ] && proc_exists "$nd/pid" && { kill -CONT "$(cat "$nd/pid")" 2>/dev/null; kill "$(cat "$nd/pid")" 2>/dev/null || true; }
	done
	for nd in "$dir"/kafka-*; do [ -d "$nd" ] && stop_pidfile "$nd/pid" kafka 30; done
	for nd in "$dir"/redis "$dir"/redis-*; do [ -d "$nd" ] && stop_pidfile "$nd/pid" redis 10; done
	[ $any = 1 ] && say "stack in $dir stopped" || true
}

# status: one line per part (up, hung, dead) and who leads what; the tail
# of the log of a part that is not up. Exit 1 when a part is not up.
status() {
	load_layout
	[ -f "$dir/layout" ] || { echo "stack: not created ($dir)"; return 1; }
	: "${rport_1:=$rport}" "${redis_ha:=0}"
	local rc=0 i n st port nd primary=""
	for i in $(seq 1 "$brokers"); do
		nd="$dir/kafka-$i"; port=$(kafka_node_port "$i")
		st=$(liveness kafka "$port" "$nd/pid")
		printf 'kafka-%s       %-5s 127.0.0.1:%s\n' "$i" "$st" "$port"
		[ "$st" = up ] || { rc=1; log_tail "$nd/kafka.log" 8; }
	done
	if [ "$redis_ha" = 1 ]; then
		primary=$(sentinel_primary_port || true)
	fi
	for n in $(seq 1 $(( redis_ha == 1 ? 2 : 1 ))); do
		nd=$(redis_node_dir "$n"); port=$(redis_node_port "$n")
		st=$(liveness redis "$port" "$nd/pid")
		local role=""
		[ "$st" = up ] && role=$(timeout 2 redis-cli -p "$port" role 2>/dev/null | head -1)
		printf 'redis-%s       %-5s 127.0.0.1:%s %s\n' "$n" "$st" "$port" "${role:+($role)}"
		[ "$st" = up ] || { rc=1; log_tail "$nd/redis.log" 8; }
	done
	if [ "$redis_ha" = 1 ]; then
		for i in 1 2 3; do
			port=$(sentinel_port "$i")
			st=$(liveness redis "$port" "$dir/sentinel-$i/pid")
			printf 'sentinel-%s    %-5s 127.0.0.1:%s\n' "$i" "$st" "$port"
			[ "$st" = up ] || { rc=1; log_tail "$dir/sentinel-$i/sentinel.log" 8; }
		done
		[ -n "$primary" ] && primary=127.0.0.1:$primary
		echo "redis primary (per Sentinel, master '$master_name'): ${primary:-unknown}"
	fi
	return $rc
}

# leaders: how many partitions each broker leads (a metadata request),
# and with three brokers the KRaft quorum's leader (Kafka's quorum tool).
leaders() {
	load_layout
	local i out=""
	for i in $(seq 1 "$brokers"); do
		out=$(timeout 8 kcat -b "127.0.0.1:$(kafka_node_port "$i")" -L -m 5 2>/dev/null) && break
	done
	[ -n "$out" ] || { echo "kafka: no broker answered a metadata request"; return 1; }
	printf '%s\n' "$out" | awk '
		/^ *broker [0-9]+ at/ { id=$2; addr[id]=$4 }
		/^  topic "/ { t=$2; gsub(/"/, "", t) }
		/partition [0-9]+, leader/ { if (t ~ /^__/) next; l=$4; sub(/,/, "", l); n[l]++; p=$2; sub(/,/, "", p)
			lead[t]=lead[t] (lead[t] == "" ? "" : " ") p ":" l }
		END {
			for (t in lead) printf "topic %s partition:leader %s\n", t, lead[t]
			for (id in addr) printf "broker %s at %s leads %d partition(s)\n", id, addr[id], n[id]+0
			if (n[-1] > 0) printf "partitions without a leader: %d\n", n[-1]
		}' | sort
	if [ "$brokers" -gt 1 ]; then
		local q
		q=$(timeout 20 java -cp "$(kafka_cp)" -Dlog4j.configuration="file:$KAFKA_LIBS/tools-log4j.properties" \
			org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "127.0.0.1:$kport" describe --status 2>/dev/null \
			| sed -n 's/^LeaderId: *\([0-9]*\).*/\1/p')
		echo "KRaft quorum leader (controller): ${q:-unknown}"
	fi
}

case $cmd in
up) up ;;
down) down ;;
status) status ;;
leaders) leaders ;;
env) load_layout; [ -f "$dir/stack.env" ] && cat "$dir/stack.env" ;;
*) die "usage: stack.sh up|down|status|leaders|env [--dir D] [--brokers 1|3] [--redis-ha] [--sasl] [--kafka-port P] [--redis-port P]" ;;
esac
