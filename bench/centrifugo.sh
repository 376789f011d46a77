#!/usr/bin/env bash
# centrifugo.sh: sluice and Centrifugo v6.9.1 side by side, in one run
# (`bench/run-all.sh centrifugo`).
#
# The same job for both, on this machine, one after the other in one
# invocation, in alternating rounds: 1,000 markets, 10,000 WebSocket
# clients of bench/ws-load.c each watching 5 of them (the same 5: both sides draw them with Python's
# random.Random(42), as bench/sportsbook.sh does), updates produced to a
# 12-partition topic of a private Kafka 3.9 broker (bench/lib.sh, same
# broker settings) at each rate of BENCH_RATES (1,000 / 2,000 / 3,000
# updates/s, so 50k / 100k / 150k messages/s delivered).
#   1. sluice: bench/sportsbook.sh's ladder (`sluice feed` -> Kafka -> 2
#      reducers -> Redis -> publisher -> clients), its step JSON collected.
#   2. Centrifugo: built by bench/install-centrifugo.sh, memory engine, one
#      node, a `markets` namespace that anonymous clients may subscribe to,
#      its Kafka consumer on the topic (bench/centrifugo-feed.c produces the
#      same walk as publish commands; a market is channel markets:m-0042),
#      so the path Kafka -> server -> WebSocket is the same as sluice's.
# Per rate and side: delivered messages/s, end-to-end latency p50/p99/p99.9
# (the feed's `ts`, the record timestamp in ms, -> read by the client),
# lost (per market, against the union of what its subscribers received;
# for Centrifugo also gaps in its per-market counter), delivered messages
# per CPU-second of the servers (sluice: Kafka, Redis, reducers, api,
# publisher; Centrifugo: Kafka, centrifugo; the feeds are listed apart),
# the server's RSS per connection, and sluice/Centrifugo ratios.
# Appends the table to bench/results/centrifugo.md (sluice's own tables
# also go to bench/results/sportsbook.md). Never fails on a number.
# Knobs (env): BENCH_RATES ("1000 2000 3000"), BENCH_DURATION (15 s),
# BENCH_CLIENTS (10000), BENCH_MARKETS (1000), BENCH_ROUNDS (2: sluice,
# Centrifugo, sluice, Centrifugo; the table shows the medians and every
# round's p50/p99), BENCH_ONLY (sluice or centrifugo: one side only, for
# trying things), BENCH_NOTE.
# Non-goals: Centrifugo's Redis engine, history/recovery, protobuf, tuning
# Centrifugo beyond its defaults (its config is printed in the results).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh

export BENCH_RATES=${BENCH_RATES:-"1000 2000 3000"}
export BENCH_DURATION=${BENCH_DURATION:-15}
export BENCH_CLIENTS=${BENCH_CLIENTS:-10000}
export BENCH_MARKETS=${BENCH_MARKETS:-1000}
clients=$BENCH_CLIENTS markets=$BENCH_MARKETS rates=$BENCH_RATES dur=$BENCH_DURATION per=5
only=${BENCH_ONLY:-}
rounds=${BENCH_ROUNDS:-2}
bin=$root/build/sluice
load=$root/build/bench/ws-load
cfeed=$root/build/bench/centrifugo-feed
[ -x "$bin" ] && [ -x "$load" ] && [ -x "$cfeed" ] || { echo "centrifugo.sh: run make all benches first" >&2; exit 1; }
cbin=$(bench/install-centrifugo.sh) || { echo "centrifugo.sh: could not build Centrifugo" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((clients + 200)) ] || { echo "centrifugo.sh: need $((clients + 200)) open files" >&2; exit 1; }

out=$SLUICE_STATE/bench-centrifugo-run
rm -rf "$out"; mkdir -p "$out"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# 1. sluice's ladder.
sluice_side() {
	BENCH_JSON_OUT=$out/sluice.jsonl BENCH_NOTE="sluice side of bench/centrifugo.sh${BENCH_NOTE:+, $BENCH_NOTE}" \
		bash bench/sportsbook.sh >/dev/null
}

