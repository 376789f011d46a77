#!/usr/bin/env bash
# sportsbook.sh: the full-pipeline benchmark (`bench/run-all.sh sportsbook`).
#
# The sportsbook scenario end to end on a real Kafka 3.9 (KRaft) and Redis
# started on free ports, everything on this machine: `sluice feed` produces
# 1,000 markets to a 12-partition topic; two `sluice reducer`s keep the state
# and publish each update once on its market's Redis channel; `sluice api`
# creates 10,000 channels of 5 random markets each; one `sluice publisher`
# (one loop per core) serves them to 10,000 WebSocket clients of
# bench/ws-load.c, so the feed's rate x 50 messages/s are delivered.
#
# A saturation ladder runs the feed at each rate of BENCH_RATES (every step
# runs: on a shared machine one noisy step must not end it). Per step:
# delivered messages/s, end-to-end latency p50/p99/p99.9 (Kafka record
# timestamp -> read by the client), lost and duplicated messages; the
# per-stage breakdown from the roles' own histograms over the same window
# (record timestamp -> taken by a reducer -> acknowledged by Redis -> read
# by the publisher -> written to the socket; bench/promstat.py); CPU seconds
# and peak RSS of every process; delivered messages per CPU-second of the
# whole path (feed, reducers, api, publisher, Redis and the Kafka JVM) and of
# the publisher; the publisher's RSS per connection. The highest rate with
# p99 <= 100 ms and nothing lost is reported. Appends to
# bench/results/sportsbook.md, after the earlier runs.
# Knobs (env): BENCH_CLIENTS (10000), BENCH_MARKETS (1000), BENCH_RATES
# ("1000 2000 3000 4000 6000 8000"), BENCH_DURATION (15 s per step),
# BENCH_FEED_ARGS, BENCH_REDUCER_ARGS, BENCH_PUBLISHER_ARGS (extra flags,
# e.g. "-X kafka.linger.ms=1" for the feed), BENCH_NOTE (a line for the table),
# BENCH_JSON_OUT (a file to which each step's JSON line is appended, for
# bench/centrifugo.sh).
# Never fails on a number; exits non-zero only when it could not run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh

clients=${BENCH_CLIENTS:-10000}
markets=${BENCH_MARKETS:-1000}
rates=${BENCH_RATES:-"1000 2000 3000 4000 6000 8000"}
dur=${BENCH_DURATION:-15}
read -ra feed_args <<< "${BENCH_FEED_ARGS:-}"
read -ra reducer_args <<< "${BENCH_REDUCER_ARGS:-}"
read -ra publisher_args <<< "${BENCH_PUBLISHER_ARGS:-}"
per=5
bin=$root/build/sluice
load=$root/build/bench/ws-load
[ -x "$bin" ] && [ -x "$load" ] || { echo "sportsbook.sh: run make all benches first" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((clients + 200)) ] || { echo "sportsbook.sh: need $((clients + 200)) open files" >&2; exit 1; }

. bench/lib.sh
bench_stack_up sportsbook

declare -A port pid
start() { # name role args...
	local name=$1 role=$2; shift 2
	port[$name]=$(free_port)
	"$bin" "$role" --port "${port[$name]}" --listen-host 127.0.0.1 "$@" >"$st/$name.log" 2>&1 &
	pid[$name]=$!; pids+=($!)
}
group=sb-$RANDOM
start reducer-1 reducer --group "$group" "${reducer_args[@]}"
start reducer-2 reducer --group "$group" "${reducer_args[@]}"
start api api --max-markets 100 --max-channels-per-creator 0
start publisher publisher --max-connections $((clients + 100)) "${publisher_args[@]}"
for r in reducer-1 reducer-2 api publisher; do
	wait_for 60 "$r ready" curl -fsS -o /dev/null "http://127.0.0.1:${port[$r]}/readyz" ||
		{ tail -5 "$st/$r.log" >&2; echo "sportsbook.sh: $r not ready" >&2; exit 1; }
