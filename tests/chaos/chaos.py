#!/usr/bin/env python3
"""chaos.py: the chaos run: faults one after another while clients watch,
then checks that nothing was lost or turned back.

    tests/chaos/chaos.py --stack-dir D [--clients 1000] [--markets 500] [--rate 1000]
                         [--bin build/sluice] [--out DIR] [--report FILE]

On a running stack of three brokers and a Redis primary + replica + three
Sentinels (scripts/stack.sh up --brokers 3 --redis-ha), it starts the
cluster shape (two api instances, three reducers with WAIT on one
replica, two publishers, the REST proxy, a feed at --rate records/s over
--markets markets) on free ports with topics of its own (replication
factor 3, min.insync.replicas=2), creates --clients channels of 5 markets
each, and runs bench/chaos-ws: every client subscribed through one of the
two publishers, begun, holding its view. A producer posts numbered records
through the REST proxy the whole time. Then, one after another:

  reducer       SIGKILL a reducer (restarted once recovered)
  broker-kill   SIGKILL the broker that leads the most data partitions
  broker-stop   SIGSTOP a broker for 30 s, then SIGCONT
  redis         SIGKILL the Redis primary (Sentinel promotes the replica;
                the old one comes back as its replica); both publishers
                subscribe again and tell every client `resumed`, and
                each begins again (checked)
  publisher     SIGKILL a publisher (its clients reconnect to the other and
                begin again)
  api           SIGKILL an api instance between its Redis write and its Kafka
                command: the command partition's leader is SIGSTOPped, a
                create is sent, and the kill lands once Redis holds the
                channel (the command cannot have been acknowledged)

Recovery of a fault: from the fault until every market's updates reach the
clients again (a record produced after the fault, delivered), and every
client is subscribed; for `api`, until the half-made channel is gone (or
whole). A process killed is started again after its recovery (what `make
up` does for a dead part), and the next fault waits until the system is
whole again (full ISR, Redis replica in sync, every role ready). The run
also plays the supervisor: a role that stops by itself is started again
at once and reported; the only accepted reason is a Kafka producer's
fatal error (kafka_fatal, exit 1: librdkafka 2.0.2's idempotent producer
can lose its sequence when a paused or cut-off broker comes back still
believing it leads), anything else fails the run.
At the end the feed and the producer stop and, once the reducers have no
lag and the clients are quiet: every market's state in Redis equals its
last Kafka record; every client's final view equals it; in the sampled
clients' logs no market's offset ever went down and every applied value is
Kafka's at that offset; every record the REST proxy acknowledged is in
Kafka with its value; every channel answered 201 has its command in Kafka;
the feed's delivered count is in Kafka; the api fault left no half channel.
Prints one line per fault and per check, a Markdown table to --report, and
exits 1 when a check failed. The stack is left running (make chaos and the
integration test stop it).
How it fits: `make chaos` (tests/chaos/chaos.sh, full size) and the
integration test 1202 (small) run it; chaoslib.py has the parts.
Non-goals: several machines, network partitions, disk faults.
"""
import argparse, json, os, random, signal, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaoslib import (ROOT, AckProducer, Role, Stack, consume_all, http, jval, log, metric, now_ms,  # noqa: E402
                      wait_for, ws_status)

FAULTS = ["reducer", "broker-kill", "broker-stop", "redis", "publisher", "api"]


