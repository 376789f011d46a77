#!/usr/bin/env python3
"""0206: one publisher with three event loops and per-market fan-out.

Thirty clients (WebSocket and SSE) of ten channels over overlapping
markets spread over the loops (SO_REUSEPORT). Each client gets
`subscribed` only once its channel's markets are subscribed in Redis, then
exactly the updates of its channel's markets, in order, each published
once per market whoever watches it; a loop subscribes a market at most
once (so a market has at most three subscribers here). A change of a
channel's market set (what the API's scripts publish) is followed by every
loop holding the channel; when the clients leave, every subscription goes;
SIGTERM closes every client with 1001 and exits 0 with no leak."""
import json, os, random, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from publib import *

redis, own = test_redis("0206")
prefix = "t0206-%d:" % os.getpid()
LOOPS = 3
pub = Publisher(redis, prefix, "--loops", str(LOOPS), "--log-level", "debug")
rnd = random.Random(6)
clients = []
try:
    markets = ["m-%04d" % i for i in range(1, 21)]
    chans = {}
    for k in range(10):
        ms = sorted(rnd.sample(markets, 4))
        chans[new_channel(redis, prefix, ms)] = ms
    for k in range(30):
        cid = list(chans)[k % 10]
        c = WS(pub.port, "/v1/stream/" + cid) if k % 3 else SSE(pub.port, "/v1/events/" + cid)
        first = c.message() if isinstance(c, WS) else c.event()
        expect_eq("client %d: subscribed first" % k, {"type": "subscribed", "channel": cid}, first)
        missing = [m for m in chans[cid] if numsub(redis, prefix + "market:" + m) < 1]
        expect_eq("client %d: its markets were subscribed before `subscribed`" % k, [], missing)
        clients.append((cid, c))
    loops = {l.split(" loop=")[1].split()[0] for l in open(pub.log.name) if "ev=client_open" in l}
    expect_eq("the kernel spread the connections over every loop", LOOPS, len(loops))

    for m in markets:
        n = numsub(redis, prefix + "market:" + m)
        if n > LOOPS:
            fail("market %s: %d subscriptions, at most one per loop (%d)" % (m, n, LOOPS))
    ok("each market subscribed at most once per loop")

    sent = []
    for i in range(300):
        m = markets[i % len(markets)]
        u = update(m, 1000 + i, value=i)
        sent.append(json.loads(u))
        publish_market(redis, prefix, m, u)
    for k, (cid, c) in enumerate(clients):
        want = [u for u in sent if u["market"] in chans[cid]]
        got = [c.message() if isinstance(c, WS) else c.event() for _ in want]
        if got != want:
            fail("client %d: %d updates differ from the %d of its markets" % (k, sum(a != b for a, b in zip(got, want)), len(want)))
    ok("every client got exactly its markets' updates, in order")
    ins = pub.metric("sluice_publisher_messages_in_total")
    if not 300 <= ins <= 300 * LOOPS:
        fail("messages in: %r, expected one per update per loop that watches it (300..%d)" % (ins, 300 * LOOPS))
    ok("each update was read once per loop that needs it (%d for 300 updates)" % ins)

    # A channel changes its markets: every loop holding it follows.
    cid = list(chans)[0]
    old, new = chans[cid][0], "m-0099"
    change_markets(redis, prefix, cid, add=[new], remove=[old])
    wait_for("the new market subscribed", lambda: numsub(redis, prefix + "market:" + new) >= 1, 10)
    publish_market(redis, prefix, new, update(new, 5))
    publish_market(redis, prefix, old, update(old, 5000))
    probe = chans[cid][1]
    publish_market(redis, prefix, probe, update(probe, 5001))
    for k, (c_id, c) in enumerate(clients):
        if c_id != cid:
            continue
        got = [c.message() if isinstance(c, WS) else c.event() for _ in range(2)]
        expect_eq("client %d follows the new set" % k, [(new, 5), (probe, 5001)], [(u["market"], u["offset"]) for u in got])

    for cid, c in clients:
        c.close()
    wait_for("every subscription gone once the clients left",
             lambda: all(numsub(redis, prefix + "market:" + m) == 0 for m in markets + ["m-0099"]) and
             all(numsub(redis, prefix + "stream:" + cid) == 0 for cid in chans), 10)
    ok("every channel and market unsubscribed once its clients left")

    late = WS(pub.port, "/v1/stream/" + list(chans)[1])
    expect_eq("a client after all that", "subscribed", late.message()["type"])
    pub.term()
    expect_eq("SIGTERM: client closed with 1001", 1001, late.close_code())
    pub.stop()
    ok("clean exit of all %d loops" % LOOPS)
finally:
    if pub.proc.poll() is None:
        pub.proc.kill()
    if own:
        own.stop()
