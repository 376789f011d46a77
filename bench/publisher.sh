#!/usr/bin/env bash
# publisher.sh: the publisher-only fan-out benchmark (`bench/run-all.sh publisher`).
#
# What it measures: `sluice publisher` alone, fed straight through Redis by
# bench/publisher-feed.c (which does the reducers' job: one PUBLISH per
# market update, on the market's channel), read by bench/ws-load.c (10,000
# WebSocket clients on one libuv loop). Scenarios, side by side:
#   sportsbook-shape  1,000 markets, 10,000 clients with 5 random markets
#                     each, one channel per client, 2,000 updates/s
#                     (~100,000 messages/s delivered); median of BENCH_RUNS
#   shared-channels   the same clients on 100 shared channels: each Redis
#                     message is one shared frame written to ~100 sockets
#   saturation        sportsbook-shape at each rate of a ladder (every step
#                     runs: on a shared machine one noisy step must not end
#                     the ladder); the best delivered rate with p99 under
#                     100 ms, and the best at any latency, are reported
# Per run: delivered messages/s, latency p50/p99/p99.9 (update ts -> read by
# the client), lost and duplicated messages, publisher CPU seconds and
# messages per CPU-second, publisher RSS per idle connection (KiB), peak RSS,
# Redis CPU. Appends a markdown table to bench/results/publisher.md.
# Knobs (env): BENCH_CLIENTS (10000), BENCH_RATE (2000), BENCH_DURATION (15),
# BENCH_RUNS (3), BENCH_SAT_RATES ("500 1000 2000 3000 4000 6000").
# Never fails on a number; exits non-zero only when it could not run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh

clients=${BENCH_CLIENTS:-10000}
rate=${BENCH_RATE:-2000}
dur=${BENCH_DURATION:-15}
runs=${BENCH_RUNS:-3}
sat_rates=${BENCH_SAT_RATES:-"500 1000 2000 3000 4000 6000"}
markets=1000
per=5
bin=build/sluice
load=build/bench/ws-load
feed=build/bench/publisher-feed
[ -x "$bin" ] && [ -x "$load" ] && [ -x "$feed" ] || { echo "publisher.sh: run make all benches first" >&2; exit 1; }

st=$SLUICE_STATE/bench-publisher
rm -rf "$st"; mkdir -p "$st"
ulimit -n "$(ulimit -Hn)" 2>/dev/null
need=$((clients + 200))
[ "$(ulimit -n)" -ge "$need" ] || { echo "publisher.sh: need $need open files, ulimit -n is $(ulimit -n)" >&2; exit 1; }

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
	--pidfile "$st/redis.pid" --dir "$st" --logfile "$st/redis.log" >/dev/null || { echo "redis failed" >&2; exit 1; }
