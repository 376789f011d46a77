#!/usr/bin/env python3
"""1106: stream tokens and Origin in the publisher.

A publisher with --require-stream-token, the API's secret file and one
allowed origin. Every stream request that must be refused is, before the
upgrade and before any Redis subscription, with its status and stable code:
no token (401 + WWW-Authenticate), an expired token, a bad signature, a
token of another channel and an API token without `chan` (403), a token
too long, and a good token from a browser origin not allowed (403
origin_forbidden), over WebSocket and SSE. Then what must work does: a good
token in ?token= or in Authorization: Bearer, with an allowed origin or
with none (not a browser), opens the stream and gets `subscribed`. The
refusals are counted; no token appears in the log. A publisher without the
flag behaves as before (no token needed) but still checks Origin when
origins are configured; one with the flag and no key refuses to start.
Tokens come from `sluice token` and from Python's hmac (an independent
signer).
"""
import base64, hashlib, hmac, json, os, socket, subprocess, sys, tempfile, time, uuid
sys.path.insert(0, os.path.dirname(__file__))
from publib import *

REL = os.environ.get("SLUICE_RELEASE_BIN", os.path.join(ROOT, "build", "sluice"))
own = None
if os.environ.get("SLUICE_REDIS_URL"):
    redis = Redis()
else:
    own = redis = OwnRedis(tempfile.mkdtemp(prefix="sluice-1106-"))
prefix = "t1106-%d:" % os.getpid()
work = tempfile.mkdtemp(prefix="sluice-1106-")
secret = "s3cret-for-test-1106-" + "x" * 24
secret_file = os.path.join(work, "jwt-secrets")
with open(secret_file, "w") as f:
    f.write(secret + "\n")
GOOD_ORIGIN = "https://app.example"


def token(*args):
    p = subprocess.run([REL, "token", "--jwt-secret-file", secret_file] + list(args), capture_output=True, text=True,
                       timeout=20)
    if p.returncode != 0:
        fail("sluice token %s: %s" % (args, p.stderr))
    return p.stdout.strip()


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256(claims, key=secret):
    h = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64(json.dumps(claims).encode())
    s = b64(hmac.new(key.encode(), (h + "." + p).encode(), hashlib.sha256).digest())
    return h + "." + p + "." + s


