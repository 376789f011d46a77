#!/usr/bin/env python3
"""0205: WebSocket clients through the real pipeline (Kafka, reducers, API,
publisher): a channel created by the API streams `subscribed`, then on
then exactly the Kafka records of its markets as updates (values and
offsets, in order, nothing of other markets), and on `begin` a snapshot; two
clients of one channel share the Redis subscriptions of the loop they landed
on (at most one per loop for the channel and for each market); DELETE of the channel
sends `closed`, then close 1000, and the channel is refused (404) after."""
import json, os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from publib import WS, expect_eq, fail, ok, wait_for  # noqa: E402
from pllib import api, feed, kafka_records, system_up, system_down  # noqa: E402

name = "pub0205-%d" % os.getpid()
system_up(name, reducers=2)
rc_down = None
try:
    port = int(os.environ["SLUICE_PUBLISHER_URL"].rsplit(":", 1)[1])
    from pllib import metric
    reducers = os.environ["SLUICE_REDUCER_URLS"].split()
    # Start once the group is settled (both reducers own partitions, all 12
    # owned): the scenario is the steady state, not a rebalance.
    wait_for("both reducers to own partitions",
             lambda: all(metric(u, "sluice_reducer_partitions_owned") > 0 for u in reducers) and
             sum(metric(u, "sluice_reducer_partitions_owned") for u in reducers) == 12, 60)
    mine = ["m-0001", "m-0002", "m-0003"]
    st, body = api("POST", "/v1/channels", {"markets": mine})
    expect_eq("create channel: 201", 201, st)
    cid = body["channel"]
    clients = [WS(port, "/v1/stream/" + cid, timeout=30) for _ in range(2)]
    for c in clients:
        expect_eq("subscribed first", {"type": "subscribed", "channel": cid}, c.message())
    # Records of 5 markets (2 of them not subscribed), produced by the feed.
    feed(40, 5, seed=5)
    recs = [r for r in kafka_records() if r["key"] in mine]
    if not recs or len({r["key"] for r in recs}) != 3:
        fail("the feed did not produce records of my 3 markets: %r" % recs[:5])
    ok("kafka holds %d records of my markets" % len(recs))
    last = {}
    for r in recs:
        last[r["key"]] = r["offset"]
    # The reducers own their partitions and stored the records: begin now.
    wait_for("reducers to store the records",
             lambda: all(api("GET", "/v1/markets/" + m)[1].get("offset") == last[m] for m in mine), 60)
    st, _ = api("POST", "/v1/channels/%s/begin" % cid)
    expect_eq("begin: 202", 202, st)
    for k, c in enumerate(clients):
        held, updates, snaps = {}, [], 0
        deadline = time.time() + 30
        while (snaps == 0 or any(held.get(m, -1) < last[m] for m in mine)) and time.time() < deadline:
            msg = c.message(timeout=30)
            if msg["type"] == "snapshot":
                snaps += 1
                for e in msg["markets"]:
                    if e["market"] not in mine:
                        fail("snapshot has a market the channel did not ask for: %r" % e)
                    held[e["market"]] = max(held.get(e["market"], -1), e["offset"])
            elif msg["type"] == "update":
                if msg["market"] not in mine:
                    fail("update for an unsubscribed market: %r" % msg)
                if msg["offset"] > held.get(msg["market"], -1):
                    held[msg["market"]] = msg["offset"]
                    updates.append((msg["market"], msg["offset"], msg["value"]))
        expect_eq("client %d: every market reached Kafka's last offset" % k, last, {m: held.get(m) for m in mine})
        if snaps < 1:
            fail("client %d: no snapshot" % k)
        # The channel existed before the records: every record of its markets
        # came as an update, exact value, in offset order, once.
        for m in mine:
            got = [(o, v) for mm, o, v in updates if mm == m]
            want = [(r["offset"], json.loads(r["value"])) for r in recs if r["key"] == m]
            expect_eq("client %d market %s: updates are Kafka's records in order" % (k, m), want, got)
    from publib import Redis
    rd = Redis()
    pre = os.environ["SLUICE_REDIS_PREFIX"]
    n = int(rd.cmd("PUBSUB", "NUMSUB", pre + "stream:" + cid).split()[-1])
    if not 1 <= n <= 2:
        fail("two clients: %d Redis subscriptions of the channel, expected one per loop holding it (1 or 2)" % n)
    ok("two clients, one Redis subscription of the channel per loop holding it (%d)" % n)
    for m in mine:
        expect_eq("market %s: as many subscriptions as the channel" % m, n,
                  int(rd.cmd("PUBSUB", "NUMSUB", pre + "market:" + m).split()[-1]))
    st, _ = api("DELETE", "/v1/channels/" + cid)
    expect_eq("delete: 204", 204, st)
    for k, c in enumerate(clients):
        while True:
            msg = c.message(timeout=30)
            if msg["type"] == "closed":
                break
        expect_eq("client %d: closed" % k, {"type": "closed", "channel": cid}, msg)
        expect_eq("client %d: close code 1000" % k, 1000, c.close_code())
    again = WS(port, "/v1/stream/" + cid)
    expect_eq("deleted channel: 404", 404, again.status)
except BaseException:
    # Say where the messages stopped before the roles go away.
    from pllib import metric
    for url in os.environ.get("SLUICE_REDUCER_URLS", "").split():
        print("diag reducer %s: messages_out=%s snapshots=%s" % (url, metric(url, "sluice_reducer_messages_out_total"),
              metric(url, "sluice_reducer_snapshots_total")), file=sys.stderr)
    pub = os.environ.get("SLUICE_PUBLISHER_URL")
    if pub:
        print("diag publisher: in=%s out=%s" % (metric(pub, "sluice_publisher_messages_in_total"),
              metric(pub, "sluice_publisher_messages_out_total")), file=sys.stderr)
    raise
finally:
    rc_down = system_down(name)
if rc_down != 0:
    fail("a role did not exit cleanly (rc %r)" % rc_down)
ok("every role exited 0 on SIGTERM")
