#!/usr/bin/env python3
"""0207: a publisher that is behind writes once per loop turn (issue 9).

Within a burst of Redis messages the publisher writes to the sockets every
--flush-every frames, so the message read first is written first; but
when the updates read are already older than --flush-behind-ms (a backlog)
it defers those mid-burst writes to the end of the loop turn, so that each
client gets several messages per write and the backlog drains. Checked
with --flush-every 1 (a write after every frame otherwise): a burst of
fresh updates defers nothing; the same burst with timestamps a minute old
defers; in both, every client gets every update of its markets, whole and
in order (what a client sees must not change)."""
import json, os, socket, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from publib import *

redis, own = test_redis("0207")
prefix = "t0207-%d:" % os.getpid()
pub = Publisher(redis, prefix, "--loops", "1", "--flush-every", "1", "--flush-behind-ms", "5000")


def burst(updates):
    """PUBLISH every update in one write, so the publisher reads them together."""
    out = bytearray()
    for u in updates:
        args = [b"PUBLISH", ("%smarket:%s" % (prefix, json.loads(u)["market"])).encode(), u.encode()]
        out += b"*%d\r\n" % len(args)
        for a in args:
            out += b"$%d\r\n%s\r\n" % (len(a), a)
    s = socket.create_connection((redis.host, int(redis.port)), timeout=10)
    if redis.db != "0":
        s.sendall(b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(redis.db), redis.db.encode()))
    s.sendall(bytes(out))
    need = len(updates) + (1 if redis.db != "0" else 0)
    got = b""
    while got.count(b"\r\n") < need:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()


clients = []
try:
    markets = ["m-%02d" % i for i in range(10)]
    cid = new_channel(redis, prefix, markets)
    for k in range(20):
        c = WS(pub.port, "/v1/stream/" + cid)
        expect_eq("client %d: subscribed" % k, {"type": "subscribed", "channel": cid}, c.message())
        clients.append(c)
    wait_for("markets subscribed", lambda: all(numsub(redis, prefix + "market:" + m) == 1 for m in markets), 10)

    def run(label, ts, first_offset):
        sent = [update(markets[i % 10], first_offset + i, value=i, ts=ts) for i in range(300)]
        before = pub.metric("sluice_publisher_flushes_deferred_total") or 0
        burst(sent)
        want = [json.loads(u) for u in sent]
        for k, c in enumerate(clients):
            got = [c.message() for _ in want]
            if got != want:
                fail("%s: client %d got %d updates different from those sent" % (label, k, sum(a != b for a, b in zip(got, want))))
        ok("%s: every client got the 300 updates, in order" % label)
        return (pub.metric("sluice_publisher_flushes_deferred_total") or 0) - before

    fresh = run("fresh updates", int(time.time() * 1000), 1000)
    expect_eq("fresh updates: no write deferred", 0, fresh)
    old = run("updates a minute old", int(time.time() * 1000) - 60000, 2000)
    if old < 1:
        fail("updates a minute old: no write deferred (%r)" % old)
    ok("updates a minute old: %d mid-burst writes deferred to the turn's end" % old)
    for c in clients:
        c.close()
    pub.stop()
finally:
    if pub.proc.poll() is None:
        pub.proc.kill()
    if own:
        own.stop()
print("0207 passed")
