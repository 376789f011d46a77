#!/usr/bin/env python3
"""0307: what the reducer does with odd input on its topics. Data records
are opaque bytes: a bare number (the seed's "12.3456") is stored and
published as a JSON number, a value that is not JSON as a JSON string (newlines
inside JSON values: tests/unit/test_rstate.c); records without a key or
with a key that is not a market id are skipped and counted
(sluice_reducer_records_skipped_total), nothing else changes. Bad
commands (not JSON, no channel, a bad channel id, an unknown op) are
logged and ignored, markets of the wrong type are ignored, and the reducer keeps working:
a real subscribe afterwards still streams."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

name = "pl0307-%d" % os.getpid()
system_up(name, reducers=1)
try:
    red = os.environ["SLUICE_REDUCER_URLS"]
    brokers = os.environ["SLUICE_KAFKA_BROKERS"]

    def kcat_produce(topic, lines, key_delim=True):
        args = ["kcat", "-b", brokers, "-P", "-t", topic, "-X", "partitioner=murmur2_random"]
        if key_delim:
            args += ["-K", "\t"]
        subprocess.run(args, input="\n".join(lines) + "\n", text=True, check=True, timeout=30)

    st, body = api("POST", "/v1/channels", {"markets": ["num-1", "txt-1", "obj-1"]})
    cid = body["channel"]
    stream = Stream(cid, direct=True)
    expect_eq("begin", 202, api("POST", "/v1/channels/%s/begin" % cid)[0])
    skipped0 = metric(red, "sluice_reducer_records_skipped_total")
    data = os.environ["SLUICE_DATA_TOPIC"]
    kcat_produce(data, ["num-1\t12.3456", "txt-1\tnot json at all", "bad key\t1", "obj-1\t{\"a\": [1, 2]}"])
    kcat_produce(data, ["no key at all"], key_delim=False)
    got = {}
    deadline = time.time() + 20
    while time.time() < deadline and len(got) < 3:
        m = stream.next(1)
        if m and m.get("type") == "update":
            got[m["market"]] = m["value"]
    expect_eq("bare number published as a JSON number", 12.3456, got.get("num-1"))
    expect_eq("non-JSON value published as a JSON string", "not json at all", got.get("txt-1"))
    expect_eq("JSON value published as JSON", {"a": [1, 2]}, got.get("obj-1"))
    expect_eq("stored bare number", 12.3456, api("GET", "/v1/markets/num-1")[1]["value"])
    expect_eq("stored string", "not json at all", api("GET", "/v1/markets/txt-1")[1]["value"])
    wait_for("skipped records counted", lambda: metric(red, "sluice_reducer_records_skipped_total") - skipped0 == 2, 20)
    ok("the record without a key and the one with a bad key were skipped (2 counted)")
    r = Redis()
    fields = set()
    for k in r.cmd("KEYS", os.environ["SLUICE_REDIS_PREFIX"] + "{p*}:state"):
        fields |= set(r.cmd("HKEYS", k))
    expect_eq("only valid markets in the state", {"num-1", "txt-1", "obj-1"}, fields)

    cmds0 = metric(red, "sluice_reducer_commands_total")
    bad = ["x\tnot json", "x\t{\"op\":\"subscribe\"}", "x\t{\"op\":\"subscribe\",\"channel\":\"nope\",\"markets\":[\"m-1\"]}",
           "x\t{\"op\":\"explode\",\"channel\":\"%s\"}" % cid,
           "x\t{\"op\":\"subscribe\",\"channel\":\"%s\",\"markets\":\"num-1\"}" % cid,
           "x\t{\"op\":\"subscribe\",\"channel\":\"%s\",\"markets\":[1,null,\"bad id\"]}" % cid]
    kcat_produce(os.environ["SLUICE_COMMAND_TOPIC"], bad)
    # A valid command after them is applied: the reducer survived. Applied
    # (counted): the two subscribes whose markets are all invalid (nothing to
    # do) and the valid one; the unknown op is refused like the first three.
    st, body = api("POST", "/v1/channels", {"markets": ["num-1"]})
    cid2 = body["channel"]
    wait_for("the valid command after the bad ones", lambda: metric(red, "sluice_reducer_commands_total") >= cmds0 + 3, 20)
    s2 = Stream(cid2, direct=True)
    expect_eq("begin after bad commands", 202, api("POST", "/v1/channels/%s/begin" % cid2)[0])
    m = s2.next(10)
    expect_eq("snapshot after bad commands", ("snapshot", 12.3456), (m and m["type"], m and m["markets"][0]["value"]))
    d = os.path.join(ROOT, ".state", "sys-" + name, "reducer-1.log")
    expect_eq("bad commands logged (not JSON, no channel, bad id, unknown op)", 4, sum(1 for l in open(d) if "ev=command_invalid" in l))
    expect_eq("reducer /readyz still 200", 200, http("GET", red + "/readyz")[0])
    stream.close()
    s2.close()
    r.close()
finally:
    rc = system_down(name)
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
