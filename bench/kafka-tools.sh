#!/usr/bin/env bash
# kafka-tools.sh: `bench/run-all.sh kafka-tools`: 1,000,000 small records
# produced, then consumed, by `sluice produce`/`sluice consume`, by kcat and
# by Kafka's own console tools (kafka.tools.ConsoleProducer and
# org.apache.kafka.tools.consumer.ConsoleConsumer), on one broker in one run.
#
# Each round runs the three tools in turn, starting with a different one
# each round, so a machine that drifts slows them alike; the figure is the median over the
# rounds of records/s measured on the whole command (start-up included,
# as a user sees it), then the ratios sluice/kcat and sluice/Kafka, and the
# CPU each client used (bash's `time`: user+sys of the command and children),
# which the load of a shared machine disturbs much less than wall time.
# Every tool runs with its defaults (sluice: idempotent, acks=all; kcat and
# Kafka's producer: acks=all), records are 7-byte lines (`seq -w`), each
# producer writes its own fresh topic, every consumer reads the topic that
# sluice produced in that round, and each consumer's line count is checked.
# Settings: BENCH_RECORDS (1000000), BENCH_ROUNDS (5), BENCH_PARTITIONS (3).
# Starts its own Kafka (scripts/stack.sh, free ports) and stops it. Uses the
# release build (build/sluice). Appends a table to bench/results/kafka-tools.md.
# Never fails on a number; fails only when a tool fails or loses records.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
N=${BENCH_RECORDS:-1000000}
ROUNDS=${BENCH_ROUNDS:-5}
PARTS=${BENCH_PARTITIONS:-3}
bin=$root/build/sluice
[ -x "$bin" ] || make --no-print-directory all
command -v kcat >/dev/null || die "kcat is missing: run scripts/install-deps.sh"
[ -f "$KAFKA_LIBS/.complete" ] || scripts/fetch-kafka.sh

stack=$SLUICE_STATE/bench-kafka-tools
work=$(mktemp -d)
cleanup() {
	SLUICE_STACK_DIR=$stack scripts/stack.sh down >/dev/null 2>&1 || true
	rm -rf "$stack" "$work"
}
trap cleanup EXIT
rm -rf "$stack"
SLUICE_STACK_DIR=$stack scripts/stack.sh up --kafka-port "$(free_port)" --redis-port "$(free_port)" >/dev/null
set -a; . "$stack/stack.env"; set +a
B=$SLUICE_KAFKA_BROKERS
seq -w "$N" > "$work/input"
java_tool() { java -Dlog4j.configuration="file:$KAFKA_LIBS/log4j.properties" -cp "$KAFKA_LIBS/*" "$@" 2>/dev/null; }

produce() { # tool topic
	case $1 in
	sluice) "$bin" produce --bootstrap-server "$B" --topic "$2" < "$work/input" ;;
	kcat) kcat -P -b "$B" -t "$2" < "$work/input" ;;
	kafka) java_tool kafka.tools.ConsoleProducer --bootstrap-server "$B" --topic "$2" < "$work/input" ;;
	esac
}
consume() { # tool topic: prints the number of lines read
	case $1 in
	sluice) "$bin" consume --bootstrap-server "$B" --topic "$2" --from-beginning --max-messages "$N" | wc -l ;;
	kcat) kcat -C -b "$B" -t "$2" -o beginning -c "$N" -e -q | wc -l ;;
	kafka) java_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$B" --topic "$2" \
		--from-beginning --max-messages "$N" | wc -l ;;
	esac
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

# CPU of a command and its children (user+sys, ms) from bash's own `time`.
TIMEFORMAT='%3U %3S'
cpu_ms() { awk '{printf "%d", ($1 + $2) * 1000}' "$work/cpu"; }

tools=(sluice kcat kafka)
declare -A pms cms pcpu ccpu
for r in $(seq "$ROUNDS"); do
	order=("${tools[@]:$(( (r - 1) % 3 ))}" "${tools[@]:0:$(( (r - 1) % 3 ))}")
	for tool in "${order[@]}"; do
		t="bench-$tool-$r-$$"
		"$bin" topics --bootstrap-server "$B" --create --topic "$t" --partitions "$PARTS" --replication-factor 1 >/dev/null
		s=$(now_ms); { time produce "$tool" "$t"; } 2> "$work/cpu"; e=$(now_ms)
		pms[$tool]+="$((e - s)) "
		pcpu[$tool]+="$(cpu_ms) "
	done
	for tool in "${order[@]}"; do
		s=$(now_ms); { time consume "$tool" "bench-sluice-$r-$$" > "$work/count"; } 2> "$work/cpu"; e=$(now_ms)
		got=$(cat "$work/count")
		[ "$got" -eq "$N" ] || die "$tool consumed $got of $N records"
		cms[$tool]+="$((e - s)) "
		ccpu[$tool]+="$(cpu_ms) "
	done
	echo "round $r of $ROUNDS done" >&2
