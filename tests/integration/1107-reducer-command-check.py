#!/usr/bin/env python3
"""1107: the reducers apply a command only as far as it agrees with the
channel's record in Redis.

Two reducers, the API and the feed on the test stack. Commands forged
straight onto the command topic (as anyone who could write it would):
a subscribe of markets the channel does not hold, a subscribe and a begin
of a channel that does not exist, an unsubscribe of a market the channel
still holds, and a close of a channel that is still open. Each reducer
refuses each of them (counted by reason in
sluice_reducer_commands_refused_total, logged as command_refused without
the full channel id), and nothing changes: the reducers' subscriptions
stay what the API wrote, the snapshot still holds the channel's market.
Real commands still work, before and after: the API's subscribe adds a
market, its unsubscribe removes it, its DELETE (a close emitted before the
record is deleted, so the reducers wait for the record to go) removes the
channel, and the publisher's client hears it closed. No role's log
(info level) holds a full channel id.
"""
import json, os, re, subprocess, sys, time, urllib.request, uuid
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

name = "sec1107-%d" % os.getpid()
system_up(name, reducers=2)
work = os.path.join(ROOT, ".state", "sys-" + name)


def series(url, name):
    """{labels: value} of a metric family ("" for no labels)."""
    out = {}
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
            if m:
                out[m.group(1) or ""] = float(m.group(2))
    return out


def refused(url, reason):
    return series(url, "sluice_reducer_commands_refused_total").get('{reason="%s"}' % reason, 0.0)


def subs_total():
    return sum(metric(u, "sluice_reducer_subscriptions") for u in reducers)


def produce_commands(cmds):
    lines = "".join("%s\t%s\n" % (c["channel"], json.dumps(c)) for c in cmds)
    subprocess.run(["kcat", "-b", os.environ["SLUICE_KAFKA_BROKERS"], "-P", "-t", os.environ["SLUICE_COMMAND_TOPIC"],
                    "-K", "\t"], input=lines, text=True, check=True, timeout=30)


def snapshot_markets(cid, want):
    """Begin, then the markets of the snapshots until `want` are all seen."""
    s = Stream(cid, direct=True)
    try:
        expect_eq("begin %s" % cid[:8], 202, api("POST", "/v1/channels/%s/begin" % cid)[0])
        seen = set()
        deadline = time.time() + 20
        while time.time() < deadline and not want <= seen:
            m = s.next(1)
            if m and m.get("type") == "snapshot":
                seen |= {x["market"] for x in m["markets"]}
        return seen
    finally:
        s.close()


