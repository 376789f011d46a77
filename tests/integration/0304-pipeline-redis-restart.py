#!/usr/bin/env python3
"""0304: a Redis restart under load. The system runs against a Redis of the
test's own (append-only file on, like the stack's). While a feed produces,
Redis is stopped for a few seconds: the reducers and the API report 503 on
/readyz, the reducers pause consumption and keep their unacknowledged
pipelines; Redis comes back on the same port and, with no help, the
reducers reconnect, resend, resume and commit; /readyz is 200 again. The
channel's stream continues (a subscriber that reconnects after the
restart gets every later record of its markets), and Redis ends with
Kafka's last record of every market. Every role exits 0 on SIGTERM.
The stream is read from the Redis pub/sub channel itself here; the
publisher's reconnection is the subject of 0204."""
import os, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

name = "pl0304-%d" % os.getpid()
MARKETS = 30
own = OwnRedis(tempfile.mkdtemp(prefix="sluice-0304-"))
system_up(name, reducers=2, extra_env={"SLUICE_REDIS_URL": own.url})
os.environ["SLUICE_REDIS_URL"] = own.url
proc = None
stream = None
try:
    reducers = os.environ["SLUICE_REDUCER_URLS"].split()
    feed(300, MARKETS, seed=41)
    wait_for("first records stored", state_matches_kafka, 60)
    markets = ["m-0001", "m-0002", "m-0003"]
    st, body = api("POST", "/v1/channels", {"markets": markets})
    expect_eq("create channel", 201, st)
    cid = body["channel"]

    proc = feed_async(4000, MARKETS, 500, seed=42)
    time.sleep(1.5)
    own.stop()
    ok("redis stopped under load")
    wait_for("reducers to report redis down on /readyz",
             lambda: all(http("GET", u + "/readyz")[0] == 503 for u in reducers), 15)
    ok("reducers' /readyz: 503 while redis is down")
    expect_eq("api /readyz: 503 while redis is down", 503, http("GET", os.environ["SLUICE_API_URL"] + "/readyz")[0])
    time.sleep(2)
    own.start()
    ok("redis restarted on the same port")
    wait_for("reducers to reconnect by themselves",
             lambda: all(http("GET", u + "/readyz")[0] == 200 for u in reducers), 30)
    ok("reducers' /readyz: 200 again")
    wait_for("api to reconnect", lambda: http("GET", os.environ["SLUICE_API_URL"] + "/readyz")[0] == 200, 30)

    # The stream continues: subscribe now, begin, and see every later record.
    # Read straight from Redis: this test is about the reducers (the
    # publisher's own Redis restart test is 0204).
    stream = Stream(cid, direct=True)
    client = Client()
    expect_eq("begin after the restart", 202, api("POST", "/v1/channels/%s/begin" % cid)[0])
    proc.wait(timeout=60)
    proc = None
    recs = kafka_records()
    expect_eq("kafka holds every record", 4300, len(recs))
    by_market = {}
    for r in recs:
        by_market.setdefault(r["key"], []).append(r)
    last = {m: rs[-1]["offset"] for m, rs in by_market.items()}
    deadline = time.time() + 60
    while time.time() < deadline and not all(client.held.get(m, (-1,))[0] == last[m] for m in markets):
        msg = stream.next(0.2)
        if msg:
            client.take(msg)
    for m in markets:
        if m not in client.snap:
            fail("no snapshot of %s after the restart" % m)
        got = [o for o in client.accepted.get(m, []) if o > client.snap[m]]
        want = [r["offset"] for r in by_market[m] if r["offset"] > client.snap[m]]
        expect_eq("market %s: every record after the snapshot" % m, want, got)
    wait_for("Redis to hold Kafka's last record of every market", state_matches_kafka, 30)
    ok("Redis holds Kafka's last record of every market after the restart")

    # Redis hangs (SIGSTOP) under load: pipelines in flight time out (the
    # connection's reply timeout), wait on the retry list, and are resent
    # once Redis answers again; nothing is lost.
    proc = feed_async(3000, MARKETS, 1000, seed=43)
    time.sleep(1.0)
    os.kill(own.proc.pid, 19)
    time.sleep(7)
    os.kill(own.proc.pid, 18)
    proc.wait(timeout=60)
    proc = None
    wait_for("Redis to hold Kafka's last record after the hang", state_matches_kafka, 60)
    failed = sum(metric(u, "sluice_reducer_pipelines_failed_total") for u in reducers)
    if failed < 1:
        fail("no pipeline failed while Redis hung: the retry path was not exercised")
    ok("%d pipelines failed while Redis hung, were resent, and Redis holds Kafka's last records" % failed)
finally:
    if proc:
        proc.kill()
    if stream:
        stream.close()
    rc = system_down(name)
    own.stop()
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
