#!/usr/bin/env python3
"""0305: `sluice watch` runs the whole subscribe flow against the real
system (api, two reducers, publisher, a 50-market feed at 50/s): it prints
one snapshot line per market, then exactly --max-updates update lines, and
every printed (market, offset, partition, price) is a record Kafka holds,
with offsets rising per market; it exits 0 and deletes its channel. No
market -> exit 2; an API that does not answer -> exit 1."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

name = "pl0305-%d" % os.getpid()
system_up(name, 2, ["--markets", "50", "--rate", "50"])
try:
    wait_for("records for m-0001..m-0003", lambda: all(api("GET", "/v1/markets/m-%04d" % i)[0] == 200 for i in (1, 2, 3)), 30)
    p = subprocess.run([BIN, "watch", "--max-updates", "12", "m-0001", "m-0002", "m-0003"],
                       capture_output=True, text=True, timeout=90)
    expect_eq("watch exits 0", 0, p.returncode)
    lines = p.stdout.splitlines()
    rx = re.compile(r"^(snapshot|update) +(m-\d{4}) price=([0-9.]+) offset=(\d+) partition=(\d+)( latency_ms=-?\d+)?$")
    parsed = []
    for l in lines:
        m = rx.match(l)
        if not m:
            fail("unexpected output line %r" % l)
        parsed.append((m.group(1), m.group(2), float(m.group(3)), int(m.group(4)), int(m.group(5))))
    snaps = [x for x in parsed if x[0] == "snapshot"]
    ups = [x for x in parsed if x[0] == "update"]
    expect_eq("one snapshot line per market", ["m-0001", "m-0002", "m-0003"], sorted(x[1] for x in snaps))
    expect_eq("exactly --max-updates update lines", 12, len(ups))
    recs = {(r["key"], r["offset"]): r for r in kafka_records()}
    last = {}
    for kind, m, price, off, part in parsed:
        r = recs.get((m, off))
        if not r:
            fail("%s %s offset %d is not in Kafka" % (kind, m, off))
        if r["partition"] != part or abs(json.loads(r["value"])["price"] - price) > 1e-9:
            fail("%s %s offset %d: printed %s/%d, Kafka %s/%d" % (kind, m, off, price, part, r["value"], r["partition"]))
        if off <= last.get(m, -1):
            fail("%s offsets not rising: %d after %d" % (m, off, last[m]))
        last[m] = off
    ok("every printed price is Kafka's record at that offset, offsets rising per market")
    ch = re.search(r"channel ([0-9a-f-]{36})", p.stderr).group(1)
    r = Redis()
    expect_eq("watch deleted its channel", 0, r.cmd("EXISTS", os.environ["SLUICE_REDIS_PREFIX"] + "channel:" + ch))
    r.close()
    expect_eq("watch without markets: exit 2", 2, subprocess.run([BIN, "watch"], capture_output=True, timeout=30).returncode)
    dead = "http://127.0.0.1:%d" % free_port()
    expect_eq("watch with an unreachable API: exit 1", 1,
              subprocess.run([BIN, "watch", "--api-url", dead, "m-0001"], capture_output=True, timeout=30).returncode)
finally:
    rc = system_down(name)
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