wait_for 10 redis redis-cli -p "$rport" ping || exit 1
rpid=$(cat "$st/redis.pid")
pub_pid=""; load_pid=""
cleanup() {
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
	[ -n "$pub_pid" ] && kill "$pub_pid" 2>/dev/null
	kill "$rpid" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2"; }

# run NAME RATE DURATION CHANNELS(0: one per client): prints one JSON line.
run() {
	local name=$1 r=$2 d=$3 ch=$4 n=$((RANDOM))
	local pport; pport=$(free_port)
	local prefix="b$n:" cp="c$n"
	"$bin" publisher --port "$pport" --listen-host 127.0.0.1 --redis-url "redis://127.0.0.1:$rport/0" \
		--redis-prefix "$prefix" --log-level warn --max-connections $((clients + 100)) ${BENCH_PUBLISHER_ARGS:-} \
		>"$st/pub-$n.log" 2>&1 &
	pub_pid=$!
	wait_for 10 "publisher" curl -fsS -o /dev/null "http://127.0.0.1:$pport/readyz" || return 1
	local rss0; rss0=$(rss_kb "$pub_pid")
	local chopt=(); [ "$ch" -gt 0 ] && chopt=(--channels "$ch")
	"$feed" --redis "127.0.0.1:$rport" --prefix "$prefix" --channel-prefix "$cp" --clients "$clients" \
		--markets "$markets" --per-client "$per" "${chopt[@]}" --create-only >/dev/null 2>&1 || return 1
	rm -f "$st/ready"
	"$load" --url "127.0.0.1:$pport" --clients "$clients" --channel-prefix "$cp" "${chopt[@]}" --warmup 2 \
		--duration "$d" --drain 2 --connect-rate 5000 --ready-file "$st/ready" >"$st/load-$n.json" 2>"$st/load-$n.err" &
	load_pid=$!
	wait_for 150 "clients subscribed" test -s "$st/ready" || return 1
	local rss1; rss1=$(rss_kb "$pub_pid")
	local pc0 rc0; pc0=$(cpu_s "$pub_pid"); rc0=$(cpu_s "$rpid")
	local fo; fo=$("$feed" --redis "127.0.0.1:$rport" --prefix "$prefix" --channel-prefix "$cp" --clients "$clients" \
		--markets "$markets" --per-client "$per" "${chopt[@]}" --rate "$r" --duration $((d + 3)) 2>/dev/null)
	wait "$load_pid"; load_pid=""
	local pc1 rc1; pc1=$(cpu_s "$pub_pid"); rc1=$(cpu_s "$rpid")
	local hwm; hwm=$(hwm_kb "$pub_pid")
	kill -TERM "$pub_pid"; wait "$pub_pid"; local prc=$?; pub_pid=""
	local lj; lj=$(tail -1 "$st/load-$n.json")
	python3 - "$name" "$r" "$lj" "$fo" "$rss0" "$rss1" "$hwm" "$pc0" "$pc1" "$rc0" "$rc1" "$clients" "$prc" <<'PY'
import json, sys
name, rate, lj, fo, rss0, rss1, hwm, pc0, pc1, rc0, rc1, clients, prc = sys.argv[1:]
l = json.loads(lj); f = json.loads(fo) if fo.strip() else {}
pub_cpu = float(pc1) - float(pc0)
out = dict(scenario=name, rate=int(rate), delivered=l["msgs_per_s"], p50=l["p50_ms"], p99=l["p99_ms"],
           p999=l["p999_ms"], lost=l["lost"], dup=l["dup"], gaps=l["gaps"], subscribed=l["subscribed"],
           closed=l["closed_by_server"], pub_cpu_s=round(pub_cpu, 2),
           msgs_per_cpu_s=round(l["messages_total"] / pub_cpu) if pub_cpu > 0 else 0,
           kib_per_conn=round((int(rss1) - int(rss0)) / int(clients), 2), pub_peak_rss_mb=round(int(hwm) / 1024, 1),
           redis_cpu_s=round(float(rc1) - float(rc0), 2), load_cpu_s=l["cpu_s"], load_rss_mb=round(l["rss_kb"] / 1024, 1),
           redis_publishes_per_s=f.get("publishes_per_s", 0), exit=int(prc))
print(json.dumps(out))
PY
}

echo "publisher.sh: $clients clients, $markets markets x $per per client, $runs runs of ${dur}s (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
results=()
for i in $(seq 1 "$runs"); do
	j=$(run sportsbook-shape "$rate" "$dur" 0) || { echo "run failed" >&2; exit 1; }
	echo "$j" >&2; results+=("$j")
done
j=$(run shared-channels "$rate" "$dur" 100) || exit 1
echo "$j" >&2; shared=$j
sat=()
for r in $sat_rates; do
	j=$(run saturation "$r" 8 0) || break
	echo "$j" >&2; sat+=("$j")
done

cmd="bench/run-all.sh publisher"
python3 - "$cmd" "$(git rev-parse --short HEAD 2>/dev/null)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$shared" "${#results[@]}" "${results[@]}" "${sat[@]}" <<'PY' | tee -a bench/results/publisher.md
import json, statistics, sys, time
cmd, rev, load, shared = sys.argv[1:5]
n = int(sys.argv[5]); runs = [json.loads(x) for x in sys.argv[6:6 + n]]; sat = [json.loads(x) for x in sys.argv[6 + n:]]
shared = json.loads(shared)
def med(k): return statistics.median(r[k] for r in runs)
cols = ["delivered", "p50", "p99", "p999", "lost", "dup", "pub_cpu_s", "msgs_per_cpu_s", "kib_per_conn", "pub_peak_rss_mb", "redis_cpu_s"]
print("\n## %s  (git %s, load average %s)\n\n`%s`\n" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), rev, load, cmd))
print("| scenario | rate (upd/s) | delivered msg/s | p50 ms | p99 ms | p99.9 ms | lost | dup | publisher CPU s | msgs/CPU-s | KiB/conn | peak RSS MB | Redis CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
def row(name, rate, get):
    print("| %s | %s | %s |" % (name, rate, " | ".join(str(get(c)) for c in cols)))
row("sportsbook-shape (median of %d)" % len(runs), runs[0]["rate"], lambda c: round(med(c), 2))
row("shared-channels (100 channels)", shared["rate"], lambda c: shared[c])
for s in sat:
    row("saturation", s["rate"], lambda c, s=s: s[c])
ok = [s for s in sat if 0 < s["p99"] <= 100]
best = max(ok, key=lambda s: s["delivered"]) if ok else None
print("\nSaturation: highest delivered rate with p99 <= 100 ms: %s msg/s%s." % (
    round(best["delivered"]) if best else "n/a", " (at %d updates/s, p99 %.1f ms)" % (best["rate"], best["p99"]) if best else ""))
peak = max([med("delivered")] + [s["delivered"] for s in sat])
print("Highest delivered rate at any latency: %d msg/s." % round(peak))
print("Side by side: shared channels deliver %.1fx the messages per publisher CPU-second of one channel per client." % (
    shared["msgs_per_cpu_s"] / max(1, med("msgs_per_cpu_s"))))
PY
