#!/usr/bin/env bash
# restproxy.sh: the REST proxy benchmark (`bench/run-all.sh restproxy`).
#
# What it measures, through one `sluice rest-proxy` process (release build)
# in front of a real Kafka 3.9 broker on this machine:
#   produce   records/s acknowledged (acks=all, idempotent) with 1, 100 and
#             1,000 records of 102 bytes per request, many concurrent HTTP
#             clients (wrk + bench/restproxy.lua: 100, 64 and 16 connections);
#             request latency p50/p99; failed requests or records
#   consume   records/s read through one consumer instance (v2 binary,
#             max_bytes 1 MiB per read (the default), keep-alive client)
#   memory    peak RSS of the proxy (VmHWM) after the produce runs and over
#             the whole run
# Each produce case runs BENCH_RUNS times (default 3); the table shows the
# median and the ratio to the goal of issue 4 (50,000 records/s with batches
# of 100, under 20 MiB RSS) and to Karapace's published 6,600-10,800
# records/s. Appends the table to bench/results/restproxy.md.
# Uses the stack in SLUICE_KAFKA_BROKERS when set, else starts its own on free
# ports and stops it at the end. Never fails on a number.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
IT_ROOT=$root
. tests/integration/lib.sh
runs=${BENCH_RUNS:-3}
dur=${BENCH_DURATION:-6}
bin=build/sluice
[ -x "$bin" ] || { echo "restproxy.sh: run make first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "restproxy.sh: wrk is missing (scripts/install.d/restproxy.sh)" >&2; exit 1; }

own_stack=0
if [ -z "${SLUICE_KAFKA_BROKERS:-}" ]; then
	it_stack_up bench-restproxy || { echo "restproxy.sh: could not start Kafka" >&2; exit 1; }
	own_stack=1
fi
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ "$own_stack" = 1 ] && it_stack_down bench-restproxy
}
trap cleanup EXIT

topic=bench-rp-$$-$RANDOM
timeout 60 java -Dlog4j.configuration="file:$KAFKA_LIBS/log4j.properties" -cp "$KAFKA_LIBS/*" \
	org.apache.kafka.tools.TopicCommand --bootstrap-server "$SLUICE_KAFKA_BROKERS" --create --topic "$topic" \
	--partitions 6 --replication-factor 1 >/dev/null 2>&1 || { echo "restproxy.sh: topic creation failed" >&2; exit 1; }
port=$(free_port)
log=$SLUICE_STATE/bench-restproxy.log
"$bin" rest-proxy --port "$port" --listen-host 127.0.0.1 > "$log" 2>&1 &
pid=$!
wait_for 30 "rest-proxy" curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" || { tail "$log"; exit 1; }
url=http://127.0.0.1:$port

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
metric() { curl -fsS "$url/metrics" | awk -v m="$1" '$1 == m { printf "%d", $2 }'; }

rows=()
goal100=
for spec in "1 100" "100 64" "1000 16"; do
	set -- $spec
	batch=$1 conns=$2
	rates="" p50s="" p99s="" bads=0
	for r in $(seq 1 "$runs"); do
		out=$(RP_BATCH=$batch RP_TOPIC=$topic wrk -t2 -c"$conns" -d"${dur}s" --timeout 10s -s bench/restproxy.lua "$url" 2>&1)
		rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
		non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
		bad=$(awk '/^BAD/ {print $2}' <<<"$out")
		rates="$rates $(awk -v r="${rps:-0}" -v b="$batch" 'BEGIN {printf "%d", r * b}')"
		p50s="$p50s $(awk '/^P50_MS/ {print $2}' <<<"$out")"
		p99s="$p99s $(awk '/^P99_MS/ {print $2}' <<<"$out")"
		bads=$((bads + ${bad:-0} + ${non2xx:-0}))
		echo "produce batch=$batch conns=$conns run=$r: $(awk -v r="${rps:-0}" -v b="$batch" 'BEGIN {printf "%d", r * b}') records/s (${rps:-?} req/s)"
	done
	med=$(median <<<"$rates")
	[ "$batch" = 100 ] && goal100=$med
	rows+=("| produce, $batch record(s)/request, $conns connections | ${rates# } | **$med** records/s | $(median <<<"$p50s") / $(median <<<"$p99s") ms | $bads |")
done
produced=$(metric sluice_restproxy_records_produced_total)
rss_prod_mib=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
perr=$(metric sluice_restproxy_produce_errors_total)

# ---- consume through one instance ----
want=$(( produced < 600000 ? produced : 600000 ))
cons=$(python3 - "$port" "$topic" "$want" <<'PY'
import http.client, sys, time
port, topic, want = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def call(method, path, body=None, accept="application/vnd.kafka.v2+json"):
    h = {"Accept": accept}
    if body is not None:
        h["Content-Type"] = "application/vnd.kafka.v2+json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.read()
g = "bench-rp-consume-%d" % time.time_ns()
call("POST", "/consumers/" + g, '{"name":"c","auto.offset.reset":"earliest","auto.commit.enable":"false"}')
base = "/consumers/%s/instances/c" % g
call("POST", base + "/subscription", '{"topics":["%s"]}' % topic)
n, t0, deadline = 0, None, time.time() + 90
while n < want and time.time() < deadline:
    st, body = call("GET", base + "/records?timeout=1000&max_bytes=1048576", accept="application/vnd.kafka.binary.v2+json")
    k = body.count(b'"offset":')
    if k and t0 is None:
        t0 = time.time()  # from the first data: the group join is not reading
    n += k
t = time.time() - (t0 or time.time())
call("DELETE", base)
print(n, int(n / t) if t > 0 else 0)
PY
)
cread=${cons%% *}
crate=${cons##* }
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
rss_mib=$(awk -v k="$rss_kib" 'BEGIN {printf "%.1f", k / 1024}')
echo "consume: $cread records at $crate records/s; peak RSS $rss_mib MiB"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
table=$(cat <<MD

## $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, \`bench/run-all.sh restproxy\` (BENCH_RUNS=$runs, ${dur}s per run)

| case | runs (records/s) | median | latency p50 / p99 | failed requests |
|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
| consume, one instance, max_bytes 1 MiB | 1 run, $cread records | **$crate** records/s | | |

| side by side | value | ratio |
|---|---|---|
| produce with batches of 100 vs the goal of 50,000 records/s | $goal100 | $(ratio "$goal100" 50000)x |
| produce with batches of 100 vs Karapace's best 10,800 records/s | $goal100 | $(ratio "$goal100" 10800)x |
| peak RSS over the produce runs vs the goal of 20 MiB | $rss_prod_mib MiB | $(ratio "$rss_prod_mib" 20)x |
| peak RSS over the whole run (produce + consume) vs 20 MiB | $rss_mib MiB | $(ratio "$rss_mib" 20)x |
| peak RSS vs Karapace's 300 MB | $rss_mib MiB | $(ratio "$rss_mib" 300)x |

Records acknowledged by Kafka: $produced; records that failed: ${perr:-0}.
Records are 102 bytes, no key, to a 6-partition topic, acks=all, idempotent producer (linger.ms=5).
MD
)
printf '%s\n' "$table"
mkdir -p bench/results
printf '%s\n' "$table" >> bench/results/restproxy.md
