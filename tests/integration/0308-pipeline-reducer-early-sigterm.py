#!/usr/bin/env python3
"""0308: SIGTERM at any point of a reducer's start-up exits 0. librdkafka
2.0.2 aborts in rd_kafka_destroy (rd_kafka_sticky_assignor_state_destroy:
assertion `assignor_state', issues #4308/#4312) when a cooperative-sticky
consumer that has joined its group is destroyed before its first
assignment. A reducer joins a group that already has a member under load,
so its join goes through a rebalance; it is sent SIGTERM right after it
starts, before and after /readyz, at several delays, and, with
librdkafka's cgrp debug log on, the moment its log shows the JoinGroup
response (the window of the abort); it must exit 0 every time (no abort,
no leak under ASan), leaving the group to the first member, which must
still own every partition afterwards.
"""
import os, subprocess, sys, time, urllib.request
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

name = "pl0308-%d" % os.getpid()
KX = ["-X", "kafka.session.timeout.ms=6000", "-X", "kafka.heartbeat.interval.ms=500"]
system_up(name, reducers=1)
proc = None
logs = os.path.join(os.environ.get("SLUICE_STATE", "/tmp"), "sys-" + name)
os.makedirs(logs, exist_ok=True)


def ready(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=1) as r:
            return r.status == 200
    except Exception:
        return False


try:
    proc = feed_async(20000, 60, 500, seed=41)
    # Delays after the reducer is ready (None: SIGTERM as soon as it listens;
    # "join": as soon as librdkafka logs the JoinGroup response).
    delays = [None, 0.0, 0.05, 0.2, 0.5, 1.0, 1.5, 2.5, "join", "join", "join", "join"]
    for i, delay in enumerate(delays):
        port = free_port()
        log = os.path.join(logs, "early-%d.log" % i)
        dbg = ["-X", "kafka.debug=cgrp"] if delay == "join" else []
        with open(log, "w") as f:
            p = subprocess.Popen([os.environ["SLUICE_BIN"], "reducer", "--port", str(port)] + KX + dbg,
                                 stdout=f, stderr=subprocess.STDOUT)
        if delay is None:
            # As early as a SIGTERM can be handled: the moment it logs that
            # it listens (its signal handlers are in place by then; before
            # them the kernel's default action ends it, as for any process).
            # A fixed 0.3 s sleep was sometimes before that under load.
            deadline = time.time() + 30
            while time.time() < deadline and "ev=reducer_listening" not in open(log).read():
                time.sleep(0.002)
            if time.time() >= deadline:
                p.kill()
                fail("early reducer %d: no reducer_listening in its log within 30 s" % i)
        elif delay == "join":
            deadline = time.time() + 30
            while time.time() < deadline and "JoinGroup response" not in open(log).read():
                time.sleep(0.002)
            if time.time() >= deadline:
                p.kill()
                fail("early reducer %d: no JoinGroup response in its log within 30 s" % i)
        else:
            wait_for("early reducer %d /readyz" % i, lambda: ready(port), 30)
            time.sleep(delay)
        p.send_signal(15)
        try:
            rc = p.wait(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            fail("reducer %d (SIGTERM at %s) did not exit in 40 s" % (i, delay))
        text = open(log).read()
        if rc != 0 or "Assertion" in text or "ERROR: " in text:
            sys.stderr.write(text[-3000:])
            fail("reducer %d (SIGTERM at %s) exited %d" % (i, delay, rc))
        ok("reducer SIGTERMed %s exits 0" % ("as soon as it listens" if delay is None else
                                             "at its JoinGroup response" if delay == "join" else
                                             "%.2f s after /readyz" % delay))
    red = os.environ["SLUICE_REDUCER_URLS"]
    wait_for("the first reducer to own all 12 partitions again",
             lambda: metric(red, "sluice_reducer_partitions_owned") == 12, 60)
    ok("the first reducer owns every partition again")
    proc.kill()
    proc.wait()
    proc = None
finally:
    if proc:
        proc.kill()
    rc = system_down(name)
if rc != 0:
    fail("a surviving role did not shut down cleanly")
ok("surviving roles exited 0 on SIGTERM")
