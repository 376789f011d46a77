#!/usr/bin/env python3
"""0303: reducers joining and dying under load. While a feed produces at
1000 records/s, a second reducer joins the group (cooperative rebalance:
the first one flushes and commits what it gives away, the second loads
those partitions from Redis), then the first reducer is SIGKILLed (the
second takes its partitions after the session timeout and redoes what was
not committed), then a third joins, then the second is stopped with SIGTERM (it drains,
commits and leaves the group; exit 0). Two channels subscribed to every market
must still receive every record of every market after their snapshot, in
offset order, nothing missing after dedup by offset, and Redis must end
with Kafka's last record of every market. The channels are read from
Redis pub/sub directly (the publisher conflates bursts for slow readers).
"""
import os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

name = "pl0303-%d" % os.getpid()
MARKETS = 60
KX = ["-X", "kafka.session.timeout.ms=6000", "-X", "kafka.heartbeat.interval.ms=500"]
system_up(name, reducers=0)
streams = {}
proc = None
try:
    role_start(name, "reducer-1", "reducer", *KX)
    feed(1200, MARKETS, seed=31)
    wait_for("first records stored", lambda: state_matches_kafka(), 60)
    markets = ["m-%04d" % i for i in range(1, MARKETS + 1)]
    clients = {}
    for k in ("X", "Y"):
        st, body = api("POST", "/v1/channels", {"markets": markets})
        expect_eq("create %s" % k, 201, st)
        # Straight from Redis: a new owner catching up publishes bursts that
        # the publisher would rightly conflate for a slow reader (its own
        # tests cover that); here every record must be there.
        streams[k] = Stream(body["channel"], direct=True)
        clients[k] = Client()
        expect_eq("begin %s" % k, 202, api("POST", "/v1/channels/%s/begin" % body["channel"])[0])

    def pump(seconds, until=lambda: False):
        deadline = time.time() + seconds
        while time.time() < deadline and not until():
            for k, s in streams.items():
                msg = s.next(0.02)
                while msg is not None:
                    clients[k].take(msg)
                    msg = s.next(0.001)
        return until()

    proc = feed_async(9000, MARKETS, 1000, seed=32)
    pump(1.5)
    role_start(name, "reducer-2", "reducer", *KX)
    ok("reducer-2 joined under load")
    pump(2.5)
    role_stop(name, "reducer-1", "KILL")
    ok("reducer-1 SIGKILLed under load")
    pump(2.0)
    role_start(name, "reducer-3", "reducer", *KX)
    ok("reducer-3 joined under load")
    pump(1.5)
    expect_eq("reducer-2 exits 0 on SIGTERM under load (drain, commit, leave)", 0, role_stop(name, "reducer-2"))
    proc.wait(timeout=60)
    proc = None
    recs = kafka_records()
    expect_eq("kafka holds every record", 10200, len(recs))
    by_market = {}
    for r in recs:
        by_market.setdefault(r["key"], []).append(r)
    last = {m: rs[-1]["offset"] for m, rs in by_market.items()}
    done = lambda: all(clients[k].held.get(m, (-1,))[0] == last[m] for k in clients for m in markets)
    if not pump(90, done):
        fail("clients did not reach Kafka's end: %r" % {k: [m for m in markets if clients[k].held.get(m, (-1,))[0] != last[m]][:5] for k in clients})
    for k, c in clients.items():
        for m in markets:
            got = [o for o in c.accepted.get(m, []) if o > c.snap[m]]
            want = [r["offset"] for r in by_market[m] if r["offset"] > c.snap[m]]
            if got != want:
                missing = sorted(set(want) - set(got))
                fail("channel %s market %s: %d updates missing (e.g. %r)" % (k, m, len(missing), missing[:10]))
    ok("both channels got every record of all %d markets after the snapshot, in order" % MARKETS)
    wait_for("Redis to hold Kafka's last record of every market", state_matches_kafka, 30)
    ok("Redis holds Kafka's last record of every market")
finally:
    if proc:
        proc.kill()
    for s in streams.values():
        s.close()
    rc = system_down(name)
if rc != 0:
    fail("a surviving role did not shut down cleanly")
ok("surviving roles exited 0 on SIGTERM")