done
# A rebalance inside a window would replay records (counted as duplicates)
# and stall the stream: measure only once the two reducers share all 12
# partitions, each owning some, the same way twice in a row a second apart.
owned() {
	local total=0 r v now=""
	for r in reducer-1 reducer-2; do
		v=$(curl -fsS "http://127.0.0.1:${port[$r]}/metrics" | awk '$1 == "sluice_reducer_partitions_owned" {print int($2)}')
		[ "${v:-0}" -gt 0 ] || return 1
		total=$((total + v)); now="$now $v"
	done
	[ "$total" -eq 12 ] || return 1
	[ "$now" = "${owned_last:-}" ] && return 0
	owned_last=$now; sleep 1; return 1
}
wait_for 90 "the reducers to own every partition" owned || { echo "sportsbook.sh: reducers did not settle" >&2; exit 1; }
pid[redis]=$(cat "$bench_sd/redis/pid"); pid[kafka]=$(cat "$bench_sd/kafka-1/pid")
# A fresh broker loads its transaction coordinator on the first idempotent
# producer (seconds of "Coordinator load in progress"): let a short feed
# pay that before any measured step, so no step starts with a backlog.
"$bin" feed --port 0 --markets "$markets" --rate 0 --count 100 --seed 3 --log-level error >/dev/null 2>&1 ||
	{ echo "sportsbook.sh: the warm-up feed failed" >&2; exit 1; }

# 10,000 channels of 5 random markets through the control API (keep-alive).
python3 - "${port[api]}" "$clients" "$markets" "$per" "$st/channels.txt" <<'PY' || exit 1
import http.client, json, random, sys
port, clients, markets, per, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rnd = random.Random(42)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
ids = []
for i in range(clients):
    ms = ["m-%04d" % m for m in rnd.sample(range(1, markets + 1), per)]
    c.request("POST", "/v1/channels", json.dumps({"markets": ms}), {"Content-Type": "application/json"})
    r = c.getresponse(); body = r.read()
    if r.status != 201:
        sys.exit("POST /v1/channels: %d %s" % (r.status, body[:200]))
    ids.append(json.loads(body)["channel"])
open(out, "w").write("\n".join(ids) + "\n")
print("sportsbook.sh: %d channels created" % len(ids), file=sys.stderr)
PY

