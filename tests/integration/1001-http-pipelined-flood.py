#!/usr/bin/env python3
"""1001: pipelined floods against the real roles (issue 10).

50,000 pipelined requests in one connection, the first 5,000 in one write
(which overflowed the API's stack when every answer processed the next
request recursively), to the API (GET /v1/markets without ids: a 400
answered at once) and to the publisher (/healthz): every one is answered,
the process stays up and answers a fresh client afterwards, and its peak
RSS stays bounded. Then a client that pipelines 20,000 requests for a
23 KB file and never reads: the publisher stops reading it once 1 MiB of
answers is queued, so its RSS grows by a few MB, not by the 470 MB those
answers weigh; the client is dropped and the publisher serves others."""
import os, socket, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

N = 50000
name = "h1001-%d" % os.getpid()
system_up(name, reducers=0)


def rss_kb(pid, field="VmRSS"):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def pid_of(inst):
    return int(open(os.path.join(os.environ.get("SLUICE_STATE", os.path.join(ROOT, ".state")),
                                 "sys-" + name, inst + ".pid")).read())


def flood(url, path, n):
    """Pipeline n GETs on one connection while reading; the number of answers."""
    host, port = url.split("://")[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    req = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()
    last = ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode()
    def writer():
        s.sendall(req * 5000)  # one write
        chunk = req * 500
        for _ in range((n - 5000) // 500):
            s.sendall(chunk)
        s.sendall(last)
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    got, tail = 0, b""
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        buf = tail + d
        got += buf.count(b"HTTP/1.1 ")
        tail = buf[-8:]
    t.join(30)
    s.close()
    return got


try:
    for inst, url, path in (("api", os.environ["SLUICE_API_URL"], "/v1/markets"),
                            ("publisher", os.environ["SLUICE_PUBLISHER_URL"], "/healthz")):
        pid = pid_of(inst)
        t0 = time.time()
        got = flood(url, path, N)
        expect_eq("%s: every one of %d pipelined requests answered" % (inst, N + 1), N + 1, got)
        st, _ = http("GET", url + "/healthz")
        expect_eq("%s: alive and answering afterwards" % inst, 200, st)
        hwm = rss_kb(pid, "VmHWM")
        if hwm > 200 * 1024:
            fail("%s: peak RSS %d KB after the flood" % (inst, hwm))
        ok("%s: %d requests in %.1f s, peak RSS %d MB" % (inst, N, time.time() - t0, hwm // 1024))

    # A client that never reads what it asked for.
    pub = os.environ["SLUICE_PUBLISHER_URL"]
    pid = pid_of("publisher")
    st, body = http("GET", pub + "/sluice-client.mjs")
    expect_eq("the publisher serves the JS client", 200, st)
    size = len(body.encode()) if isinstance(body, str) else len(body or b"")
    before = rss_kb(pid)
    host, port = pub.split("://")[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    req = b"GET /sluice-client.mjs HTTP/1.1\r\nHost: x\r\n\r\n" * 1000
    sent = 0
    deadline = time.time() + 20
    while sent < 20 and time.time() < deadline:
        try:
            s.send(req)
            sent += 1
        except BlockingIOError:
            time.sleep(0.05)  # the publisher stopped reading us: as it should
    time.sleep(1)
    grown = rss_kb(pid) - before
    ok("client asked for %d x %d KB and read nothing; the publisher's RSS grew %d KB" % (sent * 1000, size // 1024, grown))
    if grown > 64 * 1024:
        fail("RSS grew %d KB for a client that does not read" % grown)
    st, _ = http("GET", pub + "/healthz")
    expect_eq("others are served meanwhile", 200, st)
    s.close()
finally:
    rc = system_down(name)
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