done
# The consumers proved sluice's topics whole; read one of kcat's and one
# of Kafka's back too, so no producer is timed for losing records.
for tool in kcat kafka; do
	got=$("$bin" consume --bootstrap-server "$B" --topic "bench-$tool-1-$$" --from-beginning --max-messages "$N" | wc -l)
	[ "$got" -eq "$N" ] || die "$tool produced $got of $N records"
done

rate() { awk -v n="$N" -v ms="$1" 'BEGIN {printf "%.0f", n * 1000 / ms}'; }
fmt_m() { awk -v r="$1" 'BEGIN {printf "%.2fM", r / 1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# pairs "ms of sluice per round" "ms of other per round": the median of the
# per-round speed ratios, which holds better than a ratio of medians when
# the machine's speed drifts between rounds.
pairs() { paste <(printf '%s\n' $1) <(printf '%s\n' $2) | awk '{printf "%.4f\n", $2 / $1}' | sort -n |
	awk '{a[NR] = $1} END {printf "%.2f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
cpu_s() { awk -v ms="$(printf '%s\n' $1 | median)" 'BEGIN {printf "%.2f s", ms / 1000}'; }
best() { printf '%s\n' $1 | sort -n | head -1; }
declare -A pr cr
for tool in "${tools[@]}"; do
	pr[$tool]=$(rate "$(printf '%s\n' ${pms[$tool]} | median)")
	cr[$tool]=$(rate "$(printf '%s\n' ${cms[$tool]} | median)")
done
cmd="bench/run-all.sh kafka-tools"
table=$(cat <<MD

### $(date -u +%Y-%m-%dT%H:%MZ) — $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)

\`$cmd\` — $N records of 7 bytes, $PARTS partitions, one KRaft broker, $ROUNDS rounds, median records/s of the whole command (start-up included).

| tool | produce rec/s (median) | consume rec/s (median) | produce rec/s (best) | consume rec/s (best) | produce ms (each round) | consume ms (each round) |
|---|---|---|---|---|---|---|
| sluice | $(fmt_m "${pr[sluice]}") | $(fmt_m "${cr[sluice]}") | $(fmt_m "$(rate "$(best "${pms[sluice]}")")") | $(fmt_m "$(rate "$(best "${cms[sluice]}")")") | ${pms[sluice]% } | ${cms[sluice]% } |
| kcat | $(fmt_m "${pr[kcat]}") | $(fmt_m "${cr[kcat]}") | $(fmt_m "$(rate "$(best "${pms[kcat]}")")") | $(fmt_m "$(rate "$(best "${cms[kcat]}")")") | ${pms[kcat]% } | ${cms[kcat]% } |
| Kafka console tools | $(fmt_m "${pr[kafka]}") | $(fmt_m "${cr[kafka]}") | $(fmt_m "$(rate "$(best "${pms[kafka]}")")") | $(fmt_m "$(rate "$(best "${cms[kafka]}")")") | ${pms[kafka]% } | ${cms[kafka]% } |

| sluice's speed relative to | produce: ratio of medians | produce: median of per-round ratios | consume: ratio of medians | consume: median of per-round ratios | goal |
|---|---|---|---|---|---|
| kcat | $(ratio "${pr[sluice]}" "${pr[kcat]}")x | $(pairs "${pms[sluice]}" "${pms[kcat]}")x | $(ratio "${cr[sluice]}" "${cr[kcat]}")x | $(pairs "${cms[sluice]}" "${cms[kcat]}")x | ≥ 1x |
| Kafka console tools | $(ratio "${pr[sluice]}" "${pr[kafka]}")x | $(pairs "${pms[sluice]}" "${pms[kafka]}")x | $(ratio "${cr[sluice]}" "${cr[kafka]}")x | $(pairs "${cms[sluice]}" "${cms[kafka]}")x | ≥ 5x |

| client CPU, user+sys (median of rounds) | produce | consume |
|---|---|---|
| sluice | $(cpu_s "${pcpu[sluice]}") | $(cpu_s "${ccpu[sluice]}") |
| kcat | $(cpu_s "${pcpu[kcat]}") | $(cpu_s "${ccpu[kcat]}") |
| Kafka console tools | $(cpu_s "${pcpu[kafka]}") | $(cpu_s "${ccpu[kafka]}") |
MD
)
printf '%s\n' "$table"
mkdir -p bench/results
[ -f bench/results/kafka-tools.md ] || printf '# kafka-tools benchmark results\n\nAppended by `bench/run-all.sh kafka-tools` (bench/kafka-tools.sh); see docs/benchmarks-kafka-tools.md.\n' > bench/results/kafka-tools.md
printf '%s\n' "$table" >> bench/results/kafka-tools.md