# 2. Centrifugo's ladder, on a broker of its own.
. bench/lib.sh
centrifugo_side() {
	bench_stack_up centrifugo
	local cport; cport=$(free_port)
	local group=centrifugo-bench-$RANDOM
	cat > "$st/config.json" <<EOF
{
  "http_server": {"address": "127.0.0.1", "port": $cport},
  "log": {"level": "warn"},
  "engine": {"type": "memory"},
  "client": {"allow_anonymous_connect_without_token": true},
  "channel": {"namespaces": [{"name": "markets", "allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true}]},
  "health": {"enabled": true},
  "consumers": [{"name": "feed", "enabled": true, "type": "kafka",
                 "kafka": {"brokers": ["$SLUICE_KAFKA_BROKERS"], "topics": ["$SLUICE_DATA_TOPIC"], "consumer_group": "$group"}}]
}
EOF
	cp "$st/config.json" "$out/centrifugo-config.json"
	"$cbin" --config "$st/config.json" >"$st/centrifugo.log" 2>&1 &
	local cpid=$!; pids+=($!)
	wait_for 60 "Centrifugo ready" curl -fsS -o /dev/null "http://127.0.0.1:$cport/health" ||
		{ tail -5 "$st/centrifugo.log" >&2; return 1; }
	local kpid; kpid=$(cat "$bench_sd/kafka-1/pid")
	# The consumer must own every partition, with nothing left to read,
	# before a measured step: a warm-up feed of 20 s at 1,000 records/s (it
	# pays the broker's first idempotent producer and warms its JIT, as the
	# 10,000 channel commands and the reducers' settling do on the sluice
	# side: with 5 s, the broker still spent 0.33 core in the first step
	# and 0.13 in the next), then the group's lag must reach 0 on 12
	# partitions.
	"$cfeed" --brokers "$SLUICE_KAFKA_BROKERS" --topic "$SLUICE_DATA_TOPIC" --markets "$markets" --rate 1000 \
		--count 20000 >/dev/null 2>"$st/warmup.err" || { cat "$st/warmup.err" >&2; return 1; }
	caught_up() {
		"$bin" groups --describe --group "$group" 2>/dev/null > "$st/group.txt" || return 1
		python3 - "$st/group.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
head = next((r for r in rows if "LAG" in r), None)
if not head:
    sys.exit(1)
i, e = head.index("LAG"), head.index("LOG-END-OFFSET")
parts = [r for r in rows[rows.index(head) + 1:] if len(r) > i]
# Caught up: lag 0, or a partition the warm-up left empty.
sys.exit(0 if len(parts) >= 12 and all(r[i] == "0" or r[e] == "0" for r in parts) else 1)
PY
	}
	wait_for 90 "Centrifugo's consumer to catch up" caught_up ||
		{ cat "$st/group.txt" >&2; tail -5 "$st/centrifugo.log" >&2; return 1; }
	# The same 5 markets per client as sluice's channels (sportsbook.sh).
	python3 - "$clients" "$markets" "$per" "$st/channels.txt" <<'PY' || return 1
import random, sys
clients, markets, per, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd = random.Random(42)
lines = [" ".join("markets:m-%04d" % m for m in rnd.sample(range(1, markets + 1), per)) for _ in range(clients)]
open(out, "w").write("\n".join(lines) + "\n")
PY
	cpu_of() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat" 2>/dev/null || echo 0; }
	rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
	local r
	for r in $rates; do
		rm -f "$st/ready"
		local rss0; rss0=$(rss_kb "$cpid")
		"$load" --proto centrifugo --url "127.0.0.1:$cport" --clients "$clients" --channels-file "$st/channels.txt" \
			--warmup 3 --duration "$dur" --drain 3 --connect-rate 5000 --ready-file "$st/ready" \
			>"$st/load-$r.json" 2>"$st/load-$r.err" &
		local lp=$!
		wait_for 150 "clients subscribed" test -s "$st/ready" || { tail -3 "$st/load-$r.err" >&2; return 1; }
		local rss1; rss1=$(rss_kb "$cpid")
		"$cfeed" --brokers "$SLUICE_KAFKA_BROKERS" --topic "$SLUICE_DATA_TOPIC" --markets "$markets" --rate "$r" \
			--seed 7 >"$st/feed-$r.json" 2>"$st/feed-$r.err" &
		local fp=$!
		sleep 3 # the load generator's warm-up: its window starts now
		local c0 k0 f0 c1 k1 f1 hwm
		c0=$(cpu_of "$cpid"); k0=$(cpu_of "$kpid"); f0=$(cpu_of "$fp")
		sleep "$dur"
		c1=$(cpu_of "$cpid"); k1=$(cpu_of "$kpid"); f1=$(cpu_of "$fp")
		hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$cpid/status")
		wait "$lp"
		kill -TERM "$fp"; wait "$fp" 2>/dev/null
		python3 - "$r" "$(tail -1 "$st/load-$r.json")" "$c0" "$c1" "$k0" "$k1" "$f0" "$f1" "$hwm" "$rss0" "$rss1" \
			"$clients" "$dur" <<'PY' >> "$out/centrifugo.jsonl"
import json, sys
r, lj, c0, c1, k0, k1, f0, f1, hwm, rss0, rss1, clients, dur = sys.argv[1:]
l = json.loads(lj)
procs = {"centrifugo": {"cpu_s": round(float(c1) - float(c0), 2), "peak_rss_mb": round(int(hwm) / 1024, 1)},
         "kafka": {"cpu_s": round(float(k1) - float(k0), 2)},
         "feed": {"cpu_s": round(float(f1) - float(f0), 2)},
         "ws-load": {"cpu_s": l["cpu_s"], "peak_rss_mb": round(l["rss_kb"] / 1024, 1)}}
servers = procs["centrifugo"]["cpu_s"] + procs["kafka"]["cpu_s"]
delivered = l["msgs_per_s"] * float(dur)
print(json.dumps(dict(rate=int(r), delivered=l["msgs_per_s"], p50=l["p50_ms"], p99=l["p99_ms"], p999=l["p999_ms"],
                      lost=l["lost"], gaps=l["gaps"], dup=l["dup"], subscribed=l["subscribed"],
                      closed=l["closed_by_server"], server_errors=l["server_errors"],
                      servers_cpu_s=round(servers, 2), msgs_per_servers_cpu_s=round(delivered / servers) if servers else 0,
                      kib_per_conn=round((int(rss1) - int(rss0)) / int(clients), 2), procs=procs)))
PY
		tail -1 "$out/centrifugo.jsonl" >&2
	done
}
# Rounds alternate the sides (sluice, Centrifugo, sluice, ...) so that
# what else runs on the machine weighs on both alike; the table gives the
# median of the rounds.
loads=()
for round in $(seq 1 "$rounds"); do
	if [ "$only" != centrifugo ]; then
		l0=$(loadavg)
		echo "centrifugo.sh: round $round/$rounds, sluice (load average $l0)" >&2
		sluice_side || echo "centrifugo.sh: the sluice side failed" >&2
		loads+=("sluice round $round: $l0 / $(loadavg)")
	fi
	if [ "$only" != sluice ]; then
		l0=$(loadavg)
		echo "centrifugo.sh: round $round/$rounds, $("$cbin" version 2>/dev/null | head -1) (load average $l0)" >&2
		( centrifugo_side ) || echo "centrifugo.sh: the Centrifugo side failed (logs in $SLUICE_STATE/bench-centrifugo)" >&2
		loads+=("Centrifugo round $round: $l0 / $(loadavg)")
	fi
done

touch "$out/sluice.jsonl" "$out/centrifugo.jsonl"
python3 - "$out" "$(git rev-parse --short HEAD 2>/dev/null)" "$clients" "$markets" "$dur" "$rounds" "${BENCH_NOTE:-}" \
	"${loads[@]}" <<'PY' | tee -a bench/results/centrifugo.md
import json, statistics, sys, time
out, rev, clients, markets, dur, rounds, note = sys.argv[1:8]
loads = sys.argv[8:]
def rows(name):
    by = {}
    for l in open("%s/%s.jsonl" % (out, name)):
        if l.strip():
            s = json.loads(l)
            by.setdefault(s["rate"], []).append(s)
    return by
RS, RC = rows("sluice"), rows("centrifugo")
for runs in RS.values():
    for s in runs:
        p = s["procs"]
        s["servers_cpu_s"] = round(sum(p[n]["cpu_s"] for n in ("reducer-1", "reducer-2", "api", "publisher", "redis", "kafka")), 2)
        s["msgs_per_servers_cpu_s"] = round(s["delivered"] * float(dur) / s["servers_cpu_s"]) if s["servers_cpu_s"] else 0
        s["gaps"] = None
def med(runs):
    """The median of every number over the rounds; lost and gaps: the most."""
    m = dict(runs[0])
    for k in ("delivered", "p50", "p99", "p999", "msgs_per_servers_cpu_s", "servers_cpu_s", "kib_per_conn"):
        m[k] = statistics.median(r[k] for r in runs)
    for k in ("lost", "gaps"):
        m[k] = None if runs[0][k] is None else max(r[k] for r in runs)
    m["subscribed"] = min(r["subscribed"] for r in runs)
    m["rounds"] = len(runs)
    return m
S = {r: med(v) for r, v in RS.items()}
C = {r: med(v) for r, v in RC.items()}
print("\n## %s  (git %s)\n" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), rev))
print("`bench/run-all.sh centrifugo`: %s clients x 5 of %s markets, %s s per step, %s round(s) alternating the sides, "
      "medians of the rounds%s. Load average (1/5/15 min) before / after each side: %s.\n" % (
      clients, markets, dur, rounds, (": " + note) if note else "", "; ".join(loads)))
def f(x, d=2):
    return "-" if x is None else ("%.*f" % (d, x) if isinstance(x, float) else "{:,}".format(x))
def n(x):
    return "{:,}".format(round(x))
def ratio(a, b, inv=False):
    if a is None or b is None or not a or not b:
        return "-"
    return "%.2f" % ((b / a) if inv else (a / b))
print("| upd/s | side | delivered msg/s | p50 ms | p99 ms | p99.9 ms | lost | gaps | msgs per server CPU-s | server CPU (cores) | KiB/conn |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
# The first step's clients are the first the server ever held: its RSS
# growth is their cost (later steps reuse memory freed by the ones before).
first = min(set(S) | set(C)) if S or C else None
for r in sorted(set(S) | set(C)):
    for name, t in (("sluice", S.get(r)), ("Centrifugo", C.get(r))):
        if not t:
            print("| %d | %s | not run | | | | | | | | |" % (r, name)); continue
        print("| %d | %s | %s | %s | %s | %s | %d | %s | %s | %.2f | %s |" % (
            r, name, n(t["delivered"]), f(t["p50"]), f(t["p99"]), f(t["p999"]), t["lost"], f(t["gaps"]),
            n(t["msgs_per_servers_cpu_s"]), t["servers_cpu_s"] / float(dur), f(t["kib_per_conn"]) if r == first else "-"))
print("\nsluice / Centrifugo (latency: below 1 is better for sluice; delivered and msgs per CPU-s: above 1 is better; "
      "KiB/conn, the server's RSS growth per subscribed client in the first step: below 1 is better):\n")
print("| upd/s | delivered | p50 | p99 | p99.9 | msgs per server CPU-s | KiB/conn |")
print("|---|---|---|---|---|---|---|")
for r in sorted(set(S) & set(C)):
    s, c = S[r], C[r]
    print("| %d | %s | %s | %s | %s | %s | %s |" % (r, ratio(s["delivered"], c["delivered"]), ratio(s["p50"], c["p50"]),
          ratio(s["p99"], c["p99"]), ratio(s["p999"], c["p999"]), ratio(s["msgs_per_servers_cpu_s"], c["msgs_per_servers_cpu_s"]),
          ratio(s["kib_per_conn"], c["kib_per_conn"]) if r == first else "-"))
print("\nEach round: p50 / p99 ms, then CPU seconds per process over the %s s window (servers, then the feeds and "
      "the load generator, which are not counted):\n" % dur)
for name, T, keys in (("sluice", RS, ["kafka", "redis", "reducer-1", "reducer-2", "api", "publisher", "feed", "ws-load"]),
                      ("Centrifugo", RC, ["kafka", "centrifugo", "feed", "ws-load"])):
    for r in sorted(T):
        for i, t in enumerate(T[r]):
            p = t["procs"]
            print("- %s %d upd/s, round %d: %s / %s ms; %s" % (name, r, i + 1, t["p50"], t["p99"],
                  ", ".join("%s %s" % (k, p[k]["cpu_s"]) for k in keys if k in p)))
for name, T in (("sluice", S), ("Centrifugo", C)):
    if not T:
        continue
    ok = [t for t in T.values() if t["p99"] <= 100 and t["lost"] == 0 and not t.get("gaps") and t["subscribed"] == int(clients)]
    best = max(ok, key=lambda t: t["delivered"]) if ok else None
    print("\n%s: highest delivered rate with p99 <= 100 ms and nothing lost: %s." % (
        name, "%s msg/s (%d upd/s, p99 %.1f ms)" % (f(round(best["delivered"])), best["rate"], best["p99"]) if best else "none"))
PY
