"""pllib.py: helpers for the pipeline's integration tests (03NN-*.py).

The system (api, reducers, publisher, feed) is started by lib.sh's
it_system_up on free ports against the shared stack (or a solo one when a
test runs alone); this module calls those shell helpers, speaks HTTP to the
API, reads Kafka with kcat, and reads a channel's Redis pub/sub stream with
a minimal RESP client (so the reducer is tested without the publisher), or
through the publisher's SSE endpoint. Every wait is bounded.
"""
import json, os, socket, subprocess, sys, time, urllib.request, urllib.error

sys.path.insert(0, os.path.dirname(__file__))
from publib import fail, ok, expect_eq, free_port, wait_for, SSE  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build-asan", "sluice"))
REL = os.environ.get("SLUICE_RELEASE_BIN", os.path.join(ROOT, "build", "sluice"))


def sh(script, timeout=180):
    """Run bash with lib.sh sourced; return (rc, stdout)."""
    p = subprocess.run(["bash", "-c", ". '%s/lib.sh'; it_require_stack >&2; %s" % (HERE, script)],
                       capture_output=True, text=True, timeout=timeout)
    if p.stderr.strip():
        sys.stderr.write(p.stderr)
    return p.returncode, p.stdout


def system_up(name, reducers=2, feed_args=None, extra_env=None):
    """Start the system; update os.environ with what it exports."""
    pre = "".join("export %s=%s; " % (k, v) for k, v in (extra_env or {}).items())
    feed = " ".join(feed_args or [])
    rc, out = sh("%s it_system_up %s %d %s >&2 && env -0" % (pre, name, reducers, feed))
    if rc != 0:
        fail("it_system_up %s failed (rc %d)" % (name, rc))
    for item in out.split("\0"):
        k, _, v = item.partition("=")
        if k.startswith("SLUICE_") or k.startswith("IT_URL_") or k == "KAFKA_LIBS":
            os.environ[k] = v
    ok("system %s up: api %s, reducers %s, publisher %s" % (
        name, os.environ["SLUICE_API_URL"], os.environ["SLUICE_REDUCER_URLS"], os.environ.get("SLUICE_PUBLISHER_URL") or "-"))


def system_down(name):
    """Stop every role; the logs are kept when the test is failing (called
    from a `finally` while an exception, e.g. fail()'s SystemExit, is in flight)."""
    keep = "IT_KEEP_LOGS=1 " if sys.exc_info()[0] is not None else ""
    rc, _ = sh("%sit_system_down %s" % (keep, name), timeout=120)
    return rc


def role_start(sysname, inst, role, *args):
    rc, out = sh("it_role_start %s %s %s %s && echo $IT_URL_%s" % (
        sysname, inst, role, " ".join("'%s'" % a for a in args), inst.replace("-", "_")))
    if rc != 0:
        fail("could not start %s" % inst)
    return out.strip()


def role_stop(sysname, inst, sig="TERM"):
    rc, _ = sh("it_role_stop %s %s %s" % (sysname, inst, sig), timeout=60)
    return rc


