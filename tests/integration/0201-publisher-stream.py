#!/usr/bin/env python3
"""0201: WebSocket and SSE clients get `subscribed`, then exactly the
published messages in order: those of the channel's private stream and the
updates of its markets; an unknown channel is refused with 404 before any
upgrade; `closed` ends the channel's connections (WS close 1000, SSE end of
stream); a real third-party client (python websockets) works too; SIGTERM
closes clients with 1001 and exits 0 with no leak. One loop, so that the
Redis subscriptions can be counted exactly (one per channel and market per
loop); 0206 covers several loops."""
import json, os, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from publib import *

redis, own = test_redis("0201")
prefix = "t0201-%d:" % os.getpid()
webroot = tempfile.mkdtemp(prefix="sluice-0201-web-")
os.makedirs(os.path.join(webroot, "js"))
open(os.path.join(webroot, "index.html"), "w").write("<!doctype html><title>sluice</title>")
open(os.path.join(webroot, "js", "app.mjs"), "w").write("export const x = 1;\n")
pub = Publisher(redis, prefix, "--loops", "1", "--web-root", webroot, "--api-url", "http://api.example:8080",
                "--metrics-urls", "api=http://api.example:8080/metrics,publisher=http://p:8090/metrics")
try:
    # The dashboard's files and its /config.json.
    st, body = pub.get("/")
    expect_eq("GET / serves index.html", (200, b"<!doctype html><title>sluice</title>"), (st, body))
    st, body = pub.get("/js/app.mjs")
    expect_eq("GET a nested module", (200, b"export const x = 1;\n"), (st, body))
    expect_eq("no path escapes the web root", 404, pub.get("/../../etc/passwd")[0])
    expect_eq("hidden files are not served", 404, pub.get("/.git/config")[0])
    st, body = pub.get("/config.json")
    expect_eq("/config.json", {"api_url": "http://api.example:8080",
                               "metrics": {"api": "http://api.example:8080/metrics", "publisher": "http://p:8090/metrics"}},
              json.loads(body))
    # Unknown channel: 404 JSON, no upgrade, for both wire formats.
    ws = WS(pub.port, "/v1/stream/%s" % "0b7c1d2e-0000-4000-8000-000000000000")
    expect_eq("unknown channel: 404 before upgrade", 404, ws.status)
    expect_eq("unknown channel: error code", "unknown_channel", json.loads(ws.body)["error"])
    ws.close()
    st, body = pub.get("/v1/events/0b7c1d2e-0000-4000-8000-000000000000")
    expect_eq("unknown channel (SSE): 404", 404, st)

    cid = new_channel(redis, prefix, ["m-%04d" % i for i in range(7)])
    ws = WS(pub.port, "/v1/stream/" + cid)
    if not ws.accept_ok():
        fail("handshake: status %d headers %r" % (ws.status, ws.headers))
    ok("handshake 101 with the right Sec-WebSocket-Accept")
    expect_eq("ws: first message is subscribed", {"type": "subscribed", "channel": cid}, ws.message())
    sse = SSE(pub.port, "/v1/events/" + cid)
    expect_eq("sse: 200", 200, sse.status)
    if "text/event-stream" not in sse.headers:
        fail("sse content type: " + sse.headers)
    expect_eq("sse: first event is subscribed", {"type": "subscribed", "channel": cid}, sse.event())

    sent = [update("m-%04d" % (i % 7), 100 + i, value=round(1.5 * i, 4)) for i in range(200)]
    snap = '{"type":"snapshot","markets":[{"market":"m-0001","value":{"price":1.25,"note":"a\\nb"},"offset":5,"partition":3,"ts":1}]}'
    # A payload with a line break (legal JSON whitespace) must stay one SSE event.
    multiline = '{"type":"update","market":"m-0009",\n"value":2,"offset":1,"partition":0,"ts":1}'
    if publish(redis, prefix, cid, snap) != "1":
        fail("publish: expected exactly 1 Redis subscriber of the stream (one per channel per loop)")
    for m in sent:
        if publish_market(redis, prefix, json.loads(m)["market"], m) != "1":
            fail("publish: expected exactly 1 Redis subscriber of the market (one per market per loop)")
    if publish(redis, prefix, cid, multiline) != "1":
        fail("publish: the private stream carries any message")
    expect_eq("an update of a market outside the channel has no subscriber", "0",
              publish_market(redis, prefix, "m-0099", update("m-0099", 1)))
    want = [json.loads(m) for m in [snap] + sent + [multiline]]
    got_ws = [ws.message() for _ in want]
    expect_eq("ws: exactly the published messages, in order", want, got_ws)
    got_sse = [sse.event() for _ in want]
    expect_eq("sse: exactly the published messages, in order", want, got_sse)

    # A second channel shares nothing with the first.
    cid2 = new_channel(redis, prefix, ["m-0100", "m-0200"])
    ws2 = WS(pub.port, "/v1/stream/" + cid2)
    expect_eq("second channel subscribed", {"type": "subscribed", "channel": cid2}, ws2.message())
    publish_market(redis, prefix, "m-0001", update("m-0001", 900))
    publish_market(redis, prefix, "m-0100", update("m-0100", 1))
    expect_eq("second channel: its own market only", "m-0100", ws2.message()["market"])
    expect_eq("first channel: its own market only (ws)", ("m-0001", 900), (lambda u: (u["market"], u["offset"]))(ws.message()))
    expect_eq("first channel: its own market only (sse)", ("m-0001", 900), (lambda u: (u["market"], u["offset"]))(sse.event()))

    # A real client library.
    try:
        import asyncio, websockets

        async def lib_client():
            async with websockets.connect("ws://127.0.0.1:%d/v1/stream/%s" % (pub.port, cid2)) as c:
                first = json.loads(await asyncio.wait_for(c.recv(), 10))
                publish_market(redis, prefix, "m-0200", update("m-0200", 7))
                second = json.loads(await asyncio.wait_for(c.recv(), 10))
                return first, second
        first, second = asyncio.run(lib_client())
        expect_eq("websockets library: subscribed", "subscribed", first["type"])
        expect_eq("websockets library: update", ("m-0200", 7), (second["market"], second["offset"]))
    except ImportError:
        fail("the websockets library is missing (scripts/install.d/publisher.sh installs it)")
    # ws2 got m-0200 as well.
    expect_eq("ws2 got the library client's update too", "m-0200", ws2.message()["market"])

    # closed: forwarded, then WS close 1000 and SSE end of stream.
    closed = {"type": "closed", "channel": cid}
    publish(redis, prefix, cid, closed)
    expect_eq("ws: closed forwarded", closed, ws.message())
    expect_eq("ws: close code 1000 after closed", 1000, ws.close_code())
    expect_eq("sse: closed forwarded", closed, sse.event())
    expect_eq("sse: stream ends after closed", True, sse.at_eof())
    wait_for("channel unsubscribed", lambda: numsub(redis, "%sstream:%s" % (prefix, cid)) == 0)
    ok("publisher left the Redis channel once its last client went")
    wait_for("its markets unsubscribed", lambda: all(numsub(redis, "%smarket:m-%04d" % (prefix, i)) == 0 for i in range(7)))
    ok("and the markets nobody else here watches")
    expect_eq("the other channel's markets stay", 1, numsub(redis, "%smarket:m-0100" % prefix))

    # Shutdown: ws2 gets 1001 going away, the process exits 0, no leak.
    pub.term()
    expect_eq("SIGTERM: client closed with 1001", 1001, ws2.close_code())
    pub.stop()
    ok("clean exit on SIGTERM")
finally:
    if pub.proc.poll() is None:
        pub.proc.kill()
    if own:
        own.stop()
