#!/usr/bin/env bash
# reducer.sh: the reducer's throughput into Redis (`bench/run-all.sh reducer`).
#
# On a real Kafka 3.9 (KRaft) and Redis started on free ports: `sluice feed
# --rate 0 --count N` pre-produces N records (BENCH_MARKETS markets, 12
# partitions); then a fresh consumer group of reducers (release build)
# starts and the time from the first record consumed to the last one
# acknowledged by Redis (sluice_reducer_records_in_total reaching N with
# no pipeline in flight, read from /metrics every 50 ms) gives records/s.
# Nobody subscribes, so this is the state-write path: one Lua EVAL per
# partition per batch with the newest record of each market, offsets
# committed after Redis acknowledged. Configurations side by side, each
# run BENCH_RUNS times (median reported, ratio to the first):
#   one reducer (default --max-batch 10000), two reducers, one reducer with
#   --max-batch 500; and one reducer against a second redis-server reached
#   in the clear, then the same server over TLS (rediss://, the cost of
#   TLS to Redis).
# Then a live run: the feed at BENCH_LIVE_RATE records/s for 5 s with 100
# channels subscribed to 10 markets each, reporting the reducer's end-to-end
# latency (Kafka record timestamp -> Redis acknowledgement) p50/p99 from its
# histogram, and PUBLISHes/s. CPU seconds and peak RSS of the reducer.
# Appends a markdown table to bench/results/reducer.md. Never fails on a
# number; exits non-zero only when it could not run.
# Knobs (env): BENCH_RECORDS (500000), BENCH_MARKETS (1000), BENCH_RUNS (3),
# BENCH_LIVE_RATE (20000).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh

n=${BENCH_RECORDS:-500000}
markets=${BENCH_MARKETS:-1000}
runs=${BENCH_RUNS:-3}
live_rate=${BENCH_LIVE_RATE:-20000}
bin=$root/build/sluice
[ -x "$bin" ] || { echo "reducer.sh: run make first" >&2; exit 1; }

. bench/lib.sh
bench_stack_up reducer

t0=$(date +%s.%N)
"$bin" feed --port 0 --count "$n" --markets "$markets" --rate 0 --seed 7 2>/dev/null || { echo "reducer.sh: feed failed" >&2; exit 1; }
t1=$(date +%s.%N)
produce_rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
echo "pre-produced $n records in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s ($produce_rate/s)"

# metric URL NAME: the value of an unlabelled series.
metric() { curl -fsS "$1/metrics" 2>/dev/null | awk -v m="$2" '$1 == m {print $2; exit}'; }