def http(method, url, body=None, headers=None, raw=None, timeout=15):
    """(status, parsed JSON or text or None)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = dict(headers or {})
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def api(method, path, body=None, **kw):
    return http(method, os.environ["SLUICE_API_URL"] + path, body, **kw)


def metric(url, name):
    """Value of an unlabelled Prometheus series (0 when absent)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def feed(count, markets, rate=0, seed=1):
    """Produce `count` records with sluice feed (release build) and wait."""
    p = subprocess.run([REL, "feed", "--port", "0", "--count", str(count), "--markets", str(markets),
                        "--rate", str(rate), "--seed", str(seed), "--log-level", "warn"],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        fail("feed failed: %s" % p.stderr[-500:])


def feed_async(count, markets, rate, seed=2):
    return subprocess.Popen([REL, "feed", "--port", "0", "--count", str(count), "--markets", str(markets),
                             "--rate", str(rate), "--seed", str(seed), "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kafka_records(topic=None):
    """Every record of the data topic: list of dicts with partition, offset, key, value (text)."""
    topic = topic or os.environ["SLUICE_DATA_TOPIC"]
    p = subprocess.run(["kcat", "-b", os.environ["SLUICE_KAFKA_BROKERS"], "-C", "-t", topic, "-o", "beginning",
                        "-e", "-q", "-f", "%p\t%o\t%k\t%s\n"], capture_output=True, text=True, timeout=120)
    recs = []
    for line in p.stdout.splitlines():
        part, off, key, val = line.split("\t", 3)
        recs.append({"partition": int(part), "offset": int(off), "key": key, "value": val})
    return recs


class Redis:
    """A minimal RESP2 client (commands and pub/sub) over one socket."""

    def __init__(self, url=None):
        url = url or os.environ["SLUICE_REDIS_URL"]
        hp = url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = hp.rpartition(":")
        self.s = socket.create_connection((host, int(port)), timeout=10)
        self.buf = b""
        self.pos = 0
        self.pending = []  # messages read while waiting for a subscribe confirmation

    def close(self):
        self.s.close()

    # Replies are parsed at self.pos and only cut from self.buf once whole:
    # a timeout in the middle of a reply (a message split across TCP
    # segments on a loaded machine) leaves it to be read again whole,
    # instead of resuming in its middle and dropping or garbling it.
    def _fill(self, deadline):
        self.s.settimeout(max(0.01, deadline - time.time()))
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("redis closed the connection")
        self.buf += chunk

    def _line(self, deadline):
        while self.buf.find(b"\r\n", self.pos) < 0:
            self._fill(deadline)
        end = self.buf.index(b"\r\n", self.pos)
        line, self.pos = self.buf[self.pos:end], end + 2
        return line

    def _exact(self, n, deadline):
        while len(self.buf) < self.pos + n + 2:
            self._fill(deadline)
        data, self.pos = self.buf[self.pos:self.pos + n], self.pos + n + 2
        return data

    def _value(self, deadline):
        line = self._line(deadline)
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return rest.decode() if t == b"+" else RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n, deadline).decode()
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._value(deadline) for _ in range(n)]
        raise RuntimeError("bad RESP line %r" % line)

    def read(self, timeout=10.0):
        self.pos = 0
        try:
            v = self._value(time.time() + timeout)
        finally:
            pos, self.pos = self.pos, 0
        self.buf = self.buf[pos:]
        return v

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def cmd(self, *args):
        self.send(*args)
        return self.read()

    def subscribe(self, channel):
        """SUBSCRIBE and wait for its confirmation; messages of channels
        subscribed before that arrive meanwhile are kept for message()."""
        self.send("SUBSCRIBE", channel)
        deadline = time.time() + 10
        while time.time() < deadline:
            r = self.read(max(0.01, deadline - time.time()))
            if isinstance(r, list) and r and r[0] == "message":
                self.pending.append(r[2])
            elif isinstance(r, list) and r[0] == "subscribe" and r[1] == channel:
                return
            else:
                fail("subscribe %s: %r" % (channel, r))
        fail("subscribe %s: no confirmation" % channel)

    def message(self, timeout=10.0):
        """Next pub/sub payload (parsed JSON), or None on timeout."""
        if self.pending:
            return json.loads(self.pending.pop(0))
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                r = self.read(max(0.01, deadline - time.time()))
            except socket.timeout:
                return None
            if isinstance(r, list) and r and r[0] == "message":
                return json.loads(r[2])
        return None

    def snapshot_keys(self, prefix):
        """Every key under prefix with its full content, to prove nothing changed."""
        out = {}
        for k in sorted(self.cmd("KEYS", prefix + "*") or []):
            t = self.cmd("TYPE", k)
            if t == "hash":
                out[k] = sorted(self.cmd("HGETALL", k))
            elif t == "set":
                out[k] = sorted(self.cmd("SMEMBERS", k))
            else:
                out[k] = self.cmd("GET", k) if t == "string" else t
        return out


class Stream:
    """A channel's messages: through the publisher's SSE endpoint when there is
    a publisher, else straight from Redis pub/sub as a publisher hears them:
    the channel's private stream (snapshots, closed), then, once that is
    subscribed, its market set and the channel of every market in it
    (updates); `markets_changed` makes it follow the set."""

    def __init__(self, channel, direct=False):
        self.channel = channel
        pub = None if direct else os.environ.get("SLUICE_PUBLISHER_URL")
        self.sse = None
        self.redis = None
        if pub:
            port = int(pub.rsplit(":", 1)[1])
            self.sse = SSE(port, "/v1/events/" + channel, timeout=20)
            first = self.next(20)
            if not first or first.get("type") != "subscribed":
                fail("publisher did not confirm the subscription: %r" % (first,))
        else:
            self.prefix = os.environ["SLUICE_REDIS_PREFIX"]
            self.redis = Redis()
            self.markets = set()
            self.redis.subscribe(self.prefix + "stream:" + channel)
            self._follow()

    def _follow(self):
        r = Redis()
        try:
            want = set(r.cmd("SMEMBERS", "%schannel:%s:markets" % (self.prefix, self.channel)) or [])
        finally:
            r.close()
        for m in sorted(want - self.markets):
            self.redis.subscribe(self.prefix + "market:" + m)
        for m in sorted(self.markets - want):
            self.redis.send("UNSUBSCRIBE", self.prefix + "market:" + m)
        self.markets = want

    def next(self, timeout=10.0):
        if self.redis:
            while True:
                msg = self.redis.message(timeout)
                if msg and msg.get("type") == "markets_changed":
                    self._follow()
                    continue
                return msg
        self.sse.sock.settimeout(max(timeout, 0.001))
        try:
            return self.sse.event()
        except socket.timeout:
            return None
        except EOFError:
            return {"type": "_eof"}

    def close(self):
        if self.redis:
            self.redis.close()
        if self.sse:
            try:
                self.sse.close()
            except Exception:
                pass


class Client:
    """What a browser does: hold per market the newest (offset, value) and the
    full history of accepted updates, dropping anything at or below the
    offset held (SPEC section 2)."""

    def __init__(self):
        self.held = {}      # market -> (offset, value)
        self.accepted = {}  # market -> [offsets accepted from updates]
        self.snapshots = 0
        self.snap = {}      # market -> offset in the first snapshot that had it
        self.closed = False

    def take(self, msg):
        t = msg.get("type")
        if t == "snapshot":
            self.snapshots += 1
            for e in msg["markets"]:
                self.snap.setdefault(e["market"], e["offset"])
                if e["offset"] > self.held.get(e["market"], (-1, None))[0]:
                    self.held[e["market"]] = (e["offset"], e["value"])
        elif t == "update":
            m = msg["market"]
            if msg["offset"] > self.held.get(m, (-1, None))[0]:
                self.held[m] = (msg["offset"], msg["value"])
                self.accepted.setdefault(m, []).append(msg["offset"])
        elif t == "closed":
            self.closed = True


class OwnRedis:
    """A restartable redis-server of the test's own, with the append-only
    file on (fsync always) like the stack's, so a restart keeps the data."""

    def __init__(self, workdir):
        os.makedirs(workdir, exist_ok=True)
        self.dir = workdir
        self.port = free_port()
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def pong():
            r = Redis(self.url)
            try:
                return r.cmd("PING") == "PONG"
            finally:
                r.close()
        wait_for("redis-server on %d" % self.port, pong, 20)

    def stop(self, kill=False):
        if self.proc:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(20)
            self.proc = None


def last_by_market(recs):
    last = {}
    for r in recs:
        last[r["key"]] = r
    return last


def state_matches_kafka(markets=None):
    """True when the API's state of every market (or those given) is Kafka's last record."""
    last = last_by_market(kafka_records())
    ms = sorted(markets or last)
    st, body = api("GET", "/v1/markets?ids=" + ",".join(ms))
    if st != 200:
        return False
    got = {e["market"]: e for e in body["markets"]}
    return all(m in got and got[m]["offset"] == last[m]["offset"] and got[m]["value"] == json.loads(last[m]["value"])
               for m in ms)
