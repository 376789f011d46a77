#!/usr/bin/env python3
"""0202: bad input gets a clear error and changes nothing: bad handshakes
(missing key, bad key, wrong version, no Upgrade, non-GET), a bad channel id,
huge headers (431), and on an open WebSocket: an unmasked client frame
(1002), a text frame with bad UTF-8 (1007), an oversized message (1009).
Control frames work: ping gets its pong, a client close gets the close
reply. After all that the publisher still serves a good client and exits
cleanly."""
import json, os, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from publib import *

redis, own = test_redis("0202")
prefix = "t0202-%d:" % os.getpid()
pub = Publisher(redis, prefix, "--max-client-message-bytes", "1000", "--max-header-bytes", "4096")
try:
    cid = new_channel(redis, prefix)
    path = "/v1/stream/" + cid
    cases = [
        ("missing key", {"Sec-WebSocket-Key": None}, 400, "missing_websocket_key"),
        ("bad key", {"Sec-WebSocket-Key": "c2hvcnQ="}, 400, "bad_websocket_key"),
        ("wrong version", {"Sec-WebSocket-Version": "8"}, 426, "bad_websocket_version"),
        ("no upgrade header", {"Upgrade": None}, 426, "upgrade_required"),
    ]
    for what, hdrs, status, code in cases:
        ws = WS(pub.port, path, headers=hdrs)
        expect_eq("handshake %s: status" % what, status, ws.status)
        expect_eq("handshake %s: code" % what, code, json.loads(ws.body)["error"])
        ws.close()
    ws = WS(pub.port, path, headers={"Sec-WebSocket-Version": "7"})
    expect_eq("wrong version: tells the version it speaks", "13", ws.headers.get("sec-websocket-version"))
    ws.close()
    raw = "POST %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n" % path
    ws = WS(pub.port, path, raw_request=raw)
    expect_eq("non-GET handshake: 405", 405, ws.status)
    ws.close()
    ws = WS(pub.port, "/v1/stream/not..valid")
    expect_eq("bad channel id: 400", 400, ws.status)
    expect_eq("bad channel id: code", "bad_channel_id", json.loads(ws.body)["error"])
    ws.close()
    st, body = pub.get("/v1/events/" + "x" * 65)
    expect_eq("channel id too long: 400", 400, st)
    ws = WS(pub.port, path, headers={"X-Big": "a" * 8000})
    expect_eq("huge header: 431", 431, ws.status)
    ws.close()
    expect_eq("nothing was subscribed by refused requests", "0",
              redis.cmd("PUBSUB", "NUMSUB", "%sstream:%s" % (prefix, cid)).split()[-1])

    def open_ws():
        w = WS(pub.port, path)
        expect_eq("good client subscribed", "subscribed", w.message()["type"])
        return w

    w = open_ws()
    w.send(0x9, b"hello")
    expect_eq("ping answered with pong", (0xA, b"hello"), w.frame())
    w.send(0x1, '{"hi":1}')  # client text messages are accepted and ignored
    w.send(0x8, b"\x03\xe8bye")
    expect_eq("client close: close reply 1000", 1000, w.close_code())
    expect_eq("client close: socket closed", True, w.at_eof())

    w = open_ws()
    w.send(0x1, "unmasked", mask=False)
    expect_eq("unmasked client frame: close 1002", 1002, w.close_code())
    expect_eq("unmasked: socket closed", True, w.at_eof())

    w = open_ws()
    w.send(0x1, b"\xc3\x28 not utf-8")
    expect_eq("bad UTF-8 text: close 1007", 1007, w.close_code())
    w.close()

    w = open_ws()
    w.send(0x1, "x" * 2000)
    expect_eq("oversized client message: close 1009", 1009, w.close_code())
    w.close()

    w = open_ws()
    w.send(0x1, "frag-", fin=False)
    w.send(0x0, "x" * 1200, fin=True)
    expect_eq("oversized fragmented message: close 1009", 1009, w.close_code())
    w.close()

    w = open_ws()
    # A frame split over many writes (the reader keeps state only meanwhile).
    import time as _t
    frame_bytes = b"\x89\x84" + b"\x01\x02\x03\x04" + bytes(c ^ k for c, k in zip(b"abcd", b"\x01\x02\x03\x04"))
    for i in range(len(frame_bytes)):
        w.sock.sendall(frame_bytes[i:i + 1])
        _t.sleep(0.01)
    expect_eq("ping split byte by byte: pong", (0xA, b"abcd"), w.frame())
    publish(redis, prefix, cid, update("m-0001", 1))
    expect_eq("still streaming after all the bad input", "m-0001", w.message()["market"])
    rej = pub.metric("sluice_publisher_rejected_total")
    if not rej or rej < 8:
        fail("rejected_total metric: %r" % rej)
    ok("rejections counted in /metrics (%d)" % rej)
    pub.stop()
    ok("clean exit")
    # Bad settings: one line naming the problem, exit 2, nothing started.
    for args, word in [(["--metrics-urls", "api"], "metrics-urls"), (["--queue-soft-limit", "0"], "queue-soft-limit"),
                       (["--redis-url", "http://127.0.0.1:1"], "redis-url"), (["--port", "x"], "port"),
                       (["--no-such-flag"], "no-such-flag")]:
        p = subprocess.run([BIN, "publisher"] + args, capture_output=True, text=True, timeout=20)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        if p.returncode != 2 or len(lines) != 1 or word not in lines[0]:
            fail("bad setting %r: exit %d, stderr %r" % (args, p.returncode, p.stderr))
        ok("bad setting %s: exit 2 with one line" % " ".join(args))
finally:
    if pub.proc.poll() is None:
        pub.proc.kill()
    if own:
        own.stop()
