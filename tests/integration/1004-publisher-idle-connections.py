#!/usr/bin/env python3
"""1004: 20,000 idle WebSocket connections to one publisher (issue 10).

Two load generators (bench/ws-load.c, 10,000 clients each at most) open
idle streams on 200 channels of one publisher (the release build, as it
runs in production): every one is subscribed, the publisher raised its
descriptor limit by itself and holds them in a few KiB each, answers a
fresh client at once, delivers an update to all of them, and lets them go
cleanly. This machine caps a process at the hard limit of open files
(20,000 here, and not raisable without privileges): the publisher needs a
few descriptors of its own, so the count is 20,000 or what the limit
leaves, and the test prints which."""
import json, os, resource, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(__file__))
from publib import *

hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
N = min(20000, hard - 300)
LOAD = os.path.join(ROOT, "build", "bench", "ws-load")
REL = os.path.join(ROOT, "build", "sluice")
if not os.access(LOAD, os.X_OK):
    fail("build/bench/ws-load is missing: make benches")

redis, own = test_redis("1004")
prefix = "t1004-%d:" % os.getpid()
# The release binary: ASan's shadow memory would dominate the per-connection figure.
import publib
publib.BIN = REL
pub = Publisher(redis, prefix, "--max-connections", str(N + 100))
loads = []
try:
    for i in range(200):
        redis.cmd("HSET", "%schannel:c1004-%d" % (prefix, i), "created", "1")
        redis.cmd("SADD", "%schannel:c1004-%d:markets" % (prefix, i), "m-0001")
    time.sleep(0.5)
    def rss_kb():
        for line in open("/proc/%d/status" % pub.proc.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    rss0 = rss_kb()
    halves = [N // 2, N - N // 2]
    readies = []
    for k, n in enumerate(halves):
        ready = tempfile.mktemp(prefix="sluice-1004-ready-")
        readies.append(ready)
        loads.append(subprocess.Popen([LOAD, "--url", "127.0.0.1:%d" % pub.port, "--clients", str(n), "--channel-prefix",
                                       "c1004", "--channels", "200", "--warmup", "1", "--duration", "6", "--drain", "1",
                                       "--connect-rate", "4000", "--ready-file", ready],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    wait_for("all %d clients subscribed" % N, lambda: all(os.path.exists(r) and os.path.getsize(r) > 0 for r in readies), 90)
    held = int(pub.metric("sluice_publisher_connections") or 0)
    expect_eq("the publisher holds every connection", N, held)
    per = (rss_kb() - rss0) / N
    ok("%d idle connections at %.2f KiB each" % (N, per))
    if per > 10:
        fail("%.2f KiB per idle connection, over the 10 KiB budget" % per)
    t0 = time.time()
    st, _ = pub.get("/healthz")
    expect_eq("a fresh client is answered", 200, st)
    if time.time() - t0 > 1:
        fail("a fresh client waited %.2f s" % (time.time() - t0))
    publish_market(redis, prefix, "m-0001", update("m-0001", 1))
    results = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in loads]
    got = sum(r["messages_total"] for r in results)
    expect_eq("every client subscribed", N, sum(r["subscribed"] for r in results))
    expect_eq("the update reached every client", N, got)
    expect_eq("nobody was closed by the server", 0, sum(r["closed_by_server"] for r in results))
    wait_for("connections released", lambda: int(pub.metric("sluice_publisher_connections") or 0) == 0, 30)
    ok("all released")
    pub.stop()
    ok("clean exit")
finally:
    for p in loads:
        if p.poll() is None:
            p.kill()
    if pub and pub.proc.poll() is None:
        pub.proc.kill()
    if own:
        own.stop()
