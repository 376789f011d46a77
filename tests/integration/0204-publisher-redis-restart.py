#!/usr/bin/env python3
"""0204: Redis restarts under a running publisher: /readyz turns 503, new
streams get 503 (not a hang), the publisher reconnects and subscribes every
channel and market it holds by itself, tells its clients `subscribed` with
"resumed":true, and the stream continues on the same connections. One
loop, so that subscriptions can be counted exactly."""
import json, os, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from publib import *

redis = OwnRedis(tempfile.mkdtemp(prefix="sluice-0204-"), persist=True)
prefix = "t0204:"
pub = Publisher(redis, prefix, "--loops", "1")
try:
    chans = [new_channel(redis, prefix, ["m-0001", "m-%04d" % (10 + i)]) for i in range(3)]
    clients = []
    for cid in chans:
        ws = WS(pub.port, "/v1/stream/" + cid)
        expect_eq("ws subscribed", "subscribed", ws.message()["type"])
        sse = SSE(pub.port, "/v1/events/" + cid)
        expect_eq("sse subscribed", "subscribed", sse.event()["type"])
        clients.append((cid, ws, sse))
    publish_market(redis, prefix, "m-0001", update("m-0001", 1))
    for cid, ws, sse in clients:
        expect_eq("before restart (ws)", 1, ws.message()["offset"])
        expect_eq("before restart (sse)", 1, sse.event()["offset"])

    redis.stop()
    wait_for("/readyz 503 while Redis is down", lambda: pub.get("/readyz")[0] == 503, 10)
    ok("/readyz is 503 while Redis is down")
    st, body = pub.get("/v1/events/" + chans[0])
    expect_eq("new stream while Redis is down: 503", 503, st)
    expect_eq("new stream while Redis is down: code", "redis_unavailable", json.loads(body)["error"])

    redis.start()
    wait_for("/readyz 200 after Redis is back", lambda: pub.get("/readyz")[0] == 200, 15)
    ok("publisher reconnected by itself")
    for cid, ws, sse in clients:
        resumed = {"type": "subscribed", "channel": cid, "resumed": True}
        expect_eq("ws told it resumed", resumed, ws.message())
        expect_eq("sse told it resumed", resumed, sse.event())
    expect_eq("one Redis subscription per market again", 1, numsub(redis, prefix + "market:m-0001"))
    for i, (cid, ws, sse) in enumerate(clients):
        expect_eq("one Redis subscription per channel again", 1, numsub(redis, "%sstream:%s" % (prefix, cid)))
        m = "m-%04d" % (10 + i)
        expect_eq("its own market subscribed again", 1, numsub(redis, prefix + "market:" + m))
        for off in (2, 3):
            publish_market(redis, prefix, m, update(m, off))
        expect_eq("stream continues (ws)", [2, 3], [ws.message()["offset"] for _ in range(2)])
        expect_eq("stream continues (sse)", [2, 3], [sse.event()["offset"] for _ in range(2)])
    resub = pub.metric("sluice_publisher_redis_resubscribes_total")
    expect_eq("resubscribe counted", 1.0, resub)

    # A Redis that hangs (SIGSTOP) rather than closing: the pub/sub
    # connection PINGs after 5 s of silence, drops it after the 2 s timeout,
    # and recovers by itself once Redis answers again.
    import signal as _sig
    redis.proc.send_signal(_sig.SIGSTOP)
    try:
        def timed_out():
            with open(pub.log.name) as f:
                return "ev=redis_timeout conn=pubsub" in f.read()
        wait_for("the publisher to notice the hung Redis", timed_out, 20)
        ok("hung Redis detected by PING (redis_timeout logged)")
    finally:
        redis.proc.send_signal(_sig.SIGCONT)
    wait_for("/readyz 200 after Redis answers again", lambda: pub.get("/readyz")[0] == 200, 20)
    for cid, ws, sse in clients:
        expect_eq("ws told it resumed again", "subscribed", ws.message(timeout=20)["type"])
        expect_eq("sse told it resumed again", "subscribed", sse.event()["type"])
        publish_market(redis, prefix, "m-%04d" % (10 + chans.index(cid)), update("m-0001", 4))
        expect_eq("stream continues after the hang (ws)", 4, ws.message(timeout=20)["offset"])
        expect_eq("stream continues after the hang (sse)", 4, sse.event()["offset"])
    pub.stop()
    ok("clean exit")
finally:
    if pub.proc.poll() is None:
        pub.proc.kill()
    redis.stop()
