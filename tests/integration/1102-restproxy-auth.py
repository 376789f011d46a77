#!/usr/bin/env python3
"""1102: the REST proxy's HTTP Basic authentication and ACLs.

A rest-proxy with a credentials file (plain, MD5: and CRYPT: passwords,
Confluent's format), a realm and an ACL file, on 0.0.0.0 (allowed: it
authenticates). For produce, consume and the internal topic: no
credentials and wrong credentials get 401 with WWW-Authenticate: Basic
realm="..."; a principal outside its ACL gets 403 (40301 topics, 40302
groups), and no record reaches Kafka; what the rules allow works; a
wildcard or prefix rule never opens an internal topic or group; the admin
role may. Kafka is read with kcat to prove nothing was written.
"""
import base64, hashlib, json, os, subprocess, sys, time, urllib.request, urllib.error
sys.path.insert(0, os.path.dirname(__file__))
from publib import fail, ok, expect_eq, free_port, wait_for, BIN, ROOT

brokers = os.environ.get("SLUICE_KAFKA_BROKERS")
if not brokers:
    fail("no stack (run through tests/run-all.sh)")
pid = os.getpid()
work = os.path.join(ROOT, ".state", "sec1102-%d" % pid)
os.makedirs(work, exist_ok=True)
odds, cmds, other = "odds-%d" % pid, "sec-cmds-%d" % pid, "other-%d" % pid
for t in (odds, cmds, other):
    subprocess.run([BIN, "topics", "--create", "--topic", t, "--partitions", "1", "--replication-factor", "1",
                    "--bootstrap-server", brokers], check=True, capture_output=True, timeout=60)
crypt = subprocess.run(["python3", "-c", "import crypt,sys;print(crypt.crypt('s3cr3t-bob'))"],
                       capture_output=True, text=True)
bob_pw = ("CRYPT:" + crypt.stdout.strip()) if crypt.returncode == 0 and crypt.stdout.strip().startswith("$") \
    else "MD5:" + hashlib.md5(b"s3cr3t-bob").hexdigest()
with open(os.path.join(work, "creds"), "w") as f:
    f.write("# Confluent / Jetty format\n")
    f.write("alice: wonderland,user\n")
    f.write("bob: %s,user\n" % bob_pw)
    f.write("carol: MD5:%s,user\n" % hashlib.md5(b"carol-pw").hexdigest())
    f.write("root: root-pw,admin\n")
with open(os.path.join(work, "acl"), "w") as f:
    f.write("alice topic odds-* all\n")
    f.write("alice topic * all          # never reaches the internal topic\n")
    f.write("alice group alice-* read\n")
    f.write("bob   topic %s read\n" % odds)
    f.write("bob   group bob-* read\n")
    f.write("*     group sluice-* read  # nor the reducers' group\n")
port = free_port()
log = open(os.path.join(work, "rp.log"), "w")
p = subprocess.Popen([BIN, "rest-proxy", "--port", str(port), "--listen-host", "0.0.0.0", "--bootstrap-server", brokers,
                      "--credentials-file", os.path.join(work, "creds"), "--acl-file", os.path.join(work, "acl"),
                      "--authentication-realm", "SluiceTest", "--internal-topics", cmds,
                      "--internal-groups", "sluice-reducers"], stdout=subprocess.DEVNULL, stderr=log)
url = "http://127.0.0.1:%d" % port
V2 = "application/vnd.kafka.json.v2+json"


