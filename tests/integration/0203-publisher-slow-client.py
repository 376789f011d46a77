#!/usr/bin/env python3
"""0203: a slow client that reads nothing is conflated (only the newest
update per market kept once its queue passes the soft limit), then closed
(1013 / eviction) once its queue stays over the soft limit too long, while
two fast clients of the same channel on the same publisher receive every
message, in order. A second slow client of a channel that keeps growing
non-conflatable messages (snapshots) is closed at the hard limit."""
import json, os, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from publib import *

redis, own = test_redis("0203")
prefix = "t0203-%d:" % os.getpid()
pub = Publisher(redis, prefix, "--queue-soft-limit", "512", "--queue-hard-limit", "2048", "--slow-client-timeout-ms", "1500")


def publish_many(cid, msgs):
    """One redis-cli process, pipelined: thousands of PUBLISH in a burst."""
    chan = "%sstream:%s" % (prefix, cid)
    text = "".join("PUBLISH %s '%s'\n" % (chan, m) for m in msgs)
    subprocess.run(["redis-cli", "-h", redis.host, "-p", str(redis.port)], input=text, capture_output=True, text=True,
                   timeout=60, check=True)


try:
    cid = new_channel(redis, prefix)
    path = "/v1/stream/" + cid
    slow = WS(pub.port, path, rcvbuf=4096)
    expect_eq("slow client subscribed", "subscribed", slow.message()["type"])
    fast = [WS(pub.port, path) for _ in range(2)]
    for f in fast:
        expect_eq("fast client subscribed", "subscribed", f.message()["type"])
    pad = "x" * 3000
    n = 4000
    msgs = [update("m-%04d" % (i % 10), i, value=pad) for i in range(n)]
    got = [[], []]

    def reader(k):
        for _ in range(n):
            got[k].append(fast[k].message()["offset"])
    threads = [threading.Thread(target=reader, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    publish_many(cid, msgs)
    for t in threads:
        t.join(60)
    for k in range(2):
        expect_eq("fast client %d: every message, in order" % k, list(range(n)), got[k])
    conflated = pub.metric("sluice_publisher_conflated_total")
    if not conflated:
        fail("the slow client's updates were not conflated (conflated_total=%r)" % conflated)
    ok("slow client conflated (%d updates replaced)" % conflated)
    wait_for("slow client evicted", lambda: (pub.metric("sluice_publisher_slow_clients_closed_total") or 0) >= 1, 15)
    ok("slow client closed once its queue stayed over the soft limit")
    # What the slow client does get: old frames, then the end (close 1013 if it fit, else EOF).
    slow.sock.settimeout(10)
    offsets, end = [], None
    try:
        while True:
            op, p = slow.frame()
            if op == 0x8:
                end = int.from_bytes(p[:2], "big")
                break
            if op == 0x1:
                offsets.append(json.loads(p)["offset"])
    except (EOFError, ConnectionResetError):
        end = "eof"
    if end not in (1013, "eof"):
        fail("slow client end: %r" % end)
    if offsets != sorted(offsets) or len(offsets) >= n:
        fail("slow client got %d offsets, sorted=%s" % (len(offsets), offsets == sorted(offsets)))
    ok("slow client: %d of %d messages, increasing offsets (conflated), then %s" % (len(offsets), n, end))

    # Hard limit: snapshots cannot be conflated.
    cid2 = new_channel(redis, prefix)
    slow2 = WS(pub.port, "/v1/stream/" + cid2, rcvbuf=4096)
    expect_eq("second slow client subscribed", "subscribed", slow2.message()["type"])
    before = pub.metric("sluice_publisher_slow_clients_closed_total")
    snaps = ['{"type":"snapshot","markets":[{"market":"m-%04d","value":"%s","offset":%d,"partition":0,"ts":1}]}' % (i, pad, i)
             for i in range(6000)]
    publish_many(cid2, snaps)
    wait_for("hard-limit eviction", lambda: pub.metric("sluice_publisher_slow_clients_closed_total") >= before + 1, 10)
    ok("client closed at the hard limit")
    expect_eq("fast clients still open and served", "m-0042", (publish(redis, prefix, cid, update("m-0042", n)), fast[0].message()["market"])[1])
    text = pub.stop()
    if "reason=slow_consumer" not in text or "reason=queue_hard_limit" not in text:
        fail("eviction log lines missing")
    ok("one log line per eviction, with its reason")
finally:
    if pub.proc.poll() is None:
        pub.proc.kill()
    if own:
        own.stop()
