#!/usr/bin/env python3
"""1101: the control API's authentication and authorization.

An api with --jwt-secret-file and --api-key beside the test system (same
Kafka, Redis and reducers). Every /v1 route is tried with no token, an
expired token, a bad signature, a token whose markets leave out the
market asked for, and another sub's channel; each gets its 401 (with
WWW-Authenticate) or 403 (naming the market or channel), and nothing
changes: the Redis keys and the command topic are the same afterwards.
Then what must work does: the owner and an admin reach the channel, the
API key is an admin, a stream token comes with the channel, and the
token tool's --verify agrees. Tokens are made with `sluice token` and
with Python's hmac (an independent signer).
"""
import base64, hashlib, hmac, os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

name = "sec1101-%d" % os.getpid()
system_up(name, reducers=1)
extra = []
work = os.path.join(ROOT, ".state", "sys-" + name)
secret = "s3cret-for-test-1101-" + "x" * 24
secret_file = os.path.join(work, "jwt-secrets")
with open(secret_file, "w") as f:
    f.write("# current\n%s\n" % secret)
    f.write("an-older-secret-still-accepted-0123456789\n")


def token(*args):
    p = subprocess.run([REL, "token", "--jwt-secret-file", secret_file] + list(args), capture_output=True, text=True,
                       timeout=20)
    if p.returncode != 0:
        fail("sluice token %s: %s" % (args, p.stderr))
    return p.stdout.strip()


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256(claims, key=secret, alg="HS256"):
    h = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    p = b64(json.dumps(claims).encode())
    s = b64(hmac.new(key.encode(), (h + "." + p).encode(), hashlib.sha256).digest())
    return h + "." + p + "." + s


def command_count():
    p = subprocess.run(["kcat", "-b", os.environ["SLUICE_KAFKA_BROKERS"], "-C", "-t", os.environ["SLUICE_COMMAND_TOPIC"],
                        "-o", "beginning", "-e", "-q", "-f", "%o\n"], capture_output=True, text=True, timeout=60)
    return len(p.stdout.split())