def sse(port, path, headers=None):
    """(status, head text, body) of an SSE request; the socket stays open on 200."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    h = {"Host": "127.0.0.1", "Accept": "text/event-stream"}
    h.update(headers or {})
    s.sendall(("GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if status != 200:
        n = int([l.split(b":", 1)[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
        while len(rest) < n:
            rest += s.recv(65536)
        s.close()
        return status, head.decode(), json.loads(rest[:n])
    return status, head.decode(), s


def nsub(cid):
    return numsub(redis, "%sstream:%s" % (prefix, cid))


pub = plain = None
try:
    cid = new_channel(redis, prefix, ["m-0001"])
    other_cid = new_channel(redis, prefix, ["m-0002"])
    path = "/v1/stream/" + cid
    now = int(time.time())
    good = token("--sub", "alice", "--channel", cid, "--ttl-s", "300")
    other = token("--sub", "alice", "--channel", other_cid, "--ttl-s", "300")
    api_tok = token("--sub", "alice", "--markets", "m-*")
    expired = hs256({"sub": "alice", "chan": cid, "exp": now - 3600})
    forged = hs256({"sub": "alice", "chan": cid, "exp": now + 300}, key="not-the-secret-" + "y" * 30)
    by_hmac = hs256({"sub": "bob", "chan": cid, "exp": now + 300})
    too_long = good + "A" * 9000

    pub = Publisher(redis, prefix, "--require-stream-token", "--jwt-secret-file", secret_file,
                    "--cors-origin", GOOD_ORIGIN, "--loops", "2")

    refusals = [
        ("no token", path, {}, 401, "unauthorized"),
        ("expired token", path + "?token=" + expired, {}, 401, "token_expired"),
        ("bad signature", path + "?token=" + forged, {}, 401, "bad_signature"),
        ("garbage token", path + "?token=not.a.token", {}, 401, "malformed_token"),
        ("token too long", path + "?token=" + too_long, {}, 401, "malformed_token"),
        ("token of another channel", path + "?token=" + other, {}, 403, "channel_forbidden"),
        ("API token (no chan)", path + "?token=" + api_tok, {}, 403, "channel_forbidden"),
        ("bearer of another channel", path, {"Authorization": "Bearer " + other}, 403, "channel_forbidden"),
        ("expired bearer", path, {"Authorization": "Bearer " + expired}, 401, "token_expired"),
        ("good token, origin not allowed", path + "?token=" + good, {"Origin": "https://evil.example"}, 403,
         "origin_forbidden"),
        ("good token, origin null", path + "?token=" + good, {"Origin": "null"}, 403, "origin_forbidden"),
    ]
    for what, p, hdrs, status, code in refusals:
        ws = WS(pub.port, p, headers=hdrs)
        expect_eq("WebSocket %s: status" % what, status, ws.status)
        body = json.loads(ws.body)
        expect_eq("WebSocket %s: code" % what, code, body["error"])
        if not body.get("message"):
            fail("%s: no message in %r" % (what, body))
        if status == 401:
            if not ws.headers.get("www-authenticate", "").startswith('Bearer realm="sluice"'):
                fail("%s: no WWW-Authenticate in %r" % (what, ws.headers))
            if code != "unauthorized" and 'error="invalid_token"' not in ws.headers["www-authenticate"]:
                fail("%s: WWW-Authenticate does not say invalid_token" % what)
        ws.close()
    ok("every refused WebSocket request: its status, code, message (and WWW-Authenticate on 401)")

    for what, p, hdrs, status, code in [
            ("no token", "/v1/events/" + cid, {}, 401, "unauthorized"),
            ("token of another channel", "/v1/events/%s?token=%s" % (cid, other), {}, 403, "channel_forbidden"),
            ("expired token", "/v1/events/%s?token=%s" % (cid, expired), {}, 401, "token_expired"),
            ("origin not allowed", "/v1/events/%s?token=%s" % (cid, good), {"Origin": "https://evil.example"}, 403,
             "origin_forbidden")]:
        st, head, body = sse(pub.port, p, hdrs)
        expect_eq("SSE %s: status" % what, status, st)
        expect_eq("SSE %s: code" % what, code, body["error"])
    expect_eq("refused requests subscribed nothing in Redis", 0, nsub(cid))
    refused = pub.metric("sluice_publisher_streams_refused_total")
    if refused != 15:
        fail("sluice_publisher_streams_refused_total is %r, want 15" % refused)
    ok("refusals counted: %d" % refused)

    # What must work.
    opened = []
    for what, p, hdrs in [
            ("?token=, no Origin (not a browser)", path + "?token=" + good, {}),
            ("?token= from the allowed origin", path + "?token=" + good, {"Origin": GOOD_ORIGIN}),
            ("Authorization: Bearer", path, {"Authorization": "Bearer " + good}),
            ("a token signed by another signer of the same secret", path + "?token=" + by_hmac, {})]:
        ws = WS(pub.port, p, headers=hdrs)
        if not ws.accept_ok():
            fail("%s: no upgrade (%d %s)" % (what, ws.status, ws.body[:200]))
        expect_eq("%s: subscribed" % what, "subscribed", ws.message()["type"])
        opened.append(ws)
    st, head, s = sse(pub.port, "/v1/events/%s?token=%s" % (cid, good), {"Origin": GOOD_ORIGIN})
    expect_eq("SSE with a good token from the allowed origin: 200", 200, st)
    if "Access-Control-Allow-Origin: " + GOOD_ORIGIN not in head:
        fail("SSE: no Access-Control-Allow-Origin for the allowed origin")
    s.close()
    publish(redis, prefix, cid, {"type": "snapshot", "markets": []})
    for ws in opened:
        expect_eq("a stream opened with a token gets its channel's messages", "snapshot", ws.message()["type"])
        ws.close()
    # A token that opens nothing the API did not create: after the token, 404.
    ghost = str(uuid.uuid4())
    ws = WS(pub.port, "/v1/stream/%s?token=%s" % (ghost, token("--sub", "x", "--channel", ghost)))
    expect_eq("a good token of an unknown channel: 404", 404, ws.status)
    ws.close()
    pub.stop()
    pub.log.seek(0)
    logtext = pub.log.read()
    for t in (good, other, expired, forged, api_tok):
        if t.split(".")[2] in logtext:
            fail("a token's signature appears in the publisher's log")
    ok("no token in the log")
    pub = None

    # Without the flag: as before (no token needed), Origin still checked.
    plain = Publisher(redis, prefix, "--cors-origin", GOOD_ORIGIN)
    ws = WS(plain.port, path)
    expect_eq("no flag: a stream without a token opens", "subscribed", ws.message()["type"])
    ws.close()
    ws = WS(plain.port, path, headers={"Origin": "https://evil.example"})
    expect_eq("no flag: an origin not allowed still gets 403", 403, ws.status)
    ws.close()
    plain.stop()
    plain = Publisher(redis, prefix)
    ws = WS(plain.port, path, headers={"Origin": "https://evil.example"})
    expect_eq("no origins configured: any origin opens, as before", "subscribed", ws.message()["type"])
    ws.close()
    plain.stop()
    plain = None

    # The flag without a key: a clear error, exit 2.
    p = subprocess.run([BIN, "publisher", "--port", "0", "--redis-url", redis.url, "--require-stream-token"],
                       capture_output=True, text=True, timeout=30)
    expect_eq("--require-stream-token without keys: exit 2", 2, p.returncode)
    if "jwt-secret-file" not in p.stderr:
        fail("the error does not say which setting is missing: %r" % p.stderr)
    ok("the error names the settings: %s" % p.stderr.strip().splitlines()[-1][:120])
finally:
    for x in (pub, plain):
        if x:
            try:
                x.stop()
            except SystemExit:
                pass
    if own:
        own.stop()
print("PASS")