try:
    reducers = os.environ["SLUICE_REDUCER_URLS"].split()
    feed(40, 4, seed=7)  # system_up waited for the reducers to own every partition
    # A snapshot holds the markets that have a state when `begin` is applied:
    # wait for the feed to be reduced, or m-0001 may not be in it yet.
    wait_for("the feed's records reduced", state_matches_kafka, 30)

    st, body = api("POST", "/v1/channels", {"markets": ["m-0001"]})
    expect_eq("the API creates a channel", 201, st)
    cid = body["channel"]
    wait_for("its subscribe applied by the reducer owning m-0001", lambda: subs_total() == 1, 20)
    if "m-0001" not in snapshot_markets(cid, {"m-0001"}):
        fail("no snapshot of m-0001")
    ok("a real subscribe and begin work")

    ghost = str(uuid.uuid4())
    base = {u: {r: refused(u, r) for r in ("unknown_channel", "market_mismatch", "channel_open")} for u in reducers}
    forged = [
        {"op": "subscribe", "channel": cid, "markets": ["m-0002", "m-0003"]},  # markets the channel does not hold
        {"op": "subscribe", "channel": ghost, "markets": ["m-0001"]},          # no such channel
        {"op": "begin", "channel": ghost, "markets": []},                      # no such channel
        {"op": "unsubscribe", "channel": cid, "markets": ["m-0001"]},          # still held
        {"op": "close", "channel": cid, "markets": []},                        # still open
    ]
    produce_commands(forged)
    t0 = time.time()
    for u in reducers:
        wait_for("%s refuses the forged subscribe and unsubscribe" % u,
                 lambda: refused(u, "market_mismatch") - base[u]["market_mismatch"] == 2, 20)
        wait_for("%s refuses the commands of a channel that does not exist" % u,
                 lambda: refused(u, "unknown_channel") - base[u]["unknown_channel"] == 2, 20)
    ok("each reducer refused the forged subscribe, unsubscribe, and the ghost channel's subscribe and begin")
    expect_eq("the forged subscribe and unsubscribe changed no subscription", 1, subs_total())

    # A real command read after the forged ones is applied.
    expect_eq("the API subscribes m-0002", 200, api("POST", "/v1/channels/%s/subscriptions" % cid, {"markets": ["m-0002"]})[0])
    wait_for("the real subscribe applied", lambda: subs_total() == 2, 20)

    # The forged close waits for the record to go, which it never does: refused.
    for u in reducers:
        wait_for("%s refuses the close of an open channel" % u,
                 lambda: refused(u, "channel_open") - base[u]["channel_open"] == 1, 30)
    waited = time.time() - t0
    if waited < 9:
        fail("the forged close was refused after %.1fs, before the record had 10 s to go" % waited)
    ok("the forged close was refused after %.1fs (the record never went)" % waited)
    expect_eq("the forged close removed nothing", 2, subs_total())
    seen = snapshot_markets(cid, {"m-0001", "m-0002"})
    expect_eq("the snapshot holds the channel's markets, and only them", {"m-0001", "m-0002"}, seen & {"m-0001", "m-0002", "m-0003"})

    expect_eq("the API unsubscribes m-0002", 204, api("DELETE", "/v1/channels/%s/subscriptions/m-0002" % cid)[0])
    wait_for("the real unsubscribe applied", lambda: subs_total() == 1, 20)

    # A real close: emitted before the record is deleted; applied once it is.
    # A client of the publisher hears it (and the publisher logs the close).
    listener = Stream(cid)
    expect_eq("the API deletes the channel", 204, api("DELETE", "/v1/channels/" + cid)[0])
    wait_for("the real close applied", lambda: subs_total() == 0, 20)
    deadline = time.time() + 20
    last = None
    while time.time() < deadline and (last or {}).get("type") not in ("closed", "_eof"):
        last = listener.next(1) or last
    listener.close()
    expect_eq("the publisher's client hears the close", "closed", (last or {}).get("type"))
    for u in reducers:
        # The reducer that held no subscription may still be asking Redis
        # whether the record went: its close leaves the queue when it has.
        wait_for("%s: no command still waiting for its check" % u,
                 lambda: series(u, "sluice_reducer_command_checks_pending").get("", -1) == 0, 20)
        expect_eq("%s: the real close was not refused" % u, 1.0,
                  refused(u, "channel_open") - base[u]["channel_open"])
        expect_eq("%s: still ready" % u, 200, http("GET", u + "/readyz")[0])

    for i in (1, 2):
        text = open(os.path.join(work, "reducer-%d.log" % i)).read()
        lines = [l for l in text.splitlines() if "ev=command_refused" in l]
        if not lines:
            fail("reducer-%d logged no command_refused" % i)
    ok("refusals logged, with the channel id shortened (e.g. %s)" % lines[0][lines[0].find("ev="):][:160])
    text = open(os.path.join(work, "publisher.log")).read()
    if "ev=channel_closed channel=%s... " % cid[:8] not in text:
        fail("the publisher logged no channel_closed with the id shortened")
    # Issue 11: a channel id is a capability; no role's log (info level) holds one whole.
    for f in sorted(os.listdir(work)):
        if f.endswith(".log"):
            text = open(os.path.join(work, f)).read()
            for c in (cid, ghost):
                if c in text:
                    fail("%s holds a full channel id" % f)
    ok("no role's log holds a full channel id")
finally:
    rc = system_down(name)
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