# run_once REDUCERS ARGS...: start a fresh group, print "records_per_s cpu_s rss_mb".
run_once() {
	local count=$1; shift
	local k=$((RANDOM)) urls=() mypids=() i
	for i in $(seq 1 "$count"); do
		local port; port=$(free_port)
		SLUICE_REDIS_PREFIX="rb$k:" "$bin" reducer --port "$port" --group "rb-$k" "$@" > "$st/reducer-$k-$i.log" 2>&1 &
		mypids+=($!); pids+=($!)
		urls+=("http://127.0.0.1:$port")
	done
	python3 - "$n" "${urls[@]}" <<'PY'
import sys, time, urllib.request
n, urls = int(sys.argv[1]), sys.argv[2:]
def val(u, name):
    try:
        for l in urllib.request.urlopen(u + "/metrics", timeout=5).read().decode().splitlines():
            if l.startswith(name + " "):
                return float(l.split()[1])
    except Exception:
        pass
    return 0.0
deadline = time.time() + 300
first = None
while time.time() < deadline:
    got = sum(val(u, "sluice_reducer_records_in_total") for u in urls)
    if got > 0 and first is None:
        first = time.time()
    if got >= n and sum(val(u, "sluice_reducer_redis_pending") for u in urls) == 0:
        break
    time.sleep(0.05)
end = time.time()
print("%.0f" % (n / max(end - (first or end), 1e-3)))
PY
	local cpu=0 rss=0 p
	for p in "${mypids[@]}"; do
		local c r
		c=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$p/stat" 2>/dev/null || echo 0)
		r=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$p/status" 2>/dev/null || echo 0)
		cpu=$(awk -v a="$cpu" -v b="$c" 'BEGIN {print a + b}')
		rss=$(awk -v a="$rss" -v b="$r" 'BEGIN {print (b > a) ? b : a}')
		kill "$p" 2>/dev/null
	done
	for p in "${mypids[@]}"; do wait "$p" 2>/dev/null; done
	echo "$cpu $rss"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# A second Redis, serving the same data plain and over TLS (its own CA,
# a certificate for 127.0.0.1), so that one reducer's cost of rediss://
# is measured against the same server reached in the clear.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$st/tls.key" -out "$st/tls.pem" 2>/dev/null
tls_plain=$(free_port) tls_port=$(free_port)
redis-server --port "$tls_plain" --tls-port "$tls_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$st" \
	--tls-cert-file "$st/tls.pem" --tls-key-file "$st/tls.key" --tls-auth-clients no > "$st/redis-tls.log" 2>&1 &
pids+=($!)
wait_for 20 "redis-server with TLS" redis-cli -p "$tls_plain" PING || { echo "reducer.sh: no TLS redis-server" >&2; exit 1; }

declare -A rate cpu rss
configs=("one reducer|1|" "two reducers|2|" "one reducer, --max-batch 500|1|--max-batch 500"
	"one reducer, a second Redis in the clear|1|--redis-url redis://127.0.0.1:$tls_plain/0"
	"one reducer, the same Redis over TLS|1|--redis-url rediss://127.0.0.1:$tls_port/0?tls_ca=$st/tls.pem")
for c in "${configs[@]}"; do
	label=${c%%|*}; rest=${c#*|}; count=${rest%%|*}; args=${rest#*|}
	rates=(); cpus=(); rsss=()
	for _ in $(seq 1 "$runs"); do
		out=$(run_once "$count" $args)
		rates+=("$(echo "$out" | sed -n 1p)")
		cpus+=("$(echo "$out" | sed -n 2p | cut -d' ' -f1)")
		rsss+=("$(echo "$out" | sed -n 2p | cut -d' ' -f2)")
	done
	rate[$label]=$(printf '%s\n' "${rates[@]}" | median)
	cpu[$label]=$(printf '%s\n' "${cpus[@]}" | median)
	rss[$label]=$(printf '%s\n' "${rsss[@]}" | median)
	echo "$label: ${rates[*]} records/s (median ${rate[$label]})"
done

# Live: feed at live_rate/s with 100 channels x 10 markets subscribed.
k=$RANDOM
export SLUICE_REDIS_PREFIX="rl$k:"
ap=$(free_port); rp=$(free_port)
"$bin" api --port "$ap" > "$st/api.log" 2>&1 & pids+=($!)
"$bin" reducer --port "$rp" --group "rl-$k" > "$st/reducer-live.log" 2>&1 & rpid=$!; pids+=($rpid)
wait_for 30 "api" curl -fsS -o /dev/null "http://127.0.0.1:$ap/readyz"
wait_for 30 "reducer" curl -fsS -o /dev/null "http://127.0.0.1:$rp/readyz"
wait_for 120 "reducer caught up" sh -c "[ \"\$(curl -fsS http://127.0.0.1:$rp/metrics | awk '\$1 == \"sluice_reducer_records_in_total\" {print int(\$2)}')\" -ge $n ]"
for i in $(seq 0 99); do
	ms=$(python3 -c "import sys; i=int(sys.argv[1]); print(','.join('\"m-%04d\"' % ((i * 10 + j) % $markets + 1) for j in range(10)))" "$i")
	curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' -d "{\"markets\":[$ms]}" "http://127.0.0.1:$ap/v1/channels"
done
buckets() { curl -fsS "http://127.0.0.1:$rp/metrics" | grep '^sluice_reducer_e2e_latency_ms_bucket'; }
pub0=$(metric "http://127.0.0.1:$rp" sluice_reducer_messages_out_total)
buckets > "$st/lat0"
"$bin" feed --port 0 --count $((live_rate * 5)) --markets "$markets" --rate "$live_rate" --seed 8 2>/dev/null
sleep 1
buckets > "$st/lat1"
# Quantiles of the live window only: bucket counts after minus before.
lat=$(python3 - "$st/lat0" "$st/lat1" <<'PY'
import sys
def read(path):
    out = []
    for l in open(path):
        le = l.split('le="')[1].split('"')[0]
        out.append((float("inf") if le == "+Inf" else float(le), float(l.split()[1])))
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
d = [(le, cb - ca) for (le, ca), (_, cb) in zip(a, b)]
def q(p):
    tot = d[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in d:
        if c >= p * tot:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * ((p * tot - prev_c) / max(c - prev_c, 1))
        prev_le, prev_c = le, c
    return prev_le
print("%.2f %.2f" % (q(0.5), q(0.99)))
PY
)
pub1=$(metric "http://127.0.0.1:$rp" sluice_reducer_messages_out_total)
pubs=$(awk -v a="$pub0" -v b="$pub1" 'BEGIN {printf "%.0f", (b - a) / 5}')
lcpu=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$rpid/stat")
lrss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$rpid/status")
echo "live: $live_rate/s, latency p50/p99 ms: $lat, publishes/s: $pubs"

out=bench/results/reducer.md
base=${rate["one reducer"]}
{
	echo
	echo "## $(date -u '+%Y-%m-%d %H:%M UTC')  (git $(git rev-parse --short HEAD 2>/dev/null), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
	echo
	echo "\`bench/run-all.sh reducer\`: $n records pre-produced ($produce_rate/s by sluice feed), $markets markets, 12 partitions, nobody subscribed; median of $runs runs."
	echo
	echo "| configuration | records/s into Redis | ratio | CPU s (all reducers) | peak RSS MB |"
	echo "|---|---|---|---|---|"
	for c in "${configs[@]}"; do
		label=${c%%|*}
		echo "| $label | ${rate[$label]} | $(awk -v a="${rate[$label]}" -v b="$base" 'BEGIN {printf "%.2f", a / b}') | ${cpu[$label]} | ${rss[$label]} |"
	done
	echo
	echo "Live, $live_rate records/s for 5 s, 100 channels x 10 markets subscribed: reducer end-to-end latency (record timestamp to Redis acknowledgement) p50 $(echo "$lat" | cut -d' ' -f1) ms, p99 $(echo "$lat" | cut -d' ' -f2) ms; $pubs PUBLISHes/s; reducer CPU $lcpu s, peak RSS $lrss MB (whole run)."
} | tee -a "$out"
