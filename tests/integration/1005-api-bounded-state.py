#!/usr/bin/env python3
"""1005: the state a client can make the API hold is bounded (issue 10).

- Markets per channel (--max-markets-per-channel): a create or subscribe
  past it gets 413 too_many_markets and changes nothing in Redis.
- Channels per creator (--max-channels-per-creator): past it 429
  too_many_channels, nothing written; a DELETE makes room again.
- Channels expire (--channel-ttl-ms): one no stream holds is closed after
  its TTL (records, subscriptions and the creator's count gone, the
  reducers told); one a publisher holds lives on past its TTL, and expires
  once its last stream is gone.
- DELETE always works: a channel of 1,000 markets is closed with a `close`
  command that names none (each reducer knows the channel's markets).
- GET /v1/markets?ids= longer than 8 KiB: 400, never a silent cut.
"""
import json, os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *
from publib import SSE

TTL = 10000
name = "h1005-%d" % os.getpid()
system_up(name, reducers=1, extra_env={"SLUICE_CHANNEL_TTL_MS": str(TTL)})
try:
    prefix = os.environ["SLUICE_REDIS_PREFIX"]
    r = Redis()
    lim = role_start(name, "api-lim", "api", "--max-markets-per-channel", "5", "--max-channels-per-creator", "3")

    def api2(method, path, body=None):
        return http(method, lim + path, body)

    # Markets per channel.
    before = r.snapshot_keys(prefix)
    st, body = api2("POST", "/v1/channels", {"markets": ["m-%04d" % i for i in range(6)]})
    expect_eq("create with 6 markets, 5 allowed: 413", (413, "too_many_markets"), (st, body["error"]))
    expect_eq("nothing written", before, r.snapshot_keys(prefix))
    st, body = api2("POST", "/v1/channels", {"markets": ["m-0001", "m-0002", "m-0003", "m-0004"]})
    expect_eq("create with 4: 201", 201, st)
    cid = body["channel"]
    before = r.snapshot_keys(prefix)
    st, body = api2("POST", "/v1/channels/%s/subscriptions" % cid, {"markets": ["m-0005", "m-0006"]})
    expect_eq("2 more (6 > 5): 413", (413, "too_many_markets"), (st, body["error"]))
    expect_eq("nothing written by the refused subscribe", before, r.snapshot_keys(prefix))
    st, _ = api2("POST", "/v1/channels/%s/subscriptions" % cid, {"markets": ["m-0001", "m-0005"]})
    expect_eq("one new and one held (5): 200", 200, st)

    # Channels per creator (this client's address).
    made = [cid]
    for i in range(2):
        st, body = api2("POST", "/v1/channels", {})
        expect_eq("channel %d of 3: 201" % (i + 2), 201, st)
        made.append(body["channel"])
    before = r.snapshot_keys(prefix)
    st, body = api2("POST", "/v1/channels", {})
    expect_eq("a 4th channel: 429", (429, "too_many_channels"), (st, body["error"]))
    expect_eq("nothing written by the refused create", before, r.snapshot_keys(prefix))
    st, _ = api2("DELETE", "/v1/channels/" + made.pop())
    expect_eq("delete one: 204", 204, st)
    st, body = api2("POST", "/v1/channels", {})
    expect_eq("room again: 201", 201, st)
    made.append(body["channel"])

    # DELETE of a channel with 1,000 markets.
    st, body = api("POST", "/v1/channels", {"markets": ["m-%04d" % i for i in range(100)]})
    big = body["channel"]
    for k in range(1, 10):
        st, _ = api("POST", "/v1/channels/%s/subscriptions" % big, {"markets": ["m-%04d" % i for i in range(k * 100, k * 100 + 100)]})
        if st != 200:
            fail("subscribe batch %d: %d" % (k, st))
    expect_eq("the big channel holds 1,000 markets", 1000, r.cmd("SCARD", "%schannel:%s:markets" % (prefix, big)))
    st, _ = api("DELETE", "/v1/channels/" + big)
    expect_eq("DELETE of 1,000 markets: 204", 204, st)
    cmds = [json.loads(x["value"]) for x in kafka_records(os.environ["SLUICE_COMMAND_TOPIC"]) if x["key"] == big]
    close = [c for c in cmds if c["op"] == "close"]
    expect_eq("the close command names no markets", [{"op": "close", "channel": big, "markets": []}], close)

    # Over-long query.
    st, body = api("GET", "/v1/markets?ids=" + ",".join("m-%04d" % i for i in range(1500)))
    expect_eq("ids over 8 KiB: 400 invalid_query", (400, "invalid_query"), (st, body["error"]))

    # Expiry: one channel held by a stream, one not.
    st, body = api("POST", "/v1/channels", {"markets": ["m-0007"]})
    idle = body["channel"]
    st, body = api("POST", "/v1/channels", {"markets": ["m-0008"]})
    held = body["channel"]
    port = int(os.environ["SLUICE_PUBLISHER_URL"].rsplit(":", 1)[1])
    s = SSE(port, "/v1/events/" + held)
    expect_eq("the held channel's stream is subscribed", "subscribed", s.event()["type"])
    wait_for("the idle channel to expire", lambda: api("GET", "/v1/channels/" + idle)[0] == 404, TTL / 1000 + 15)
    gone = [k for k in r.cmd("KEYS", prefix + "*") if idle in k] + \
           [k for k in r.cmd("KEYS", prefix + "{p*}:subs") if any(idle in m for m in r.cmd("SMEMBERS", k))]
    expect_eq("nothing of the expired channel is left in Redis", [], gone)
    expect_eq("its expiry entry is gone", None, r.cmd("ZSCORE", prefix + "channels:expiry", idle))
    ok("a channel no stream held was closed after its TTL")
    time.sleep(max(0, TTL / 1000 + 3 - 0))
    expect_eq("the channel a stream holds outlives its TTL", 200, api("GET", "/v1/channels/" + held)[0])
    s.sock.close()
    wait_for("the held channel to expire once its stream is gone",
             lambda: api("GET", "/v1/channels/" + held)[0] == 404, TTL / 1000 * 2 + 15)
    ok("and expires once its stream is gone")
    r.close()
finally:
    rc = system_down(name)
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
