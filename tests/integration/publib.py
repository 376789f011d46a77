"""publib.py: helpers for the publisher's integration tests (02NN-*.py).

Starts `sluice publisher` (the ASan build, $SLUICE_BIN) on a free port
against a Redis (the shared stack's, or one the test starts itself), and
provides minimal, strict RFC 6455 / SSE clients over raw sockets so tests
can also send what a library would refuse to (unmasked frames, bad UTF-8,
huge heads). Channel records and stream messages are written with
redis-cli, exactly the contract the API and the reducers follow
(docs/protocol.md). Every wait is bounded; a helper that times out raises.
"""
import base64, json, os, signal, socket, struct, subprocess, sys, tempfile, time, uuid, urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build-asan", "sluice"))


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print("ok: " + msg)


def expect_eq(what, want, got):
    if want != got:
        fail("%s: expected %r, got %r" % (what, want, got))
    ok(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(what, fn, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if fn():
                return
        except Exception:
            pass
        time.sleep(0.05)
    fail("timed out after %.0fs waiting for %s" % (timeout, what))


class Redis:
    """redis-cli against a URL redis://host:port/db."""

    def __init__(self, url=None):
        url = url or os.environ.get("SLUICE_REDIS_URL", "redis://127.0.0.1:6379/0")
        rest = url.split("://", 1)[1]
        hp, _, db = rest.partition("/")
        self.host, _, port = hp.rpartition(":")
        self.port = int(port)
        self.db = db or "0"
        self.url = url

    def cmd(self, *args):
        out = subprocess.run(["redis-cli", "-h", self.host, "-p", str(self.port), "-n", self.db] + [str(a) for a in args],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip()


class OwnRedis(Redis):
    """A redis-server of the test's own (restartable) on a free port; with
    persist, its data survives a restart (AOF, as the stack runs it)."""

    def __init__(self, workdir, persist=False):
        self.dir = workdir
        self.persist = persist
        os.makedirs(workdir, exist_ok=True)
        port = free_port()
        super().__init__("redis://127.0.0.1:%d/0" % port)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes" if self.persist else "no",
                                      "--appendfsync", "always", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("redis-server", lambda: self.cmd("PING") == "PONG")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


class Publisher:
    def __init__(self, redis, prefix, *extra, env=None):
        self.port = free_port()
        self.prefix = prefix
        self.log = open(os.path.join(ROOT, ".state", "test-logs", "publisher-%d.log" % self.port), "w+")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([BIN, "publisher", "--port", str(self.port), "--redis-url", redis.url,
                                      "--redis-prefix", prefix, "--listen-host", "127.0.0.1"] + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT, env=e)
        wait_for("publisher /readyz", lambda: self.get("/readyz")[0] == 200)

    def get(self, path, headers=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def metric(self, name):
        _, body = self.get("/metrics")
        total = 0.0
        found = False
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
                found = True
        return total if found else None

    def term(self):
        self.termed = True
        self.proc.send_signal(signal.SIGTERM)

    def stop(self, expect_rc=0):
        """SIGTERM, wait (bounded), check the exit status (LeakSanitizer makes leaks fail)."""
        if self.proc.poll() is None and not getattr(self, "termed", False):
            self.term()
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("publisher did not exit within 20s of SIGTERM")
        self.log.seek(0)
        text = self.log.read()
        if rc != expect_rc:
            print(text[-4000:], file=sys.stderr)
            fail("publisher exit status %d, expected %d" % (rc, expect_rc))
        if "shutdown_unclean" in text:
            fail("publisher shutdown was unclean: " + text[-2000:])
        return text


def test_redis(tag):
    """(redis, own): the harness's Redis (SLUICE_REDIS_URL), or one started
    for this test alone (own, to stop at the end; None otherwise)."""
    if os.environ.get("SLUICE_REDIS_URL"):
        return Redis(), None
    own = OwnRedis(tempfile.mkdtemp(prefix="sluice-%s-" % tag))
    return own, own


def new_channel(redis, prefix, markets=()):
    """A channel record and its market set, as the API writes them."""
    cid = str(uuid.uuid4())
    redis.cmd("HSET", "%schannel:%s" % (prefix, cid), "created", "1")
    if markets:
        redis.cmd("SADD", "%schannel:%s:markets" % (prefix, cid), *markets)
    return cid


def change_markets(redis, prefix, cid, add=(), remove=()):
    """What the API's subscribe script does: change the set, then tell the publishers."""
    if add:
        redis.cmd("SADD", "%schannel:%s:markets" % (prefix, cid), *add)
    if remove:
        redis.cmd("SREM", "%schannel:%s:markets" % (prefix, cid), *remove)
    return redis.cmd("PUBLISH", "%sstream:%s" % (prefix, cid), '{"type":"markets_changed"}')


def publish(redis, prefix, cid, obj):
    """A message on the channel's private stream (snapshot, closed)."""
    msg = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return redis.cmd("PUBLISH", "%sstream:%s" % (prefix, cid), msg)


def publish_market(redis, prefix, market, obj):
    """A market update, published once whoever watches it (the reducers)."""
    msg = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return redis.cmd("PUBLISH", "%smarket:%s" % (prefix, market), msg)


def numsub(redis, channel):
    return int(redis.cmd("PUBSUB", "NUMSUB", channel).split()[-1])


def update(market, offset, value=1.0, ts=None):
    # Key order fixed by the contract: type, market, value, offset, partition, ts.
    return '{"type":"update","market":"%s","value":%s,"offset":%d,"partition":0,"ts":%d}' % (
        market, json.dumps(value), offset, ts if ts is not None else int(time.time() * 1000))


class WS:
    """A strict minimal WebSocket client over a raw socket."""

    def __init__(self, port, path, headers=None, rcvbuf=None, raw_request=None, timeout=10):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.key = base64.b64encode(os.urandom(16)).decode()
        if raw_request is None:
            h = {"Host": "127.0.0.1", "Upgrade": "websocket", "Connection": "Upgrade",
                 "Sec-WebSocket-Key": self.key, "Sec-WebSocket-Version": "13"}
            h.update(headers or {})
            raw_request = "GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % (k, v) for k, v in h.items() if v is not None) + "\r\n"
        self.sock.sendall(raw_request.encode() if isinstance(raw_request, str) else raw_request)
        self.status, self.headers, self.body = self._read_head()

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        body = b""
        if status != 101 and "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def accept_ok(self):
        import hashlib
        want = base64.b64encode(hashlib.sha1((self.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        return self.status == 101 and self.headers.get("sec-websocket-accept") == want

    def frame(self):
        """(opcode, payload) of the next server frame; server frames must be unmasked and FIN."""
        while len(self.buf) < 2:
            self._fill()
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("server frame is masked")
        n = b1 & 0x7F
        off = 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n = struct.unpack(">H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill()
            n = struct.unpack(">Q", self.buf[2:10])[0]
            off = 10
        while len(self.buf) < off + n:
            self._fill()
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        if not b0 & 0x80:
            raise AssertionError("server sent a fragment")
        return b0 & 0x0F, payload

    def message(self, timeout=None):
        """Next text message as JSON, answering pings on the way; raises
        TimeoutError when none comes within timeout seconds (pings do not count)."""
        deadline = time.time() + timeout if timeout else None
        while True:
            if deadline:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no message within %.0fs" % timeout)
                self.sock.settimeout(left)
            try:
                op, p = self.frame()
            except socket.timeout:
                raise TimeoutError("no message within %.0fs" % (timeout or self.sock.gettimeout() or 0))
            if op == 0x9:
                self.send(0xA, p)
                continue
            if op == 0x1:
                return json.loads(p)
            if op == 0x8:
                code = struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None
                raise ConnectionError("closed by server: %r %r" % (code, p[2:]))
            raise AssertionError("unexpected opcode %d" % op)

    def close_code(self):
        """Read until the close frame; its code."""
        while True:
            op, p = self.frame()
            if op == 0x8:
                return struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None

    def send(self, opcode, payload=b"", mask=True, fin=True):
        if isinstance(payload, str):
            payload = payload.encode()
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            k = os.urandom(4)
            payload = bytes(c ^ k[i % 4] for i, c in enumerate(payload))
            head += k
        self.sock.sendall(head + payload)

    def close(self):
        self.sock.close()

    def at_eof(self, timeout=10):
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        self.sock.close()


class SSE:
    def __init__(self, port, path, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n" % path).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("closed before head")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split()[1])
        self.headers = head.decode()

    def event(self):
        """Next `data:` event as JSON (comments and retry lines skipped)."""
        while True:
            while b"\n\n" not in self.buf:
                d = self.sock.recv(65536)
                if not d:
                    raise EOFError("stream ended")
                self.buf += d
            block, self.buf = self.buf.split(b"\n\n", 1)
            data = [l[6:] if l.startswith(b"data: ") else l[5:] for l in block.split(b"\n") if l.startswith(b"data:")]
            if data:
                return json.loads(b"\n".join(data))

    def close(self):
        self.sock.close()

    def at_eof(self, timeout=10):
        self.sock.settimeout(timeout)
        while True:
            d = self.sock.recv(65536)
            if not d:
                return True
            self.buf += d
