"""chaoslib.py: the parts of the chaos run (tests/chaos/chaos.py) that are
not the faults: the roles as processes, the stack's processes, HTTP, Kafka
and Redis reads, and the end checks.

How it fits: chaos.py starts a whole cluster-shaped system on a running
three-broker stack with a Redis primary, replica and Sentinels
(scripts/stack.sh --brokers 3 --redis-ha), drives bench/chaos-ws clients,
injects the faults, and calls check_all() at the end. Every wait here is
bounded and polls a condition; nothing sleeps and hopes.
Non-goals: a general process supervisor; more than one machine.
"""
import json, os, signal, socket, subprocess, sys, threading, time, urllib.error, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
# The integration tests' helpers: free_port is the same there and here.
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from publib import free_port  # noqa: E402


def log(msg):
    print("chaos: %s" % msg, flush=True)


def now_ms():
    return time.time() * 1000.0


def wait_for(what, cond, timeout, every=0.2):
    """Poll cond() until it returns something true; raise on timeout."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise TimeoutError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(every)


def http(method, url, body=None, timeout=5):
    """(status, parsed JSON or text); status 0 when the connection failed."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read().decode(errors="replace")
        status = e.code
    except Exception:  # reset, refused, timeout: the request failed
        return 0, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def ws_status(port, path):
    """The HTTP status a WebSocket upgrade of path gets (0: no answer)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: Y2hhb3MtY2hlY2sta2V5IQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" % path).encode())
        head = s.recv(64).decode(errors="replace")
        s.close()
        return int(head.split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def metric(url, name):
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=3) as r:
            for line in r.read().decode().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == name:
                    return float(parts[1])
    except Exception:
        return None
    return None


# ---- the stack ----
class Stack:
    """A running stack directory (scripts/stack.sh layout and stack.env)."""

    def __init__(self, d):
        self.dir = d = os.path.abspath(d)
        self.env = {}
        with open(os.path.join(d, "stack.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k:
                    self.env[k] = v
        self.brokers = self.env["SLUICE_KAFKA_BROKERS"]
        self.sentinels = self.env.get("SLUICE_REDIS_SENTINELS", "")
        self.master = self.env.get("SLUICE_REDIS_MASTER_NAME", "sluice")
        if not self.sentinels:
            raise SystemExit("chaos: the stack in %s has no Sentinels (stack.sh up --redis-ha)" % d)

    def broker_ports(self):
        return [int(b.rsplit(":", 1)[1]) for b in self.brokers.split(",")]

    def broker_pid(self, node):
        with open(os.path.join(self.dir, "kafka-%d" % node, "pid")) as f:
            return int(f.read().strip())

    def redis_cli(self, port, *args, timeout=3):
        p = subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=timeout)
        return p.stdout

    def primary_port(self):
        for s in self.sentinels.split(","):
            try:
                out = self.redis_cli(s.rsplit(":", 1)[1], "sentinel", "get-master-addr-by-name", self.master).split()
            except subprocess.TimeoutExpired:
                continue
            if len(out) == 2:
                return int(out[1])
        return None

    def redis_nodes(self):
        """(port, pidfile) of each Redis node."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name == "redis" or name.startswith("redis-"):
                layout = open(os.path.join(self.dir, "layout")).read()
                key = "rport_1" if name == "redis" else "rport_" + name.split("-")[1]
                for line in layout.splitlines():
                    if line.startswith(key + "="):
                        out.append((int(line.split("=")[1]), os.path.join(self.dir, name, "pid")))
        return out

    def up(self):
        """Converge: start whatever part of the stack is dead (stack.sh up)."""
        p = subprocess.run([os.path.join(ROOT, "scripts", "stack.sh"), "up"], env=dict(os.environ, SLUICE_STACK_DIR=self.dir),
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError("stack.sh up failed: %s" % p.stderr[-2000:])

    def metadata(self, topic):
        """{partition: (leader, [isr])} of topic, from any broker that answers."""
        for port in self.broker_ports():
            try:
                p = subprocess.run(["kcat", "-b", "127.0.0.1:%d" % port, "-L", "-t", topic, "-J", "-m", "5"],
                                   capture_output=True, text=True, timeout=8)
            except subprocess.TimeoutExpired:
                continue
            if p.returncode != 0:
                continue
            md = json.loads(p.stdout)
            for t in md.get("topics", []):
                if t.get("topic") == topic and "partitions" in t:
                    return {q["partition"]: (q["leader"], sorted(r["id"] for r in q.get("isrs", [])))
                            for q in t["partitions"]}
        return {}

    def full_isr(self, topic, n=3):
        md = self.metadata(topic)
        return bool(md) and all(len(isr) == n and leader >= 0 for leader, isr in md.values())

    def replica_in_sync(self):
        port = self.primary_port()
        if not port:
            return False
        try:
            info = self.redis_cli(port, "info", "replication")
        except subprocess.TimeoutExpired:
            return False
        return "connected_slaves:1" in info and "state=online" in info


# ---- the roles ----
class Role:
    def __init__(self, sysdir, name, role, binary, args, env):
        self.name, self.role, self.binary, self.args, self.env = name, role, binary, args, env
        self.port = free_port()
        self.logpath = os.path.join(sysdir, name + ".log")
        self.proc = None
        self.lives = 0
        self.killed = False  # by a fault, and not started again yet

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.lives += 1
        self.killed = False
        logf = open(self.logpath, "a")
        logf.write("--- life %d\n" % self.lives)
        logf.flush()
        self.proc = subprocess.Popen([self.binary, self.role, "--port", str(self.port)] + self.args,
                                     stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env, start_new_session=True)
        logf.close()

    def ready(self):
        st, _ = http("GET", self.url + "/readyz", timeout=2)
        return st == 200

    def wait_ready(self, timeout=60):
        def ok():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %s: %s" % (self.name, self.proc.returncode, self.tail()))
            return self.ready()
        wait_for(self.name + " /readyz", ok, timeout)

    def kill(self, sig=signal.SIGKILL):
        self.killed = sig == signal.SIGKILL
        self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait(timeout=30)

    def stop(self, timeout=40):
        """SIGTERM; the exit status (a SIGKILL after timeout: -9)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0 if self.proc is None or self.killed else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9

    def tail(self, n=15):
        try:
            with open(self.logpath) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


# ---- Kafka reads ----
def consume_all(binary, brokers, topic, timeout_ms=6000):
    """Every record of topic, as dicts (partition, offset, key, value)."""
    p = subprocess.run([binary, "consume", "--bootstrap-server", brokers, "--topic", topic, "--from-beginning",
                        "--format", "json", "--timeout-ms", str(timeout_ms), "--log-level", "warn"],
                       capture_output=True, text=True, timeout=600)
    out = []
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def jval(text):
    """A value as JSON when it is JSON, else the string (the protocol's rule)."""
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return text


# ---- the producer through the REST proxy: what it acknowledged ----
class AckProducer(threading.Thread):
    """POSTs batches of records with unique values to a topic through the
    REST proxy (Confluent v2) and keeps what was acknowledged (partition,
    offset) per value, until stopped."""

    def __init__(self, proxy_url, topic, every=0.1, batch=10):
        super().__init__(daemon=True)
        self.url = "%s/topics/%s" % (proxy_url, topic)
        self.every, self.batch = every, batch
        self.acked = []  # (partition, offset, seq)
        self.failed = 0
        self.seq = 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            recs = []
            for _ in range(self.batch):
                self.seq += 1
                recs.append({"value": {"seq": self.seq}})
            body = json.dumps({"records": recs}).encode()
            req = urllib.request.Request(self.url, data=body, method="POST")
            req.add_header("Content-Type", "application/vnd.kafka.json.v2+json")
            try:
                with urllib.request.urlopen(req, timeout=40) as r:
                    ans = json.loads(r.read().decode())
                for rec, off in zip(recs, ans.get("offsets", [])):
                    if off.get("error_code") is None and off.get("offset", -1) >= 0:
                        self.acked.append((off["partition"], off["offset"], rec["value"]["seq"]))
                    else:
                        self.failed += 1
            except Exception:
                self.failed += len(recs)
            self.stopping.wait(self.every)

    def stop(self):
        self.stopping.set()
        self.join(timeout=60)