def call(method, path, user=None, pw=None, body=None, ctype=V2):
    h = {"Accept": "application/vnd.kafka.v2+json"}
    if user is not None:
        h["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = ctype
    req = urllib.request.Request(url + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            raw = r.read()
            return r.status, r.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, e.headers, json.loads(raw) if raw else None
        except ValueError:
            return e.code, e.headers, raw


def count(topic):
    r = subprocess.run(["kcat", "-b", brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%o\n"],
                       capture_output=True, text=True, timeout=60)
    return len(r.stdout.split())


rec = {"records": [{"key": "k", "value": {"x": 1}}]}
try:
    wait_for("rest-proxy ready", lambda: urllib.request.urlopen(url + "/readyz", timeout=2).status == 200, 30)
    ok("rest-proxy with credentials listens on 0.0.0.0")

    # ---- no credentials, wrong credentials: 401 with the realm ----
    for what, user, pw in [("no credentials", None, None), ("wrong password", "alice", "nope"),
                           ("unknown user", "mallory", "wonderland"), ("empty password", "alice", ""),
                           ("bob's MD5/CRYPT with a wrong password", "bob", "s3cr3t-bo")]:
        for method, path, body in [("POST", "/topics/" + odds, rec), ("POST", "/consumers/alice-g", {"format": "json"}),
                                   ("POST", "/topics/" + cmds, rec), ("GET", "/topics/" + odds, None), ("GET", "/topics", None)]:
            st, hdrs, b = call(method, path, user, pw, body)
            expect_eq("%s: %s %s -> 401" % (what, method, path), 401, st)
            expect_eq("%s: %s %s WWW-Authenticate" % (what, method, path), 'Basic realm="SluiceTest"',
                      hdrs.get("WWW-Authenticate"))
            expect_eq("%s: error_code" % what, 401, b["error_code"])
    st, _, _ = call("GET", "/topics", "bob", "s3cr3t-bob")
    expect_eq("bob's hashed password (%s) is accepted" % bob_pw.split(":")[0], 200, st)
    expect_eq("carol's MD5: password is accepted", 200, call("GET", "/topics", "carol", "carol-pw")[0])
    expect_eq("ops endpoints need no credentials", 200, urllib.request.urlopen(url + "/healthz", timeout=5).status)

    # ---- produce ----
    expect_eq("alice produces to odds (her prefix)", 200, call("POST", "/topics/" + odds, "alice", "wonderland", rec)[0])
    st, _, b = call("POST", "/topics/" + odds, "bob", "s3cr3t-bob", rec)
    expect_eq("bob (read-only) produces: 403", 403, st)
    expect_eq("bob produce: 40301", 40301, b["error_code"])
    st, _, b = call("POST", "/topics/%s/partitions/0" % other, "carol", "carol-pw", rec)
    expect_eq("carol (no rule) produces to a partition: 403", 403, st)
    # ---- the internal topic: the wildcard rule does not reach it ----
    for user, pw in [("alice", "wonderland"), ("bob", "s3cr3t-bob"), ("carol", "carol-pw")]:
        st, _, b = call("POST", "/topics/" + cmds, user, pw, {"records": [{"key": "forged", "value": {"op": "close"}}]})
        expect_eq("%s produces a forged command to the internal topic: 403" % user, 403, st)
        st, _, _ = call("GET", "/topics/" + cmds, user, pw)
        expect_eq("%s describes the internal topic: 403" % user, 403, st)
    expect_eq("nothing reached the internal topic", 0, count(cmds))
    expect_eq("only alice's record reached odds", 1, count(odds))
    expect_eq("nothing reached the other topic", 0, count(other))

    # ---- consume ----
    st, _, inst = call("POST", "/consumers/bob-g", "bob", "s3cr3t-bob",
                       {"name": "b1", "format": "json", "auto.offset.reset": "earliest"})
    expect_eq("bob creates a consumer in his group", 200, st)
    base = "/consumers/bob-g/instances/b1"
    expect_eq("bob subscribes odds", 204, call("POST", base + "/subscription", "bob", "s3cr3t-bob", {"topics": [odds]})[0])
    for body, what in [({"topics": [cmds]}, "the internal topic"), ({"topics": [odds, other]}, "a topic outside his ACL"),
                       ({"topic_pattern": "sec-.*"}, "a topic_pattern")]:
        st, _, b = call("POST", base + "/subscription", "bob", "s3cr3t-bob", body)
        expect_eq("bob subscribes %s: 403" % what, 403, st)
        expect_eq("bob subscribes %s: 40301" % what, 40301, b["error_code"])
    st, _, _ = call("POST", base + "/assignments", "bob", "s3cr3t-bob", {"partitions": [{"topic": cmds, "partition": 0}]})
    expect_eq("bob assigns the internal topic: 403", 403, st)
    st, _, b = call("GET", "/consumers/bob-g/instances/b1/topics/" + cmds, "bob", "s3cr3t-bob")
    expect_eq("bob reads the internal topic through API v1: 403", 403, st)
    got = []
    def read():
        st, _, b = call("GET", base + "/records?timeout=1000", "bob", "s3cr3t-bob")
        got.extend(b or [])
        return st == 200 and got
    wait_for("bob reads odds", read, 30)
    ok("bob reads what alice produced")
    st, _, b = call("GET", base + "/records", "alice", "wonderland")
    expect_eq("alice reads bob's group: 403", 403, st)
    expect_eq("alice reads bob's group: 40302", 40302, b["error_code"])
    st, _, b = call("POST", "/consumers/sluice-reducers", "alice", "wonderland", {"name": "x", "format": "json"})
    expect_eq("alice joins the reducers' group (a wildcard rule names it): 403", 403, st)
    expect_eq("alice joins the reducers' group: 40302", 40302, b["error_code"])
    expect_eq("bob deletes his consumer", 204, call("DELETE", base, "bob", "s3cr3t-bob")[0])

    # ---- the admin role may ----
    expect_eq("root (admin) produces to the internal topic", 200,
              call("POST", "/topics/" + cmds, "root", "root-pw", rec)[0])
    expect_eq("one record in the internal topic now", 1, count(cmds))

    p.terminate()
    expect_eq("rest-proxy exits 0", 0, p.wait(timeout=30))

    # ---- no credentials file (loopback): open but for the internal topics ----
    port = free_port()
    p = subprocess.Popen([BIN, "rest-proxy", "--port", str(port), "--bootstrap-server", brokers,
                          "--internal-topics", cmds], stdout=subprocess.DEVNULL, stderr=log)
    url = "http://127.0.0.1:%d" % port
    wait_for("open rest-proxy ready", lambda: urllib.request.urlopen(url + "/readyz", timeout=2).status == 200, 30)
    expect_eq("anonymous produces to a topic", 200, call("POST", "/topics/" + other, body=rec)[0])
    st, _, b = call("POST", "/topics/" + cmds, body=rec)
    expect_eq("anonymous produces to the internal topic: 403", 403, st)
    expect_eq("still one record in the internal topic", 1, count(cmds))
    call("POST", "/consumers/anon-g", body={"name": "a", "format": "json"})
    st, _, _ = call("POST", "/consumers/anon-g/instances/a/subscription", body={"topic_pattern": "sec-.*"})
    expect_eq("anonymous pattern that matches the internal topic: 403", 403, st)
    st, _, _ = call("POST", "/consumers/anon-g/instances/a/subscription", body={"topic_pattern": "other-.*"})
    expect_eq("anonymous pattern that does not: 204", 204, st)
    call("DELETE", "/consumers/anon-g/instances/a")
    p.terminate()
    expect_eq("open rest-proxy exits 0", 0, p.wait(timeout=30))
finally:
    if p.poll() is None:
        p.kill()
print("1102 ok")
