#!/usr/bin/env python3
"""0306: `sluice feed` against the real broker: --count N produces exactly N
records, keyed m-0001..m-<M> round-robin, each value
{"market":<key>,"price":<4 decimals>,"ts":<ms>} with the seed's random walk
(every step of a market is at most 0.75, prices start near 100), the record
timestamp within a second of the value's ts, the partition Kafka's default
murmur2 partitioner gives the key (checked with an independent Python
murmur2), at the asked rate (--rate 100 for 300 records takes about 3 s);
SIGTERM flushes and exits 0 with every produced record in Kafka; bad
settings exit 2 with one line."""
import os, re, signal, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *


def murmur2(data):
    m, r = 0x5bd1e995, 24
    h = (0x9747b28c ^ len(data)) & 0xffffffff
    n = len(data) // 4
    for i in range(n):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
    tail = data[4 * n:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


topic = "pl0306-%d-markets" % os.getpid()
rc, _ = sh("it_topic %s 12" % topic)
if rc:
    fail("could not create the topic")
os.environ["SLUICE_DATA_TOPIC"] = topic

t0 = time.time()
p = subprocess.run([BIN, "feed", "--port", "0", "--count", "300", "--markets", "7", "--rate", "100", "--seed", "5"],
                   capture_output=True, text=True, timeout=60)
took = time.time() - t0
expect_eq("feed --count exits 0", 0, p.returncode)
if not 2.5 <= took <= 8:
    fail("300 records at 100/s took %.1f s" % took)
ok("300 records at --rate 100 took %.1f s" % took)
recs = kafka_records(topic)
expect_eq("exactly --count records", 300, len(recs))
rx = re.compile(r'^\{"market":"(m-\d{4})","price":(-?\d+\.\d{4}),"ts":(\d{13})\}$')
last, keys = {}, set()
tsdiff = []
p2 = subprocess.run(["kcat", "-b", os.environ["SLUICE_KAFKA_BROKERS"], "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                     "-f", "%k %T\n"], capture_output=True, text=True, timeout=60)
kts = {}
for line in p2.stdout.split("\n"):
    if line:
        k, t = line.split()
        kts.setdefault(k, []).append(int(t))
by_key = {}
for r in recs:
    m = rx.match(r["value"])
    if not m:
        fail("value is not the feed's JSON: %r" % r["value"])
    if m.group(1) != r["key"]:
        fail("value market %s under key %s" % (m.group(1), r["key"]))
    want = murmur2(r["key"].encode()) & 0x7fffffff
    if r["partition"] != want % 12:
        fail("%s in partition %d, murmur2 says %d" % (r["key"], r["partition"], want % 12))
    by_key.setdefault(r["key"], []).append((r["offset"], float(m.group(2)), int(m.group(3))))
    keys.add(r["key"])
expect_eq("keys m-0001..m-0007", ["m-%04d" % i for i in range(1, 8)], sorted(keys))
expect_eq("round-robin: 300/7 records per market", [43, 43, 43, 43, 43, 43, 42],
          [len(by_key["m-%04d" % i]) for i in range(1, 8)])
ok("every record: the feed's JSON, key = market, murmur2 partition")
for k, rows in by_key.items():
    rows.sort()
    prev = 100.0
    for i, (_, price, ts) in enumerate(rows):
        if abs(price - prev) > 0.75 + 1e-4:
            fail("%s step %d moved %.4f (> 0.75)" % (k, i, price - prev))
        prev = price
    for (_, _, ts), kt in zip(rows, sorted(kts[k])):
        tsdiff.append(abs(kt - ts))
ok("every step of every market's walk is at most 0.75")
if max(tsdiff) > 1000:
    fail("record timestamps differ from the value's ts by up to %d ms" % max(tsdiff))
ok("record timestamps within %d ms of the value's ts" % max(tsdiff))

# SIGTERM: flush, exit 0, Kafka has what the feed reported produced.
q = subprocess.Popen([BIN, "feed", "--port", "0", "--markets", "7", "--rate", "500", "--seed", "6"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
time.sleep(2.5)
q.send_signal(signal.SIGTERM)
err = q.communicate(timeout=60)[1]
expect_eq("feed exits 0 on SIGTERM", 0, q.returncode)
done = re.search(r"ev=feed_done produced=(\d+) delivered=(\d+) failed=0 undelivered=0", err)
if not done or done.group(1) != done.group(2):
    fail("no clean feed_done line: %r" % err[-400:])
expect_eq("Kafka holds every record produced before SIGTERM", 300 + int(done.group(1)), len(kafka_records(topic)))

for args, what in ((["--markets", "0"], "--markets 0"), (["--rate", "-1"], "--rate -1"), (["--rate", "x"], "--rate x"),
                   (["--bogus"], "unknown flag")):
    r = subprocess.run([BIN, "feed", "--port", "0"] + args, capture_output=True, text=True, timeout=30)
    expect_eq("feed %s: exit 2" % what, 2, r.returncode)
    expect_eq("feed %s: one line on stderr" % what, 1, len(r.stderr.strip().splitlines()))