class Run:
    def __init__(self, a):
        self.a = a
        self.stack = Stack(a.stack_dir)
        self.bin = a.bin
        self.tag = "chaos%d" % os.getpid()
        self.out = a.out
        os.makedirs(self.out, exist_ok=True)
        self.data_topic = self.tag + "-markets"
        self.cmd_topic = self.tag + "-commands"
        self.ack_topic = self.tag + "-acks"
        self.env = dict(os.environ)
        self.env.update({
            "SLUICE_KAFKA_BROKERS": self.stack.brokers,
            "SLUICE_REDIS_URL": self.stack.env["SLUICE_REDIS_URL"],
            "SLUICE_REDIS_SENTINELS": self.stack.sentinels,
            "SLUICE_REDIS_MASTER_NAME": self.stack.master,
            "SLUICE_REDIS_WAIT_REPLICAS": "1",
            "SLUICE_DATA_TOPIC": self.data_topic,
            "SLUICE_COMMAND_TOPIC": self.cmd_topic,
            "SLUICE_REDIS_PREFIX": self.tag + ":",
            "SLUICE_REDUCER_GROUP": self.tag + "-reducers",
            "SLUICE_LOG_LEVEL": "info",
        })
        self.roles = {}
        self.results = []   # (fault, recovery s, note)
        self.checks = []    # (name, ok, detail)
        self.created = []   # channel ids answered 201
        self.clients = None
        self.exits = []     # (fault, role, exit status, fatal logged): roles that stopped by themselves
        self.fault = "start"

    # ---- set-up ----
    def topics(self):
        for t, n in ((self.data_topic, 12), (self.cmd_topic, 1), (self.ack_topic, 3)):
            subprocess.run([self.bin, "topics", "--bootstrap-server", self.stack.brokers, "--create", "--if-not-exists",
                            "--topic", t, "--partitions", str(n), "--replication-factor", "3",
                            "--config", "min.insync.replicas=2"], check=True, capture_output=True, timeout=120)
        wait_for("full ISR of the new topics", lambda: all(self.stack.full_isr(t) for t in
                                                           (self.data_topic, self.cmd_topic, self.ack_topic)), 120)

    def role(self, name, role, args=()):
        r = Role(self.out, name, role, self.a.role_bin, list(args), self.env)
        self.roles[name] = r
        return r

    def start_system(self):
        # A killed reducer's partitions move after the session timeout: 6 s
        # here (librdkafka's default is 45 s; docs/operations.md).
        # A broker that stops answering (SIGSTOP) holds a client's requests
        # until socket.timeout.ms (librdkafka: 60 s) before it looks for
        # the new leader: 10 s here (docs/operations.md).
        kx = ["-X", "kafka.socket.timeout.ms=10000"]
        rx = kx + ["-X", "kafka.session.timeout.ms=6000", "-X", "kafka.heartbeat.interval.ms=1000"]
        for i in (1, 2):
            # Every client comes from 127.0.0.1: no per-creator limit.
            self.role("api-%d" % i, "api", kx + ["--max-channels-per-creator", "0"]).start()
        for i in (1, 2, 3):
            self.role("reducer-%d" % i, "reducer", rx).start()
        for r in list(self.roles.values()):
            r.wait_ready(90)
        api = self.roles["api-1"].url
        for i in (1, 2):
            self.role("publisher-%d" % i, "publisher", ["--api-url", api]).start()
        self.role("rest-proxy", "rest-proxy", kx).start()
        self.role("feed", "feed", kx + ["--markets", str(self.a.markets), "--rate", str(self.a.rate)]).start()
        for r in self.roles.values():
            r.wait_ready(90)
        wait_for("the reducers to share every partition", self.reducers_settled, 90)
        log("system up: %s" % ", ".join(sorted(self.roles)))

    def reducers_settled(self):
        owned = [metric(self.roles["reducer-%d" % i].url, "sluice_reducer_partitions_owned") for i in (1, 2, 3)]
        return all(o is not None and o > 0 for o in owned) and sum(owned) == 12

    def make_channels(self):
        rnd = random.Random(42)
        markets = ["m-%04d" % i for i in range(1, self.a.markets + 1)]
        apis = [self.roles["api-1"].url, self.roles["api-2"].url]

        samples = [rnd.sample(markets, 5) for _ in range(self.a.clients)]

        def one(i):
            # A loaded machine can make the API's Kafka probe time out for
            # a while (503 kafka_unavailable): retry, alternating the APIs,
            # for up to a minute.
            ms, last, attempt = samples[i], None, 0
            deadline = time.time() + 60
            while time.time() < deadline:
                st, body = http("POST", apis[(i + attempt) % 2] + "/v1/channels", {"markets": ms}, timeout=20)
                if st == 201:
                    return body["channel"], ms
                last, attempt = (st, body), attempt + 1
                time.sleep(0.5)
            raise RuntimeError("channel %d: not created (last %s)" % (i, last))
        with ThreadPoolExecutor(8) as ex:
            chans = list(ex.map(one, range(self.a.clients)))
        self.created.extend(c for c, _ in chans)
        path = os.path.join(self.out, "channels.txt")
        with open(path, "w") as f:
            for c, ms in chans:
                f.write("%s %s\n" % (c, ",".join(ms)))
        self.watched = sorted({m for _, ms in chans for m in ms})
        log("%d channels made, %d markets watched" % (len(chans), len(self.watched)))
        return path

    def start_clients(self, chfile):
        self.status_path = os.path.join(self.out, "clients.status.json")
        self.final_path = os.path.join(self.out, "clients.final.txt")
        self.sample_path = os.path.join(self.out, "clients.sample.txt")
        pubs = ",".join("127.0.0.1:%d" % self.roles["publisher-%d" % i].port for i in (1, 2))
        apis = ",".join("127.0.0.1:%d" % self.roles["api-%d" % i].port for i in (1, 2))
        self.clients_log = open(os.path.join(self.out, "chaos-ws.log"), "w")
        self.clients = subprocess.Popen([os.path.join(ROOT, "build", "bench", "chaos-ws"), "--channels-file", chfile,
                                         "--publishers", pubs, "--apis", apis, "--status-file", self.status_path,
                                         "--final-file", self.final_path, "--log-file", self.sample_path,
                                         "--sample-every", str(self.a.sample_every)],
                                        stdout=self.clients_log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for("every client subscribed and begun", lambda: self.flowing(now_ms() - 3000, need_begins=True), 180)
        st = self.status()
        log("clients: %d subscribed through 2 publishers, %d begins" % (st["subscribed"], st["begins_ok"]))

    def status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def flowing(self, since_ms, need_begins=False):
        """Every client subscribed, every watched market delivered a record
        produced after since_ms."""
        st = self.status()
        if not st or st["subscribed"] < self.a.clients:
            return False
        if need_begins and st["begins_ok"] < self.a.clients:
            return False
        mk = st["markets"]
        return all(m in mk and mk[m][0] > since_ms for m in self.watched)

    # ---- faults ----
    def supervise(self):
        """What a supervisor (`make up`, systemd) does: start again a role
        that exited by itself (not killed by a fault), and remember it. A
        role stops by itself only on a Kafka producer's fatal error
        (kafka_fatal, exit 1); the end checks fail on any other exit."""
        for name, r in sorted(self.roles.items()):
            if r.proc is not None and not r.killed and r.proc.poll() is not None:
                life = open(r.logpath).read().split("--- life %d\n" % r.lives)[-1]
                fatal = "ev=kafka_fatal" in life
                self.exits.append((self.fault, name, r.proc.returncode, fatal))
                log("%s exited %s by itself%s: started again" % (name, r.proc.returncode,
                                                               " (kafka_fatal)" if fatal else ""))
                r.start()

    def recover(self, what, t0, timeout=120):
        """Seconds from t0 until updates flow again (polled every 100 ms)."""
        def cond():
            self.supervise()
            return self.flowing(t0)
        wait_for(what + " recovery", cond, timeout, every=0.1)
        st = self.status()
        return (st["t"] - t0) / 1000.0

    def whole(self, timeout=240):
        """Wait until the system is whole again: every role ready, full ISR,
        the Redis replica in sync, the reducers sharing every partition."""
        t = time.time()
        self.stack.up()
        self.supervise()
        for r in self.roles.values():
            if r.proc.poll() is not None:
                r.start()  # killed by the fault
            r.wait_ready(90)
        wait_for("full ISR", lambda: self.stack.full_isr(self.data_topic) and self.stack.full_isr(self.cmd_topic),
                 timeout)
        wait_for("the Redis replica in sync", self.stack.replica_in_sync, timeout)
        wait_for("the reducers to share every partition", self.reducers_settled, timeout)
        since = now_ms()

        def flows():
            self.supervise()
            return self.flowing(since)
        wait_for("updates to flow", flows, timeout)
        return time.time() - t

    def leaders(self):
        md = self.stack.metadata(self.data_topic)
        count = {}
        for leader, _ in md.values():
            count[leader] = count.get(leader, 0) + 1
        return count

    def fault_reducer(self):
        r = self.roles["reducer-2"]
        t0 = now_ms()
        r.kill()
        rec = self.recover("reducer", t0)
        return rec, "reducer-2 SIGKILLed; its partitions moved after the 6 s session timeout"

    def fault_broker_kill(self):
        count = self.leaders()
        node = max(count, key=lambda k: count[k])
        pid = self.stack.broker_pid(node)
        t0 = now_ms()
        os.kill(pid, signal.SIGKILL)
        rec = self.recover("broker-kill", t0)
        return rec, "broker %d (led %d of 12 partitions) SIGKILLed" % (node, count[node])

    def fault_broker_stop(self):
        count = self.leaders()
        node = max(count, key=lambda k: count[k])
        pid = self.stack.broker_pid(node)
        t0 = now_ms()
        os.kill(pid, signal.SIGSTOP)
        rec = None
        try:
            rec = self.recover("broker-stop", t0, timeout=self.a.stop_seconds)
        except TimeoutError:
            pass  # not yet: it goes on after the SIGCONT
        finally:
            left = self.a.stop_seconds - (now_ms() - t0) / 1000.0
            if left > 0:
                time.sleep(left)  # the fault is the pause itself, not a wait for a condition
            os.kill(pid, signal.SIGCONT)
        if rec is None:
            rec = self.recover("broker-stop", t0, timeout=120)
        return rec, "broker %d (led %d partitions) SIGSTOPped %d s, then SIGCONT" % (node, count[node],
                                                                                       self.a.stop_seconds)

    def fault_redis(self):
        port = self.stack.primary_port()
        pidfile = [pf for p, pf in self.stack.redis_nodes() if p == port][0]
        pid = int(open(pidfile).read())
        st0 = self.status()
        t0 = now_ms()
        os.kill(pid, signal.SIGKILL)

        # Both publishers follow the failover and subscribe again: every
        # client (each had begun) is told "resumed" and begins again.
        def back():
            st = self.status()
            return (st["resumed"] - st0["resumed"] >= self.a.clients and
                    st["begins_ok"] - st0["begins_ok"] >= self.a.clients and self.flowing(t0))
        try:
            wait_for("redis recovery", back, 120, every=0.1)
        finally:
            st = self.status()
            told = st["resumed"] - st0["resumed"]
            self.check("Redis failover: every client told resumed, and begun again", told >= self.a.clients,
                       "%d of %d clients told resumed, %d begins after it" % (
                           told, self.a.clients, st["begins_ok"] - st0["begins_ok"]))
        rec = (st["t"] - t0) / 1000.0
        new = self.stack.primary_port()
        return rec, "primary :%d SIGKILLed; Sentinel promoted :%s; %d clients told resumed" % (port, new, told)

    def fault_publisher(self):
        r = self.roles["publisher-1"]
        held = int(metric(r.url, 'sluice_publisher_connections{kind="ws"}') or 0)
        st0 = self.status()
        t0 = now_ms()
        r.kill()

        def back():
            st = self.status()
            return (st["reconnects"] - st0["reconnects"] >= held and st["begins_ok"] - st0["begins_ok"] >= held
                    and self.flowing(t0))
        wait_for("publisher recovery", back, 120, every=0.1)
        st = self.status()
        rec = (st["t"] - t0) / 1000.0
        return rec, "publisher-1 SIGKILLed with %d clients; %d reconnects, %d begins after it" % (
            held, st["reconnects"] - st0["reconnects"], st["begins_ok"] - st0["begins_ok"])

    def fault_api(self):
        """The command partition's leader is stopped, so the api's produce
        cannot be acknowledged; once Redis holds the new channel, the api is
        killed: between its Redis write and its Kafka command."""
        api = self.roles["api-2"]
        md = self.stack.metadata(self.cmd_topic)
        leader = md[0][0]
        bpid = self.stack.broker_pid(leader)
        port = self.stack.primary_port()
        before = set(self.stack.redis_cli(port, "--scan", "--pattern", self.tag + ":channel:*").split())
        result = {}

        def create():
            result["answer"] = http("POST", api.url + "/v1/channels", {"markets": ["m-0001", "m-0002"]}, timeout=30)
        def written():
            keys = set(self.stack.redis_cli(port, "--scan", "--pattern", self.tag + ":channel:*").split()) - before
            return [k for k in keys if not k.endswith(":markets")]
        os.kill(bpid, signal.SIGSTOP)
        t0 = now_ms()
        refused = 0
        keys = []
        try:
            # The API may notice the stopped broker first (its Kafka probe
            # times out) and refuse the create before writing anything
            # (503, a whole failure): ask again until a create is in Redis.
            deadline = time.time() + 60
            while not keys and time.time() < deadline:
                result.clear()
                th = threading.Thread(target=create, daemon=True)
                th.start()
                while not keys and th.is_alive():
                    keys = written()
                    time.sleep(0.02)
                keys = keys or written()
                if not keys:
                    refused += 1
                    time.sleep(0.5)
            if not keys:
                raise TimeoutError("no create reached Redis in 60 s (%d refused, last %s)" % (
                    refused, result.get("answer")))
            api.kill()
        finally:
            os.kill(bpid, signal.SIGCONT)
        th.join(timeout=40)
        status = result.get("answer", (0, None))[0]
        chan = keys[0].split(":")[-1] if keys else None
        # Whole or gone, never half: within the pending time (2 x the
        # command timeout) plus a sweep, the surviving api says 404 and the
        # publisher refuses it, or the channel works and its command is in
        # Kafka.
        other = self.roles["api-1"]

        def settled():
            st, _ = http("GET", other.url + "/v1/channels/" + chan, timeout=5)
            return st == 404 and "gone"
        outcome = None
        try:
            outcome = wait_for("the half channel to go", settled, 60)
        except TimeoutError:
            outcome = "still there"
        rec = (now_ms() - t0) / 1000.0
        cmds = [r for r in consume_all(self.bin, self.stack.brokers, self.cmd_topic, 4000) if r.get("key") == chan]
        ops = [json.loads(r["value"]).get("op") for r in cmds]
        pst = ws_status(self.roles["publisher-2"].port, "/v1/stream/" + chan)
        # The commands the channel left: none (the sweep ran before any
        # command), the sweep's close alone (the killed instance's subscribe
        # died in its producer's memory; a close of a channel the reducers
        # never held changes nothing), or subscribe then close. A subscribe
        # with no close after it would be the half channel.
        ok = status != 201 and outcome == "gone" and pst == 404 and (ops in ([], ["close"], ["subscribe", "close"]))
        self.checks.append(("api killed mid-create: no half channel", ok,
                            "answer %s, channel %s, publisher %s, commands in Kafka %s" % (status or "none (reset)",
                                                                                            outcome, pst, ops)))
        return rec, "api-2 SIGKILLed with channel written and command unacknowledged (%d creates refused whole before); %s after %.1f s" % (
            refused, outcome, rec)

    def run_faults(self):
        for f in self.a.faults:
            self.fault = f
            log("fault %s ..." % f)
            rec, note = getattr(self, "fault_" + f.replace("-", "_"))()
            back = self.whole()
            restarted = ["%s exit %s%s" % (n, rc, " kafka_fatal" if fatal else "") for ff, n, rc, fatal in self.exits
                         if ff == f]
            if restarted:
                note += "; restarted by the supervisor: " + ", ".join(restarted)
            log("fault %-12s recovered in %6.1f s (%s); whole again %.0f s later" % (f, rec, note, back))
            self.results.append((f, rec, note, back))

    # ---- the end ----
    def quiesce(self):
        self.fault = "end"
        self.supervise()
        self.producer.stop()
        feed = self.roles["feed"]
        rc = feed.stop()
        self.feed_delivered = None
        for line in open(feed.logpath).read().splitlines()[::-1]:
            if "ev=feed_done" in line:
                kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
                self.feed_delivered = int(kv.get("delivered", "-1"))
                self.feed_failed = int(kv.get("failed", "-1"))
                break
        log("feed stopped (exit %s): delivered %s" % (rc, self.feed_delivered))

        def quiet():
            lags = [metric(self.roles["reducer-%d" % i].url, "sluice_reducer_consumer_lag") for i in (1, 2, 3)]
            self._lags = lags
            if any(v is None or v > 0 for v in lags):
                return False
            st = self.status()
            prev = getattr(self, "_applied", None)
            self._applied = st["applied"]
            return prev == st["applied"]
        try:
            wait_for("the reducers to catch up and the clients to go quiet", quiet, 180, every=2)
        except TimeoutError:
            short = [metric(self.roles["reducer-%d" % i].url, "sluice_reducer_redis_wait_short_total") for i in (1, 2, 3)]
            raise TimeoutError("reducers' lag %s, short WAITs %s, clients applied %s" % (
                self._lags, short, self.status()["applied"]))

    def check(self, name, ok, detail):
        self.checks.append((name, ok, detail))

    def check_all(self):
        recs = consume_all(self.bin, self.stack.brokers, self.data_topic)
        byoff = {}
        last = {}
        parts = {}
        for r in recs:
            byoff[(r["key"], r["offset"], r["partition"])] = r["value"]
            k = r["key"]
            parts.setdefault(k, set()).add(r["partition"])
            if k not in last or r["offset"] > last[k][0]:
                last[k] = (r["offset"], r["partition"], r["value"])
        self.check("each market in one partition", all(len(p) == 1 for p in parts.values()),
                   "%d markets, %d records" % (len(parts), len(recs)))
        # Redis state
        port = self.stack.primary_port()
        state = {}
        for p in range(12):
            vals = subprocess.run(["redis-cli", "-p", str(port), "--raw", "hgetall",
                                   "%s:{p%d}:state" % (self.tag, p)], capture_output=True, text=True, timeout=30)
            lines = vals.stdout.split("\n")
            for i in range(0, len(lines) - 1, 2):
                if lines[i]:
                    state[lines[i]] = lines[i + 1]
        bad = []
        for m, (off, part, val) in last.items():
            s = state.get(m)
            if s is None:
                bad.append("%s missing" % m)
                continue
            soff, _, rest = s.split("|", 2)
            if int(soff) != off or jval(rest) != jval(val):
                bad.append("%s redis %s@%s kafka %s@%s" % (m, rest[:40], soff, val[:40], off))
        self.check("Redis state = last Kafka record, every market", not bad and len(last) > 0,
                   "%d markets%s" % (len(last), ("; " + "; ".join(bad[:5])) if bad else ""))
        # clients' final views
        bad = []
        n = 0
        for line in open(self.final_path):
            idx, chan, m, off, val = line.rstrip("\n").split(" ", 4)
            n += 1
            want = last.get(m)
            if want is None:
                if int(off) != -1:
                    bad.append("client %s %s holds %s, Kafka has none" % (idx, m, off))
            elif int(off) != want[0] or jval(val) != jval(want[2]):
                bad.append("client %s %s at %s, Kafka %s" % (idx, m, off, want[0]))
        self.check("every client's view = last Kafka record", not bad and n == 5 * self.a.clients,
                   "%d client-markets%s" % (n, ("; %d wrong: " % len(bad) + "; ".join(bad[:5])) if bad else ""))
        # the sampled clients: offsets only up, values Kafka's
        held = {}
        bad = []
        n = 0
        for line in open(self.sample_path):
            idx, m, off, val = line.rstrip("\n").split(" ", 3)
            off = int(off)
            n += 1
            k = (idx, m)
            if k in held and off <= held[k]:
                bad.append("client %s %s applied %d after %d" % (idx, m, off, held[k]))
            held[k] = off
            kv = byoff.get((m, off, last[m][1])) if m in last else None
            if kv is None or jval(kv) != jval(val):
                bad.append("client %s %s@%d value %s, Kafka %s" % (idx, m, off, val[:40], (kv or "none")[:40]))
        self.check("sampled clients: offsets only go up, values are Kafka's", not bad and n > 0,
                   "%d applied updates checked%s" % (n, ("; " + "; ".join(bad[:5])) if bad else ""))
        # acknowledged to a producer: in Kafka
        acks = {(r["partition"], r["offset"]): r["value"] for r in consume_all(self.bin, self.stack.brokers, self.ack_topic)}
        missing = [a for a in self.producer.acked if jval(acks.get((a[0], a[1]), "null")) != {"seq": a[2]}]
        self.check("every record the REST proxy acknowledged is in Kafka", not missing and self.producer.acked,
                   "%d acknowledged, %d refused or failed%s" % (len(self.producer.acked), self.producer.failed,
                                                                  ("; missing %s" % missing[:5]) if missing else ""))
        cmds = {r["key"] for r in consume_all(self.bin, self.stack.brokers, self.cmd_topic)}
        lost = [c for c in self.created if c not in cmds]
        self.check("every channel answered 201 has its command in Kafka", not lost,
                   "%d channels%s" % (len(self.created), ("; missing %s" % lost[:3]) if lost else ""))
        self.check("the feed's delivered records are in Kafka", self.feed_delivered is not None and
                   0 < self.feed_delivered <= len(recs),
                   "delivered %s (failed %s), in Kafka %d" % (self.feed_delivered, getattr(self, "feed_failed", "?"),
                                                             len(recs)))
        bad = [e for e in self.exits if not (e[2] == 1 and e[3])]
        self.check("roles stopped by themselves only on a Kafka fatal error (exit 1), and were started again", not bad,
                   "; ".join("%s during %s: exit %s%s" % (n, f, rc, ", kafka_fatal" if fatal else ", no kafka_fatal")
                             for f, n, rc, fatal in self.exits) or "none")
        st = self.status()
        self.check("clients saw no unknown market, no bad JSON", st["unknown_market"] == 0 and st["bad_json"] == 0,
                   "applied %d, duplicates %d, below held (dropped) %d, reconnects %d, begins %d, resumed %d" % (
                       st["applied"], st["dups"], st["below"], st["reconnects"], st["begins_ok"], st["resumed"]))

    def finish(self):
        if self.clients and self.clients.poll() is None:
            self.clients.send_signal(signal.SIGTERM)
            try:
                self.clients.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.clients.kill()

    def stop_roles(self):
        bad = []
        for name, r in sorted(self.roles.items()):
            rc = r.stop()
            if rc not in (0, None):
                bad.append("%s exit %s" % (name, rc))
        return bad

    def report(self):
        lines = ["| fault | recovery (s) | what happened | whole again after (s) |", "|---|---|---|---|"]
        for f, rec, note, back in self.results:
            lines.append("| %s | %.1f | %s | %.0f |" % (f, rec, note, back))
        total = sum(r[1] for r in self.results)
        lines.append("| **total** | **%.1f** | %d faults | %.0f |" % (total, len(self.results),
                                                                      sum(r[3] for r in self.results)))
        lines += ["", "| check | result | detail |", "|---|---|---|"]
        for name, ok, detail in self.checks:
            lines.append("| %s | %s | %s |" % (name, "ok" if ok else "**FAILED**", detail))
        txt = "\n".join(lines) + "\n"
        if self.a.report:
            with open(self.a.report, "w") as f:
                f.write(txt)
        print(txt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stack-dir", required=True)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "sluice"), help="for tools")
    ap.add_argument("--role-bin", default=None, help="for the roles (default --bin)")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--markets", type=int, default=500)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--stop-seconds", type=int, default=30)
    ap.add_argument("--sample-every", type=int, default=50)
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--out", default=os.path.join(ROOT, ".state", "chaos"))
    ap.add_argument("--report", default=None)
    a = ap.parse_args()
    a.faults = [f for f in a.faults.split(",") if f]
    a.role_bin = a.role_bin or a.bin
    for f in a.faults:
        if f not in FAULTS:
            ap.error("unknown fault %s (known: %s)" % (f, ", ".join(FAULTS)))
    run = Run(a)
    t_start = time.time()

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    failed_exc = None
    try:
        run.topics()
        run.start_system()
        chfile = run.make_channels()
        run.producer = AckProducer(run.roles["rest-proxy"].url, run.ack_topic)
        run.producer.start()
        run.start_clients(chfile)
        run.run_faults()
        run.quiesce()
        run.finish()
        run.check_all()
    except (Exception, KeyboardInterrupt) as e:  # a fault that did not recover is a failure too
        failed_exc = e
        run.checks.append(("the run completed", False, "%s: %s" % (type(e).__name__, e)))
    finally:
        run.finish()
        if getattr(run, "producer", None):
            run.producer.stop()
        bad = run.stop_roles()
        run.checks.append(("every role exits 0 on SIGTERM", not bad, ", ".join(bad) or "all 0"))
    run.report()
    failed = [c for c in run.checks if not c[1]]
    log("%d checks, %d failed; %.0f s in all; logs in %s" % (len(run.checks), len(failed), time.time() - t_start,
                                                             run.out))
    if failed_exc is not None:
        for name, r in sorted(run.roles.items()):
            log("--- tail of %s\n%s" % (name, r.tail(8)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
