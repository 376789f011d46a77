#!/usr/bin/env python3
"""0309: the per-market fan-out under load, through two publishers with
several loops each, checked against Kafka's offsets.

While the feed produces, clients join one after another (create a channel,
open the stream on one of two publishers, wait for `subscribed`, `begin`):
each joins at a different point of every market's stream, which is the
subscribe race. For every client and market, after its snapshot every later
Kafka record arrives, in offset order, with Kafka's value: nothing falls
between the snapshot and the live stream. Midway one publisher is killed
(SIGKILL): its clients reconnect to the other, wait for `subscribed`,
`begin` again, and end with Kafka's last record of each market like the
rest; nothing they applied was ever garbled (each update's value is Kafka's
at that offset) and no client applied an offset below one it held."""
import os, random, socket, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *
from publib import WS

name = "pl0309-%d" % os.getpid()
MARKETS, CLIENTS, PER = 60, 24, 3
# Readers here keep up; conflation (0203) would skip offsets on purpose.
os.environ["SLUICE_PUBLISHER_QUEUE_SOFT_LIMIT"] = "100000"
os.environ["SLUICE_PUBLISHER_QUEUE_HARD_LIMIT"] = "200000"
system_up(name, reducers=2)
stop = threading.Event()
threads = []
try:
    pubs = {"publisher": os.environ["SLUICE_PUBLISHER_URL"],
            "publisher-2": role_start(name, "publisher-2", "publisher", "--loops", "3")}
    ports = {k: int(u.rsplit(":", 1)[1]) for k, u in pubs.items()}
    feed(MARKETS * 3, MARKETS, seed=21)  # every market has a state before anyone joins
    proc = feed_async(6000, MARKETS, 500, seed=22)
    rnd = random.Random(9)

    class Session(threading.Thread):
        """One client: streams on a publisher, reconnects to the other one
        when its publisher dies; one pllib.Client per connection (epoch)."""

        def __init__(self, k, markets, where):
            super().__init__(daemon=True)
            self.k, self.markets, self.where = k, markets, where
            st, body = api("POST", "/v1/channels", {"markets": markets})
            if st != 201:
                fail("create channel: %d %r" % (st, body))
            self.cid = body["channel"]
            self.epochs = []      # (publisher, Client, [(market, offset, value)] accepted)
            self.error = None

        def connect(self):
            ws = WS(ports[self.where], "/v1/stream/" + self.cid, timeout=30)
            first = ws.message(timeout=30)
            if first.get("type") != "subscribed":
                raise AssertionError("first message %r" % first)
            st, _ = api("POST", "/v1/channels/%s/begin" % self.cid)
            if st != 202:
                raise AssertionError("begin: %d" % st)
            self.epochs.append((self.where, Client(), []))
            return ws

        def run(self):
            try:
                ws = self.connect()
                while not stop.is_set():
                    try:
                        msg = ws.message(timeout=0.5)
                    except TimeoutError:
                        continue
                    except (EOFError, ConnectionError, OSError):
                        # The publisher died: any other one will do.
                        self.where = "publisher"
                        ws = self.connect()
                        continue
                    c, log = self.epochs[-1][1], self.epochs[-1][2]
                    if msg.get("type") == "update":
                        m = msg["market"]
                        held = c.held.get(m, (-1, None))[0]
                        if msg["offset"] > held:
                            log.append((m, msg["offset"], msg["value"]))
                    c.take(msg)
            except BaseException as e:  # reported by the main thread
                self.error = e

    sessions = []
    killed = False
    for k in range(CLIENTS):
        ms = rnd.sample(["m-%04d" % i for i in range(1, MARKETS + 1)], PER)
        s = Session(k, ms, "publisher" if k % 2 == 0 or killed else "publisher-2")
        s.start()
        sessions.append(s)
        time.sleep(rnd.uniform(0.05, 0.3))  # join at scattered points of the stream
        if k == CLIENTS // 2:
            on2 = [x for x in sessions if x.where == "publisher-2"]
            wait_for("the clients of publisher-2 to stream", lambda: all(x.epochs for x in on2), 30)
            role_stop(name, "publisher-2", "KILL")
            killed = True
            ok("publisher-2 killed with %d clients streaming from it" % len(on2))
    proc.wait(timeout=120)
    recs = kafka_records()
    by_market, value_at = {}, {}
    for r in recs:
        by_market.setdefault(r["key"], []).append(r["offset"])
        value_at[(r["key"], r["offset"])] = json.loads(r["value"])
    last = {m: offs[-1] for m, offs in by_market.items()}

    def caught_up():
        return all(s.epochs and all(s.epochs[-1][1].held.get(m, (-1,))[0] == last[m] for m in s.markets)
                   for s in sessions)
    deadline = time.time() + 60
    while time.time() < deadline and not caught_up() and not any(s.error for s in sessions):
        time.sleep(0.2)
    stop.set()
    for s in sessions:
        s.join(10)
    for s in sessions:
        if s.error:
            fail("client %d: %r" % (s.k, s.error))
    if not caught_up():
        fail("not every client reached Kafka's last offsets: %r" % [
            (s.k, {m: (s.epochs[-1][1].held.get(m, (-1,))[0], last[m]) for m in s.markets}) for s in sessions
            if any(s.epochs[-1][1].held.get(m, (-1,))[0] != last[m] for m in s.markets)])
    ok("all %d clients hold Kafka's last record of each of their markets" % len(sessions))
    moved = [s for s in sessions if len(s.epochs) > 1]
    if not moved:
        fail("no client was on the killed publisher")
    ok("%d clients reconnected to the other publisher and began again" % len(moved))

    gaps = 0
    for s in sessions:
        for n, (where, c, log) in enumerate(s.epochs):
            for m, off, val in log:
                if value_at.get((m, off)) != val:
                    fail("client %d: update %s@%d is %r, Kafka has %r" % (s.k, m, off, val, value_at.get((m, off))))
            if n < len(s.epochs) - 1:
                continue  # cut short by the kill; its content was checked above
            for m in s.markets:
                if m not in c.snap:
                    fail("client %d: no snapshot of %s" % (s.k, m))
                got = [o for mm, o, _ in log if mm == m and o > c.snap[m]]
                want = [o for o in by_market[m] if o > c.snap[m]]
                if got != want:
                    gaps += 1
                    fail("client %d market %s: after snapshot offset %d got %r, Kafka %r" % (
                        s.k, m, c.snap[m], got[:12], want[:12]))
    ok("after each snapshot every later Kafka record arrived, in order, with its value (no race, no garble)")
finally:
    stop.set()
    rc = system_down(name)
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
