#!/usr/bin/env python3
"""0302: the control API against its contract.

1. Every bad input of SPEC section 3 (malformed JSON, wrong types, bad ids,
   unknown channel, oversize body, wrong content type, too many markets,
   wrong method, unknown route) gets its status and stable error code, and
   nothing changes: the Redis keys of the system and the command topic are
   byte-for-byte the same afterwards.
2. docs/openapi/api.yaml agrees with the server: every documented path and
   method answers a documented status, every status seen in this test is
   documented for its route, other methods on documented paths get 405, and
   paths that are not documented get 404 (no hidden routes).
3. Redis down -> 503 redis_unavailable, Kafka down -> 503 kafka_unavailable,
   with /readyz 503 and nothing written; --api-key enforces X-API-Key.
"""
import os, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *
import yaml

name = "pl0302-%d" % os.getpid()
spec = yaml.safe_load(open(os.path.join(ROOT, "docs", "openapi", "api.yaml")))
system_up(name, reducers=1)
extra = []


def documented(path, method, status):
    """Is `status` documented for the concrete `path` + method?"""
    for tmpl, ops in spec["paths"].items():
        rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", tmpl) + "$"
        if re.match(rx, path.split("?")[0]):
            op = ops.get(method.lower())
            if op is None:  # another method on a documented path
                return status == 405 and any("405" in o.get("responses", {}) for o in ops.values() if isinstance(o, dict))
            return str(status) in op["responses"]
    return status == 404  # an undocumented path must not exist


def command_count():
    p = subprocess.run(["kcat", "-b", os.environ["SLUICE_KAFKA_BROKERS"], "-C", "-t", os.environ["SLUICE_COMMAND_TOPIC"],
                        "-o", "beginning", "-e", "-q", "-f", "%o\n"], capture_output=True, text=True, timeout=60)
    return len(p.stdout.split())


def start_api(*args):
    """An extra api process (not waited for /readyz: it may never be ready)."""
    port = free_port()
    p = subprocess.Popen([BIN, "api", "--port", str(port)] + list(args), stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(ROOT, ".state", "sys-" + name, "extra-api-%d.log" % port), "w"))
    extra.append(p)
    url = "http://127.0.0.1:%d" % port
    wait_for("extra api /healthz", lambda: http("GET", url + "/healthz")[0] == 200, 20)
    return p, url


def stop_api(p, what):
    p.terminate()
    rc = p.wait(timeout=30)
    expect_eq("%s exits 0 on SIGTERM" % what, 0, rc)
    extra.remove(p)


