#!/usr/bin/env python3
"""1003: WebSocket control frames under the client's limits (issue 10).

A client that floods pings (5,000 in one write) is closed with 1008 "ping
flood" and counted; a client that pings once a second is answered with a
pong every time and stays. A client that floods pings and reads none of
the pongs cannot grow the publisher's memory: the pongs count against its
queue, so it is closed (1008 or, past the hard limit, 1013) and the
publisher's RSS stays where it was. Other clients keep their stream."""
import os, socket, struct, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from publib import *

redis, own = test_redis("1003")
prefix = "t1003-%d:" % os.getpid()
pub = Publisher(redis, prefix, "--max-client-pings-per-s", "5", "--queue-hard-limit", "512",
                "--queue-soft-limit", "256")


def ping_frame(payload=b"p"):
    k = os.urandom(4)
    return struct.pack("!BB", 0x89, 0x80 | len(payload)) + k + bytes(c ^ k[i % 4] for i, c in enumerate(payload))


def rss_kb():
    for line in open("/proc/%d/status" % pub.proc.pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


try:
    cid = new_channel(redis, prefix, ["m-0001"])
    bystander = WS(pub.port, "/v1/stream/" + cid)
    expect_eq("bystander subscribed", "subscribed", bystander.message()["type"])

    polite = WS(pub.port, "/v1/stream/" + cid)
    expect_eq("polite client subscribed", "subscribed", polite.message()["type"])
    for i in range(4):
        polite.send(0x9, b"hi%d" % i)
        op, p = polite.frame()
        while op == 0x9:  # the publisher's own ping
            op, p = polite.frame()
        expect_eq("pong %d answers the ping" % i, (0xA, b"hi%d" % i), (op, p))
        time.sleep(1.0)

    flood = WS(pub.port, "/v1/stream/" + cid)
    expect_eq("flooder subscribed", "subscribed", flood.message()["type"])
    flood.sock.sendall(ping_frame() * 5000)
    code = None
    while code is None:
        op, p = flood.frame()
        if op == 0x8:
            code = struct.unpack(">H", p[:2])[0]
    expect_eq("a ping flood is closed with 1008", 1008, code)
    wait_for("the flood counted", lambda: (pub.metric("sluice_publisher_ping_floods_total") or 0) >= 1, 10)
    ok("counted in sluice_publisher_ping_floods_total")

    # Pings without ever reading a pong: bounded by the queue limits.
    before = rss_kb()
    deaf = socket.create_connection(("127.0.0.1", pub.port))
    deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    deaf.sendall(b"GET /v1/stream/%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" % cid.encode())
    big = ping_frame(b"x" * 125)
    deaf.setblocking(False)
    sent = 0
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            deaf.send(big * 100)
            sent += 100
        except BlockingIOError:
            time.sleep(0.05)
        except OSError:
            break  # closed by the publisher
    grown = rss_kb() - before
    ok("a deaf client sent %d pings of 125 bytes; the publisher's RSS grew %d KB" % (sent, grown))
    if grown > 32 * 1024:
        fail("the publisher's memory grew %d KB for pings it could not deliver" % grown)
    publish_market(redis, prefix, "m-0001", update("m-0001", 9))
    expect_eq("the bystander still gets its stream", 9, bystander.message()["offset"])
    expect_eq("the polite client too", 9, polite.message()["offset"])
    pub.stop()
    ok("clean exit")
finally:
    if pub.proc.poll() is None:
        pub.proc.kill()
    if own:
        own.stop()
