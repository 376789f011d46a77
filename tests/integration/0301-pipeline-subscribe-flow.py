#!/usr/bin/env python3
"""0301: the subscribe flow end to end (SPEC section 2) with two reducers:
create channels through the API, open their streams (through the publisher
when it is built, else the Redis pub/sub channel), `begin`, produce more
records, and check against what Kafka holds: every channel gets a snapshot
then every later record of each subscribed market in offset order, nothing
missing and nothing twice after dedup by offset, with the exact values.
Covers many channels on one market and one channel on markets of every
partition (a snapshot from each of the two reducers). Then an unsubscribe stops that
market's updates, a DELETE sends `closed` and removes the channel from
Redis and from the reducers' maps, and Redis ends with Kafka's last record
of every market. Every role exits 0 on SIGTERM under ASan."""
import os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

name = "pl0301-%d" % os.getpid()
MARKETS = 40
# A reader that falls behind a burst would see the publisher conflate
# updates (its feature, tested by 0203); this test wants every record.
system_up(name, reducers=2, extra_env={"SLUICE_PUBLISHER_QUEUE_SOFT_LIMIT": "100000",
                                       "SLUICE_PUBLISHER_QUEUE_HARD_LIMIT": "200000"})
streams = {}
try:
    reducers = os.environ["SLUICE_REDUCER_URLS"].split()
    prefix = os.environ["SLUICE_REDIS_PREFIX"]
    feed(400, MARKETS, seed=11)

    def caught_up():
        recs = kafka_records()
        last = {}
        for r in recs:
            last[r["key"]] = r
        for m, r in last.items():
            st, body = api("GET", "/v1/markets/" + m)
            if st != 200 or body["offset"] != r["offset"]:
                return False
        return len(last) == MARKETS
    wait_for("reducers to store the first 400 records", caught_up, 60)
    ok("reducers stored every market's newest record")

    subs = {
        "A": ["m-0002", "m-0003", "m-0004"],
        "B1": ["m-0001"], "B2": ["m-0001"], "B3": ["m-0001"],
        "C": ["m-%04d" % i for i in range(1, MARKETS + 1)],
    }
    ids, clients = {}, {}
    for k, ms in subs.items():
        st, body = api("POST", "/v1/channels", {"markets": ms})
        expect_eq("create channel %s: 201" % k, 201, st)
        ids[k] = body["channel"]
        expect_eq("channel %s: stream path" % k, "/v1/stream/" + ids[k], body["stream"])
        streams[k] = Stream(ids[k])
        clients[k] = Client()
        st, _ = api("POST", "/v1/channels/%s/begin" % ids[k])
        expect_eq("begin %s: 202" % k, 202, st)

    proc = feed_async(600, MARKETS, 300, seed=12)

    def pump(until, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if until():
                return True
            for k, s in streams.items():
                msg = s.next(0.05)
                while msg is not None:
                    clients[k].take(msg)
                    msg = s.next(0.001) if msg.get("type") != "_eof" else None
        return until()

    proc.wait(timeout=60)
    recs = kafka_records()
    expect_eq("kafka holds 1000 records", 1000, len(recs))
    by_market = {}
    for r in recs:
        by_market.setdefault(r["key"], []).append(r)
    last = {m: rs[-1]["offset"] for m, rs in by_market.items()}

    def all_caught_up():
        return all(clients[k].held.get(m, (-1,))[0] == last[m] for k, ms in subs.items() for m in ms)
    if not pump(all_caught_up, 60):
        fail("streams did not reach Kafka's last offsets: %r" % {
            k: {m: (clients[k].held.get(m, (-1,))[0], last[m]) for m in ms if clients[k].held.get(m, (-1,))[0] != last[m]}
            for k, ms in subs.items()})
    ok("every channel reached the last offset of every subscribed market")

    # Exact content: after the snapshot, every later record, in order, once.
    for k, ms in subs.items():
        c = clients[k]
        if c.snapshots < 1:
            fail("channel %s got no snapshot" % k)
        for m in ms:
            if m not in c.snap:
                fail("channel %s: market %s missing from the snapshots" % (k, m))
            got = [o for o in c.accepted.get(m, []) if o > c.snap[m]]
            want = [r["offset"] for r in by_market[m] if r["offset"] > c.snap[m]]
            if got != want:
                fail("channel %s market %s: updates after snapshot offset %d: %r, Kafka %r" % (
                    k, m, c.snap[m], got[:20], want[:20]))
            held_value = c.held[m][1]
            kafka_value = json.loads(by_market[m][-1]["value"])
            if held_value != kafka_value:
                fail("channel %s market %s: value %r, Kafka %r" % (k, m, held_value, kafka_value))
    ok("after the snapshot, every record of Kafka (offsets and values), in order, once")
    parts = {r["partition"] for m in subs["C"] for r in by_market[m]}
    expect_eq("channel C spans every partition", 12, len(parts))
    if clients["C"].snapshots < 2:
        fail("channel C: %d snapshots, expected one per reducer (2)" % clients["C"].snapshots)
    ok("channel C: a snapshot from each reducer")
    expect_eq("many channels on one market: same history",
              clients["B1"].accepted.get("m-0001"), clients["B3"].accepted.get("m-0001"))

    def commands_applied(n):
        return all(metric(u, "sluice_reducer_commands_total") >= n for u in reducers)
    base = min(metric(u, "sluice_reducer_commands_total") for u in reducers)

    # Unsubscribe stops updates of that market.
    st, _ = api("DELETE", "/v1/channels/%s/subscriptions/m-0003" % ids["A"])
    expect_eq("unsubscribe: 204", 204, st)
    wait_for("every reducer to apply the unsubscribe", lambda: commands_applied(base + 1), 20)
    st, body = api("GET", "/v1/channels/" + ids["A"])
    expect_eq("channel A lists its markets", {"channel": ids["A"], "markets": ["m-0002", "m-0004"]}, body)
    before = list(clients["A"].accepted.get("m-0003", []))
    feed(200, MARKETS, seed=13)
    recs = kafka_records()
    last = {}
    for r in recs:
        last[r["key"]] = r["offset"]
    if not pump(lambda: all(clients["A"].held[m][0] == last[m] for m in ("m-0002", "m-0004")), 60):
        fail("channel A did not get the new records")
    expect_eq("no update of an unsubscribed market", before, clients["A"].accepted.get("m-0003", []))

    # Close: `closed` on the stream, Redis records gone, reducers' maps updated.
    subs_before = sum(metric(u, "sluice_reducer_subscriptions") for u in reducers)
    base = min(metric(u, "sluice_reducer_commands_total") for u in reducers)
    st, _ = api("DELETE", "/v1/channels/" + ids["B1"])
    expect_eq("close channel: 204", 204, st)
    if not pump(lambda: clients["B1"].closed, 20):
        fail("channel B1 got no `closed` message")
    ok("closed channel got {type: closed}")
    wait_for("every reducer to apply the close", lambda: commands_applied(base + 1), 20)
    r = Redis()
    expect_eq("channel record deleted", 0, r.cmd("EXISTS", prefix + "channel:" + ids["B1"]))
    expect_eq("channel market set deleted", 0, r.cmd("EXISTS", prefix + "channel:%s:markets" % ids["B1"]))
    left = [k for k in r.cmd("KEYS", prefix + "{p*}:subs") if any(ids["B1"] in m for m in r.cmd("SMEMBERS", k))]
    expect_eq("no subscription of the closed channel left", [], left)
    expect_eq("reducers forgot the closed channel", subs_before - 1,
              sum(metric(u, "sluice_reducer_subscriptions") for u in reducers))
    st, _ = api("GET", "/v1/channels/" + ids["B1"])
    expect_eq("closed channel: 404", 404, st)

    # Redis holds Kafka's last record of every market.
    for m in sorted(last):
        recs_m = [x for x in recs if x["key"] == m]
        st, body = api("GET", "/v1/markets/" + m)
        if st != 200 or body["offset"] != recs_m[-1]["offset"] or body["value"] != json.loads(recs_m[-1]["value"]):
            fail("market %s: API %r, Kafka offset %d" % (m, body, recs_m[-1]["offset"]))
    ok("Redis holds Kafka's newest record of all %d markets" % len(last))
    wait_for("consumer lag 0 on every reducer",
             lambda: all(metric(u, "sluice_reducer_consumer_lag") == 0 for u in reducers) and
             sum(metric(u, "sluice_reducer_records_in_total") for u in reducers) >= len(recs), 20)
    ok("reducers report consumer lag 0 and every record consumed")
    r.close()
finally:
    for s in streams.values():
        s.close()
    rc = system_down(name)
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