try:
    prefix = os.environ["SLUICE_REDIS_PREFIX"]
    feed(30, 3, seed=21)
    wait_for("market state", lambda: api("GET", "/v1/markets/m-0001")[0] == 200, 30)
    st, body = api("POST", "/v1/channels", {"markets": ["m-0001", "m-0002"]})
    expect_eq("create: 201", 201, st)
    cid = body["channel"]
    if not re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", cid):
        fail("channel id is not a UUID v4: %s" % cid)
    ok("channel id is a UUID v4")
    unknown = "00000000-0000-4000-8000-000000000000"
    redis = Redis()
    wait_for("the create command to be in Kafka", lambda: command_count() == 1, 20)
    before, cmds_before = redis.snapshot_keys(prefix), command_count()

    J = {"Content-Type": "application/json"}
    big = b'{"markets":["' + b"x" * (1024 * 1024 + 10) + b'"]}'
    many = json.dumps({"markets": ["m-%d" % i for i in range(101)]}).encode()
    cases = [
        ("POST", "/v1/channels", J, b'{"markets":[', 400, "malformed_json"),
        ("POST", "/v1/channels", J, b'{"markets":["m-1"],"markets":[]}', 400, "malformed_json"),
        ("POST", "/v1/channels", J, b'{"markets":["\xff"]}', 400, "malformed_json"),
        ("POST", "/v1/channels", J, b'"m-1"', 400, "malformed_json"),
        ("POST", "/v1/channels", J, b'[1,2]', 400, "invalid_body"),
        ("POST", "/v1/channels", J, b'{"markets":"m-1"}', 400, "invalid_markets"),
        ("POST", "/v1/channels", J, b'{"markets":{"m":1}}', 400, "invalid_markets"),
        ("POST", "/v1/channels", J, b'{"markets":[1]}', 400, "invalid_market"),
        ("POST", "/v1/channels", J, b'{"markets":[null]}', 400, "invalid_market"),
        ("POST", "/v1/channels", J, b'{"markets":["a b"]}', 400, "invalid_market"),
        ("POST", "/v1/channels", J, b'{"markets":["' + b"m" * 65 + b'"]}', 400, "invalid_market"),
        ("POST", "/v1/channels", J, many, 413, "too_many_markets"),
        ("POST", "/v1/channels", {"Content-Type": "text/plain"}, b'{"markets":[]}', 415, "unsupported_media_type"),
        ("POST", "/v1/channels", {}, b'{"markets":[]}', 415, "unsupported_media_type"),
        ("PUT", "/v1/channels", J, b'{}', 405, "method_not_allowed"),
        ("GET", "/v1/channels", {}, None, 405, "method_not_allowed"),
        ("POST", "/v1/channels/%s/subscriptions" % unknown, J, b'{"markets":["m-0001"]}', 404, "unknown_channel"),
        ("POST", "/v1/channels/not-a-uuid/subscriptions", J, b'{"markets":["m-0001"]}', 404, "unknown_channel"),
        ("POST", "/v1/channels/%s/subscriptions" % cid, {}, None, 400, "invalid_body"),
        ("POST", "/v1/channels/%s/subscriptions" % cid, J, b'{"markets":[]}', 400, "invalid_markets"),
        ("POST", "/v1/channels/%s/subscriptions" % cid, J, b'{"markets":["m-0003",7]}', 400, "invalid_market"),
        ("POST", "/v1/channels/%s/subscriptions" % cid, J, b'{"markets":["m-0003"', 400, "malformed_json"),
        ("POST", "/v1/channels/%s/subscriptions" % cid, {"Content-Type": "text/xml"}, b'<m/>', 415, "unsupported_media_type"),
        ("POST", "/v1/channels/%s/subscriptions" % cid, J, many, 413, "too_many_markets"),
        ("GET", "/v1/channels/%s/subscriptions" % cid, {}, None, 405, "method_not_allowed"),
        ("DELETE", "/v1/channels/%s/subscriptions/bad%%20id" % cid, {}, None, 400, "invalid_market"),
        ("DELETE", "/v1/channels/%s/subscriptions/m-0001" % unknown, {}, None, 404, "unknown_channel"),
        ("POST", "/v1/channels/%s/begin" % unknown, {}, None, 404, "unknown_channel"),
        ("GET", "/v1/channels/%s/begin" % cid, {}, None, 405, "method_not_allowed"),
        ("GET", "/v1/channels/%s" % unknown, {}, None, 404, "unknown_channel"),
        ("DELETE", "/v1/channels/%s" % unknown, {}, None, 404, "unknown_channel"),
        ("POST", "/v1/channels/%s" % cid, J, b'{}', 405, "method_not_allowed"),
        ("GET", "/v1/markets/bad%20id", {}, None, 400, "invalid_market"),
        ("GET", "/v1/markets/m-9999", {}, None, 404, "unknown_market"),
        ("GET", "/v1/markets", {}, None, 400, "invalid_query"),
        ("GET", "/v1/markets?ids=m-0001,,m-0002", {}, None, 400, "invalid_market"),
        ("GET", "/v1/markets?ids=" + ",".join("m-%d" % i for i in range(101)), {}, None, 413, "too_many_markets"),
        ("DELETE", "/v1/markets/m-0001", {}, None, 405, "method_not_allowed"),
        ("GET", "/v1/channels/%s/nope" % cid, {}, None, 404, "not_found"),
        ("GET", "/v1/nope", {}, None, 404, "not_found"),
        ("GET", "/v2/channels", {}, None, 404, "not_found"),
        ("GET", "/", {}, None, 404, "not_found"),
    ]
    for method, path, headers, raw, want, code in cases:
        st, body = http(method, os.environ["SLUICE_API_URL"] + path, headers=headers, raw=raw)
        if st != want or (code and (not isinstance(body, dict) or body.get("error") != code)):
            fail("%s %s: expected %d %s, got %d %r" % (method, path[:80], want, code, st, body if not isinstance(body, str) else body[:200]))
        if isinstance(body, dict) and not isinstance(body.get("message"), str):
            fail("%s %s: error without a message: %r" % (method, path, body))
        if not documented(path, method, st):
            fail("%s %s answered %d, which docs/openapi/api.yaml does not document" % (method, path[:80], st))
    ok("%d bad inputs answered with their status and code, each documented" % len(cases))

    # Oversize body: announced by Content-Length, answered before the body
    # (a client writing the whole body may see the connection closed).
    import socket as _s
    host, port = os.environ["SLUICE_API_URL"].rsplit("/", 1)[-1].split(":")
    c = _s.create_connection((host, int(port)), timeout=10)
    c.sendall(b"POST /v1/channels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(big) + big[:1000])
    resp = b""
    while b"\r\n\r\n" not in resp or not resp.rstrip().endswith(b"}"):
        d = c.recv(65536)
        if not d:
            break
        resp += d
    c.close()
    head, _, body = resp.partition(b"\r\n\r\n")
    expect_eq("oversize body: 413 body_too_large", (413, "body_too_large"),
              (int(head.split()[1]), json.loads(body)["error"]))
    if not documented("/v1/channels", "POST", 413):
        fail("413 is not documented for POST /v1/channels")
    time.sleep(0.5)  # a wrongly emitted command would have reached Kafka by now
    expect_eq("bad inputs changed nothing in Redis", before, redis.snapshot_keys(prefix))
    expect_eq("bad inputs emitted no command", cmds_before, command_count())

    # The OpenAPI document against the live server.
    concrete = {"{id}": cid, "{market}": "m-0001"}
    bodies = {("post", "/v1/channels"): {"markets": ["m-0001"]},
              ("post", "/v1/channels/{id}/subscriptions"): {"markets": ["m-0003"]}}
    order = sorted(((p, m) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "delete", "put", "patch")),
                   key=lambda pm: (pm[1] == "delete" and pm[0] == "/v1/channels/{id}", pm))
    for tmpl, method in order:
        path = tmpl
        for k, v in concrete.items():
            path = path.replace(k, v)
        if tmpl == "/v1/markets":
            path += "?ids=m-0001,m-0002"
        st, body = api(method.upper(), path, bodies.get((method, tmpl)))
        if str(st) not in spec["paths"][tmpl][method]["responses"] or st >= 400:
            fail("%s %s: %d %r is not a documented success" % (method.upper(), path, st, body))
    ok("every documented path and method answers a documented success status (%d operations)" % len(order))
    cid2 = api("POST", "/v1/channels", {"markets": ["m-0001"]})[1]["channel"]
    for tmpl, ops in spec["paths"].items():
        path = tmpl.replace("{id}", cid2).replace("{market}", "m-0001")
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if method.lower() in ops:
                continue
            st, _ = api(method, path, {} if method in ("POST", "PUT", "PATCH") else None)
            expect_eq("%s %s (undocumented method): 405" % (method, tmpl), 405, st)
    for path in ("/v1", "/v1/channels/%s/subscriptions/m-1/x" % cid2, "/v1/stream/%s" % cid2, "/v1/markets/m-1/x",
                 "/v1/channel", "/v1/channels/%s/close" % cid2):
        for method in ("GET", "POST", "DELETE"):
            st, _ = api(method, path, {} if method == "POST" else None)
            expect_eq("%s %s (undocumented path): 404" % (method, path[:50]), 404, st)
    api("DELETE", "/v1/channels/" + cid2)

    # Redis down: 503, nothing written anywhere.
    p, url = start_api("--redis-url", "redis://127.0.0.1:%d/0" % free_port())
    expect_eq("redis down: /readyz 503", 503, http("GET", url + "/readyz")[0])
    before = redis.snapshot_keys(prefix)
    st, body = http("POST", url + "/v1/channels", {"markets": ["m-0001"]})
    expect_eq("redis down: POST /v1/channels 503", (503, "redis_unavailable"), (st, body["error"]))
    st, body = http("GET", url + "/v1/markets/m-0001")
    expect_eq("redis down: GET market 503", 503, st)
    stop_api(p, "api without redis")

    # Kafka down: 503 at once, Redis untouched.
    p, url = start_api("--bootstrap-server", "127.0.0.1:%d" % free_port())
    expect_eq("kafka down: /readyz 503", 503, http("GET", url + "/readyz")[0])
    for method, path, body in (("POST", "/v1/channels", {"markets": ["m-0001"]}),
                               ("POST", "/v1/channels/%s/subscriptions" % cid, {"markets": ["m-0003"]}),
                               ("POST", "/v1/channels/%s/begin" % cid, None),
                               ("DELETE", "/v1/channels/%s" % cid, None)):
        st, resp = http(method, url + path, body)
        expect_eq("kafka down: %s %s 503" % (method, path.replace(cid, "{id}")), (503, "kafka_unavailable"),
                  (st, resp["error"]))
    expect_eq("kafka down: nothing changed in Redis", before, redis.snapshot_keys(prefix))
    stop_api(p, "api without kafka")

    # --api-key.
    p, url = start_api("--api-key", "s3cret")
    wait_for("keyed api ready", lambda: http("GET", url + "/readyz")[0] == 200, 20)
    expect_eq("api key: none -> 401", 401, http("POST", url + "/v1/channels", {})[0])
    expect_eq("api key: wrong -> 401", 401, http("POST", url + "/v1/channels", {}, headers={"X-API-Key": "x"})[0])
    st, body = http("POST", url + "/v1/channels", {}, headers={"X-API-Key": "s3cret"})
    expect_eq("api key: right -> 201", 201, st)
    expect_eq("api key: ops endpoints stay open", 200, http("GET", url + "/healthz")[0])
    stop_api(p, "api with a key")
    redis.close()
finally:
    for p in extra:
        p.kill()
    rc = system_down(name)
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