try:
    port = free_port()
    log = open(os.path.join(work, "auth-api.log"), "w")
    p = subprocess.Popen([BIN, "api", "--port", str(port), "--listen-host", "0.0.0.0", "--jwt-secret-file", secret_file,
                          "--api-key", "svc-key-1101"], stdout=subprocess.DEVNULL, stderr=log)
    extra.append(p)
    url = "http://127.0.0.1:%d" % port
    wait_for("auth api ready", lambda: http("GET", url + "/readyz")[0] == 200, 30)
    ok("api with tokens listens on 0.0.0.0 (authentication configured)")
    feed(20, 3, seed=5)

    now = int(time.time())
    alice = token("--sub", "alice", "--markets", "m-000*", "--ttl-s", "600")
    bob = token("--sub", "bob", "--markets", "m-*")
    admin = token("--sub", "ops", "--admin", "--markets", "*")
    expired = hs256({"sub": "alice", "exp": now - 3600, "markets": ["m-*"]})
    badsig = alice[:-4] + ("AAAA" if not alice.endswith("AAAA") else "BBBB")
    other_key = hs256({"sub": "alice", "exp": now + 600, "markets": ["m-*"]}, key="not-the-secret-" + "y" * 30)
    older = hs256({"sub": "alice", "exp": now + 600, "markets": ["m-000*"]}, key="an-older-secret-still-accepted-0123456789")
    none_alg = b64(b'{"alg":"none"}') + "." + b64(json.dumps({"sub": "alice", "exp": now + 600}).encode()) + "."

    def call(method, path, tok=None, body=None, headers=None):
        h = dict(headers or {})
        if tok:
            h["Authorization"] = "Bearer " + tok
        req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body is not None else None,
                                     method=method, headers=dict(h, **({"Content-Type": "application/json"} if body is not None else {})))
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status, r.headers, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, e.headers, json.loads(raw) if raw else None

    # What must work: alice makes a channel of her markets.
    st, _, body = call("POST", "/v1/channels", alice, {"markets": ["m-0001", "m-0002"]})
    expect_eq("alice creates a channel", 201, st)
    cid = body["channel"]
    if not body.get("stream_token"):
        fail("no stream_token in the create answer")
    ok("a stream token comes with the channel")
    v = subprocess.run([REL, "token", "--jwt-secret-file", secret_file, "--verify", body["stream_token"]],
                       capture_output=True, text=True, timeout=20)
    expect_eq("the stream token verifies", 0, v.returncode)
    claims = json.loads(v.stdout)
    expect_eq("stream token is bound to the channel", cid, claims.get("chan"))
    expect_eq("stream token names its sub", "alice", claims.get("sub"))
    st, _, _ = call("POST", "/v1/channels", older, {"markets": ["m-0001"]})
    expect_eq("a token of the older secret (rotation) is accepted", 201, st)

    wait_for("commands in Kafka", lambda: command_count() >= 2, 20)
    redis = Redis()
    prefix = os.environ["SLUICE_REDIS_PREFIX"]
    before, cmds_before = redis.snapshot_keys(prefix), command_count()

    routes = [
        ("POST", "/v1/channels", {"markets": ["m-0001"]}),
        ("GET", "/v1/channels/%s" % cid, None),
        ("DELETE", "/v1/channels/%s" % cid, None),
        ("POST", "/v1/channels/%s/subscriptions" % cid, {"markets": ["m-0003"]}),
        ("DELETE", "/v1/channels/%s/subscriptions/m-0001" % cid, None),
        ("POST", "/v1/channels/%s/begin" % cid, None),
        ("GET", "/v1/markets/m-0001", None),
        ("GET", "/v1/markets?ids=m-0001,m-0002", None),
    ]
    bad_tokens = [("no token", None, "unauthorized"), ("expired", expired, "token_expired"),
                  ("bad signature", badsig, "bad_signature"), ("another key", other_key, "bad_signature"),
                  ("alg none", none_alg, "bad_algorithm"), ("garbage", "not.a.token", "malformed_token")]
    for method, path, b in routes:
        for what, tok, code in bad_tokens:
            st, hdrs, body = call(method, path, tok, b)
            expect_eq("%s %s, %s: 401" % (method, path, what), 401, st)
            expect_eq("%s %s, %s: code" % (method, path, what), code, (body or {}).get("error"))
            wa = hdrs.get("WWW-Authenticate") or ""
            if not wa.startswith('Bearer realm="sluice"'):
                fail("%s %s, %s: WWW-Authenticate is %r" % (method, path, what, wa))
        st, _, _ = call(method, path, None, b, headers={"X-API-Key": "wrong"})
        expect_eq("%s %s, wrong API key: 401" % (method, path), 401, st)
    ok("every route: 401 with WWW-Authenticate for no, expired, forged, alg-none and garbage tokens")

    # Markets outside the token: 403 naming the market.
    for method, path, b in [("POST", "/v1/channels", {"markets": ["m-0001", "x-1"]}),
                            ("POST", "/v1/channels/%s/subscriptions" % cid, {"markets": ["m-0010"]}),
                            ("GET", "/v1/markets/m-0010", None),
                            ("GET", "/v1/markets?ids=m-0001,m-0010", None)]:
        st, _, body = call(method, path, alice, b)
        expect_eq("%s %s outside the token's markets: 403" % (method, path), 403, st)
        expect_eq("%s %s: market_forbidden" % (method, path), "market_forbidden", body["error"])
        if "m-0010" not in body["message"] and "x-1" not in body["message"]:
            fail("the 403 does not name the market: %s" % body["message"])
    ok("markets outside the token: 403 market_forbidden naming the market")

    # Another sub's channel: 403 naming the channel.
    for method, path, b in routes[1:6]:
        st, _, body = call(method, path, bob, b)
        expect_eq("%s %s by another sub: 403" % (method, path), 403, st)
        expect_eq("%s %s by another sub: channel_forbidden" % (method, path), "channel_forbidden", body["error"])
        if cid not in body["message"]:
            fail("the 403 does not name the channel: %s" % body["message"])
    ok("another sub's channel: 403 channel_forbidden on every channel route")

    # Nothing changed.
    expect_eq("no Redis key changed by refused requests", before, redis.snapshot_keys(prefix))
    expect_eq("no command emitted by refused requests", cmds_before, command_count())

    # The owner, an admin and the API key may.
    expect_eq("owner reads her channel", 200, call("GET", "/v1/channels/%s" % cid, alice)[0])
    expect_eq("owner subscribes a market of hers", 200,
              call("POST", "/v1/channels/%s/subscriptions" % cid, alice, {"markets": ["m-0003"]})[0])
    expect_eq("owner begins", 202, call("POST", "/v1/channels/%s/begin" % cid, alice)[0])
    expect_eq("an admin reads another's channel", 200, call("GET", "/v1/channels/%s" % cid, admin)[0])
    expect_eq("the API key reads it", 200, call("GET", "/v1/channels/%s" % cid, None, headers={"X-API-Key": "svc-key-1101"})[0])
    stok = call("GET", "/v1/channels/%s" % cid, alice)[2].get("stream_token")
    expect_eq("a stream token is no API credential", 401, call("GET", "/v1/channels/%s" % cid, stok)[0])
    expect_eq("owner deletes", 204, call("DELETE", "/v1/channels/%s" % cid, alice)[0])
    ok("the owner, an admin and the API key reach the channel")
    expect_eq("ops endpoints stay open", 200, http("GET", url + "/healthz")[0])

    p.terminate()
    expect_eq("auth api exits 0", 0, p.wait(timeout=30))
    extra.remove(p)
finally:
    for q in extra:
        q.kill()
    system_down(name)
print("1101 ok")
