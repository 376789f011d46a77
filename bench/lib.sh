# lib.sh: what the pipeline benchmarks share (sourced after scripts/lib.sh).
#
# bench_stack_up NAME: a private Kafka + Redis on free ports under
# .state/bench-NAME (stopped, with every pid in $pids, when the script
# exits), its settings exported, and fresh data/command topics named after
# NAME so runs never see each other's records. Sets st (the state folder).
# The broker is sized for this 2-core machine unless the caller says
# otherwise (SLUICE_KAFKA_EXTRA_PROPS, SLUICE_KAFKA_JVM_OPTS; set them empty
# for Kafka's defaults): one network thread, two I/O threads and the serial
# collector cut the broker's CPU by about a quarter at 2,000 records/s
# (docs/benchmarks-pipeline.md, "Kafka in proportion").
# Non-goals: measuring anything; each bench/<name>.sh does that.

export SLUICE_KAFKA_EXTRA_PROPS=${SLUICE_KAFKA_EXTRA_PROPS-$'num.network.threads=1\nnum.io.threads=2'}
export SLUICE_KAFKA_JVM_OPTS=${SLUICE_KAFKA_JVM_OPTS-"-XX:+UseSerialGC"}

bench_stack_up() {
	local name=$1
	st=$SLUICE_STATE/bench-$name
	bench_sd=$st/stack
	SLUICE_STACK_DIR=$bench_sd "$root/scripts/stack.sh" down >/dev/null 2>&1 || true
	rm -rf "$st"; mkdir -p "$st"
	pids=()
	trap bench_cleanup EXIT
	[ -f "$KAFKA_LIBS/.complete" ] || "$root/scripts/fetch-kafka.sh" >&2 || exit 1
	local kport rport
	kport=$(free_port); rport=$(free_port)
	SLUICE_STACK_DIR=$bench_sd "$root/scripts/stack.sh" up --brokers 1 --kafka-port "$kport" --redis-port "$rport" \
		>/dev/null 2>&1 || { echo "$name.sh: could not start Kafka + Redis" >&2; exit 1; }
	set -a; . "$bench_sd/stack.env"; set +a
	local tag=$RANDOM
	export SLUICE_DATA_TOPIC=$name-markets-$tag SLUICE_COMMAND_TOPIC=$name-commands-$tag \
		SLUICE_REDIS_PREFIX="$name$tag:" SLUICE_LOG_LEVEL=warn
	"$bin" topics --create --topic "$SLUICE_DATA_TOPIC" --partitions 12 --replication-factor 1 >/dev/null || exit 1
	"$bin" topics --create --topic "$SLUICE_COMMAND_TOPIC" --partitions 1 --replication-factor 1 >/dev/null || exit 1
}

bench_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	SLUICE_STACK_DIR=$bench_sd "$root/scripts/stack.sh" down >/dev/null 2>&1
}
