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
# BENCH_TLS=on runs every scenario over TLS (wss://, a self-signed
# certificate made here, verified by ws-load); BENCH_TLS=compare runs only
# sportsbook-shape, BENCH_RUNS rounds of TLS off and on (the order rotated
# each round), and reports the medians of each side and their ratios
# (the cost of TLS on the fan-out path, docs/security.md). With
# BENCH_BASE_BIN=path/to/an/older/sluice, each round runs that binary too
# (TLS off), so one run also compares TLS off with an older build
# (BENCH_BASE_LABEL names it in the table, e.g. its commit).
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

tls_mode=${BENCH_TLS:-off}
case $tls_mode in off|on|compare) ;; *) echo "publisher.sh: BENCH_TLS must be off, on or compare" >&2; exit 1 ;; esac
tls=0; [ "$tls_mode" = on ] && tls=1
if [ "$tls_mode" != off ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$st/tls-key.pem" -out "$st/tls-cert.pem" 2>/dev/null ||
		{ echo "publisher.sh: openssl could not make a certificate" >&2; exit 1; }
fi

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
	# With TLS (the global tls=1): the publisher serves wss://, ws-load verifies it.
	local ptls=() ltls=() ctls=() scheme=http
	if [ "$tls" = 1 ]; then
		ptls=(--tls-cert-file "$st/tls-cert.pem" --tls-key-file "$st/tls-key.pem")
		ltls=(--tls --tls-ca "$st/tls-cert.pem"); ctls=(--cacert "$st/tls-cert.pem"); scheme=https
	fi
	"${run_bin:-$bin}" publisher --port "$pport" --listen-host 127.0.0.1 --redis-url "redis://127.0.0.1:$rport/0" \
		--redis-prefix "$prefix" --log-level warn --max-connections $((clients + 100)) "${ptls[@]}" ${BENCH_PUBLISHER_ARGS:-} \
		>"$st/pub-$n.log" 2>&1 &
	pub_pid=$!
	wait_for 10 "publisher" curl -fsS "${ctls[@]}" -o /dev/null "$scheme://127.0.0.1:$pport/readyz" || return 1
	local rss0; rss0=$(rss_kb "$pub_pid")
	local chopt=(); [ "$ch" -gt 0 ] && chopt=(--channels "$ch")
	"$feed" --redis "127.0.0.1:$rport" --prefix "$prefix" --channel-prefix "$cp" --clients "$clients" \
		--markets "$markets" --per-client "$per" "${chopt[@]}" --create-only >/dev/null 2>&1 || return 1
	rm -f "$st/ready"
	"$load" --url "127.0.0.1:$pport" --clients "$clients" --channel-prefix "$cp" "${chopt[@]}" "${ltls[@]}" --warmup 2 \
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
           redis_publishes_per_s=f.get("publishes_per_s", 0), exit=int(prc), hs_failed=l["handshake_failed"])
print(json.dumps(out))
PY
}

echo "publisher.sh: $clients clients, $markets markets x $per per client, $runs runs of ${dur}s, TLS $tls_mode (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
if [ "$tls_mode" = compare ]; then
	offs=(); ons=(); bases=()
	sides=(off on); base_ver=""
	if [ -n "${BENCH_BASE_BIN:-}" ]; then
		[ -x "$BENCH_BASE_BIN" ] || { echo "publisher.sh: BENCH_BASE_BIN $BENCH_BASE_BIN is not executable" >&2; exit 1; }
		sides=(base off on); base_ver=${BENCH_BASE_LABEL:-$BENCH_BASE_BIN}
	fi
	for i in $(seq 1 "$runs"); do
		# Rotate the order each round, so no side always runs first.
		for k in $(seq 0 $((${#sides[@]} - 1))); do
			side=${sides[$(( (k + i) % ${#sides[@]} ))]}
			tls=0; run_bin=$bin
			[ "$side" = on ] && tls=1
			[ "$side" = base ] && run_bin=$BENCH_BASE_BIN
			j=$(run "sportsbook-shape $side" "$rate" "$dur" 0) || { echo "run failed" >&2; exit 1; }
			echo "$j" >&2
			case $side in on) ons+=("$j") ;; off) offs+=("$j") ;; base) bases+=("$j") ;; esac
		done
	done
	run_bin=""
	cmd="BENCH_TLS=compare${BENCH_BASE_BIN:+ BENCH_BASE_BIN=$BENCH_BASE_BIN} bench/run-all.sh publisher"
	python3 - "$cmd" "$(git rev-parse --short HEAD 2>/dev/null)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)" "$runs" "$base_ver" "${offs[@]}" "${ons[@]}" "${bases[@]}" <<'PY' | tee -a bench/results/publisher.md
import json, statistics, sys, time
cmd, rev, load, n, base_ver = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rs = [json.loads(x) for x in sys.argv[6:]]
off, on, base = rs[:n], rs[n:2 * n], rs[2 * n:]
cols = [("delivered", "delivered msg/s"), ("p50", "p50 ms"), ("p99", "p99 ms"), ("p999", "p99.9 ms"),
        ("lost", "lost"), ("pub_cpu_s", "publisher CPU s"), ("msgs_per_cpu_s", "msgs/CPU-s"),
        ("kib_per_conn", "KiB/conn"), ("pub_peak_rss_mb", "peak RSS MB"), ("load_cpu_s", "ws-load CPU s"),
        ("hs_failed", "handshakes failed")]
med = lambda rs, k: statistics.median(r[k] for r in rs)
print("\n## %s  (git %s, load average %s): TLS off vs on\n\n`%s`\n" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), rev, load, cmd))
print("sportsbook-shape, %d runs each side, the order rotated each round; medians (each run's JSON on stderr).%s\n" % (
    n, " base: %s, TLS off." % base_ver if base else ""))
print("| build, TLS | " + " | ".join(c[1] for c in cols) + " |")
print("|---|" + "---|" * len(cols))
sides = ([("base, off", base)] if base else []) + [("this, off", off), ("this, on", on)]
for name, side in sides:
    print("| %s | %s |" % (name, " | ".join(str(round(med(side, k), 2)) for k, _ in cols)))
def ratio(name, a, b):
    print("| %s | %s |" % (name, " | ".join(("%.2f" % (med(a, k) / med(b, k))) if med(b, k) else "-" for k, _ in cols)))
if base:
    ratio("off / base", off, base)
ratio("on / off", on, off)
PY
	exit 0
fi
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