cpu_of() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
metric() { curl -fsS "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {s += $2} END {printf "%.0f", s}'; }
scrape() { # tag: every role's /metrics into $st/<role>-<tag>.prom
	local r
	for r in reducer-1 reducer-2 publisher; do curl -fsS "http://127.0.0.1:${port[$r]}/metrics" > "$st/$r-$1.prom"; done
}
names=(feed reducer-1 reducer-2 api publisher redis kafka)

# one RATE: one measured step; prints a JSON line.
one() {
	local r=$1
	rm -f "$st/ready"
	local rss0; rss0=$(rss_kb "${pid[publisher]}")
	"$load" --url "127.0.0.1:${port[publisher]}" --clients "$clients" --channels-file "$st/channels.txt" \
		--warmup 3 --duration "$dur" --drain 3 --connect-rate 5000 --ready-file "$st/ready" \
		>"$st/load-$r.json" 2>"$st/load-$r.err" &
	local lp=$!
	wait_for 150 "clients subscribed" test -s "$st/ready" || return 1
	local rss1; rss1=$(rss_kb "${pid[publisher]}")
	start feed feed --markets "$markets" --rate "$r" --seed 7 "${feed_args[@]}"
	sleep 3 # the load generator's warm-up: its window starts now
	local c0=() c1=() hwm=() rec0 rec1
	for x in "${names[@]}"; do c0+=("$(cpu_of "${pid[$x]}")"); done
	scrape "$r-0"
	rec0=$(( $(metric "${port[reducer-1]}" sluice_reducer_records_in_total) + $(metric "${port[reducer-2]}" sluice_reducer_records_in_total) ))
	sleep "$dur"
	rec1=$(( $(metric "${port[reducer-1]}" sluice_reducer_records_in_total) + $(metric "${port[reducer-2]}" sluice_reducer_records_in_total) ))
	scrape "$r-1"
	for x in "${names[@]}"; do c1+=("$(cpu_of "${pid[$x]}")"); done
	for x in "${names[@]}"; do hwm+=("$(awk '/^VmHWM/ {print $2}' "/proc/${pid[$x]}/status")"); done
	wait "$lp"
	kill -TERM "${pid[feed]}"; wait "${pid[feed]}" 2>/dev/null
	python3 - "$r" "$(tail -1 "$st/load-$r.json")" "$rec0" "$rec1" "$dur" "${names[*]}" "${c0[*]}" "${c1[*]}" \
		"${hwm[*]}" "$rss0" "$rss1" "$clients" "$st" <<'PY'
import json, sys
sys.path.insert(0, "bench")
import promstat
r, lj, rec0, rec1, dur, names, c0, c1, hwm, rss0, rss1, clients, st = sys.argv[1:]
l = json.loads(lj)
procs = {n: {"cpu_s": round(float(b) - float(a), 2), "peak_rss_mb": round(int(h) / 1024, 1)}
         for n, a, b, h in zip(names.split(), c0.split(), c1.split(), hwm.split())}
procs["ws-load"] = {"cpu_s": l["cpu_s"], "peak_rss_mb": round(l["rss_kb"] / 1024, 1)}
def prom(role, tag):
    return open("%s/%s-%s-%s.prom" % (st, role, r, tag)).read()
red = ["reducer-1", "reducer-2"]
stages = {
    "taken by a reducer": promstat.stage([prom(x, 0) for x in red], [prom(x, 1) for x in red], "sluice_reducer_poll_latency_ms"),
    "acknowledged by Redis": promstat.stage([prom(x, 0) for x in red], [prom(x, 1) for x in red], "sluice_reducer_e2e_latency_ms"),
    "read by the publisher": promstat.stage([prom("publisher", 0)], [prom("publisher", 1)], "sluice_publisher_received_latency_ms"),
    "written to the socket": promstat.stage([prom("publisher", 0)], [prom("publisher", 1)], "sluice_publisher_e2e_latency_ms"),
    "read by the client": {"p50": l["p50_ms"], "p99": l["p99_ms"], "p999": l["p999_ms"]},
}
path = ["feed", "reducer-1", "reducer-2", "api", "publisher", "redis", "kafka"]
path_cpu = sum(procs[n]["cpu_s"] for n in path)
delivered = l["msgs_per_s"] * float(dur)
print(json.dumps(dict(rate=int(r), consumed_per_s=round((int(rec1) - int(rec0)) / float(dur), 1), delivered=l["msgs_per_s"],
                      p50=l["p50_ms"], p99=l["p99_ms"], p999=l["p999_ms"], lost=l["lost"], dup=l["dup"],
                      subscribed=l["subscribed"], closed=l["closed_by_server"], window_s=l["window_s"],
                      path_cpu_s=round(path_cpu, 2), msgs_per_path_cpu_s=round(delivered / path_cpu) if path_cpu else 0,
                      msgs_per_pub_cpu_s=round(delivered / procs["publisher"]["cpu_s"]) if procs["publisher"]["cpu_s"] else 0,
                      kib_per_conn=round((int(rss1) - int(rss0)) / int(clients), 2), stages=stages, procs=procs)))
PY
}

echo "sportsbook.sh: $clients clients x $per of $markets markets, rates $rates, ${dur}s each (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
steps=()
for r in $rates; do
	j=$(one "$r") || { echo "sportsbook.sh: step $r failed (logs in $st)" >&2; break; }
	echo "$j" >&2; steps+=("$j")
	[ -n "${BENCH_JSON_OUT:-}" ] && echo "$j" >> "$BENCH_JSON_OUT"
done
[ ${#steps[@]} -gt 0 ] || exit 1
python3 - "$(git rev-parse --short HEAD 2>/dev/null)" "$(cut -d' ' -f1-3 /proc/loadavg)" "${BENCH_NOTE:-}" \
	"${BENCH_FEED_ARGS:-}" "${BENCH_REDUCER_ARGS:-}" "${BENCH_PUBLISHER_ARGS:-}" "${steps[@]}" <<'PY' | tee -a bench/results/sportsbook.md
import json, sys, time
rev, load, note, fa, ra, pa = sys.argv[1:7]
steps = [json.loads(x) for x in sys.argv[7:]]
print("\n## %s  (git %s, load average %s)\n\n`bench/run-all.sh sportsbook`%s\n" % (
    time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), rev, load, (": " + note) if note else ""))
extra = ", ".join("%s `%s`" % (k, v) for k, v in (("feed", fa), ("reducers", ra), ("publisher", pa)) if v)
import os
print("Broker: `%s`, JVM `%s` (bench/lib.sh).\n" % (os.environ.get("SLUICE_KAFKA_EXTRA_PROPS", "").replace("\n", ", ") or "Kafka's defaults",
                                                    os.environ.get("SLUICE_KAFKA_JVM_OPTS") or "G1"))
if extra:
    print("Extra flags: %s.\n" % extra)
print("| feed upd/s | consumed rec/s | delivered msg/s | p50 ms | p99 ms | p99.9 ms | lost | dup | msgs per CPU-s, whole path | msgs per publisher CPU-s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for s in steps:
    print("| %d | %s | %s | %s | %s | %s | %d | %d | %s | %s |" % (s["rate"], s["consumed_per_s"], s["delivered"], s["p50"],
          s["p99"], s["p999"], s["lost"], s["dup"], s["msgs_per_path_cpu_s"], s["msgs_per_pub_cpu_s"]))
# The first step's clients are the first the publisher ever held: its RSS
# growth is their cost (later steps reuse memory freed by the ones before).
print("\nPublisher memory: %.2f KiB per connection (RSS growth for the first step's %d subscribed clients)." % (
    steps[0]["kib_per_conn"], steps[0]["subscribed"]))
def f(x):
    return "-" if x is None else "%.2f" % x
print("\nWhere the time goes (age of an update since its Kafka record timestamp, ms, p50 / p99 / p99.9):\n")
order = ["taken by a reducer", "acknowledged by Redis", "read by the publisher", "written to the socket", "read by the client"]
print("| feed upd/s | " + " | ".join(order) + " |")
print("|---|" + "---|" * len(order))
for s in steps:
    cells = []
    for k in order:
        v = s["stages"].get(k)
        cells.append("%s / %s / %s" % (f(v.get("p50")), f(v.get("p99")), f(v.get("p999"))) if v else "-")
    print("| %d | %s |" % (s["rate"], " | ".join(cells)))
print("\nCPU seconds (and peak RSS MB) per process over each step's window:\n")
names = list(steps[0]["procs"])
print("| feed upd/s | " + " | ".join(names) + " | whole path |")
print("|---|" + "---|" * (len(names) + 1))
for s in steps:
    print("| %d | %s | %s |" % (s["rate"], " | ".join("%s (%s)" % (s["procs"][n]["cpu_s"], s["procs"][n]["peak_rss_mb"]) for n in names),
                               s["path_cpu_s"]))
ok = [s for s in steps if s["p99"] <= 100 and s["lost"] == 0 and s["subscribed"]]
best = max(ok, key=lambda s: s["delivered"]) if ok else None
print("\nHighest delivered rate with p99 <= 100 ms and nothing lost: %s." % (
    "%d msg/s (feed %d upd/s, p99 %.1f ms)" % (best["delivered"], best["rate"], best["p99"]) if best else "none"))
PY
