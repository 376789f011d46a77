#!/usr/bin/env python3
"""1002: slowloris against the API and the publisher (issue 10).

100 connections to each role trickle a request head one byte a second (and
10 more connect and send nothing): every one is answered 408 and closed
within the head deadline (--request-head-timeout-ms, 2 s here, 10 s by
default), however many bytes it sent, while fresh clients are served in
under a second all along. A body trickled the same way gets 408 at the body
deadline."""
import os, socket, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from pllib import *

DEADLINE = 2.0
name = "h1002-%d" % os.getpid()
system_up(name, reducers=0, extra_env={"SLUICE_REQUEST_HEAD_TIMEOUT_MS": str(int(DEADLINE * 1000)),
                                       "SLUICE_REQUEST_BODY_TIMEOUT_MS": str(int(DEADLINE * 1000))})


class Slow(threading.Thread):
    """One connection that sends `text` a byte a second; records when it was closed."""

    def __init__(self, url, text):
        super().__init__(daemon=True)
        host, port = url.split("://")[1].split(":")
        self.s = socket.create_connection((host, int(port)), timeout=30)
        self.text = text
        self.t0 = time.time()
        self.closed_after = None
        self.answer = b""

    def run(self):
        self.s.setblocking(False)
        i = 0
        while time.time() - self.t0 < DEADLINE * 4:
            try:
                d = self.s.recv(4096)
                if not d:
                    self.closed_after = time.time() - self.t0
                    return
                self.answer += d
                continue
            except BlockingIOError:
                pass
            except OSError:
                self.closed_after = time.time() - self.t0
                return
            if self.text and i < len(self.text) and time.time() - self.t0 >= i:
                try:
                    self.s.send(self.text[i:i + 1])
                except OSError:
                    pass
                i += 1
            time.sleep(0.05)


try:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100
    body = b"POST /v1/channels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    for inst in ("api", "publisher"):
        url = os.environ["SLUICE_%s_URL" % inst.upper()]
        slow = [Slow(url, head) for _ in range(100)] + [Slow(url, b"") for _ in range(10)]
        if inst == "api":
            slow += [Slow(url, b"")]
            slow[-1].text = body  # sent whole at once below, then nothing
            slow[-1].s.sendall(body)
            slow[-1].text = b""
        for t in slow:
            t.start()
        worst = 0.0
        while any(t.is_alive() for t in slow):
            t0 = time.time()
            st, _ = http("GET", url + "/healthz", timeout=5)
            took = time.time() - t0
            worst = max(worst, took)
            if st != 200:
                fail("%s: a fresh client got %r during the attack" % (inst, st))
            time.sleep(0.2)
        if worst > 1.0:
            fail("%s: a fresh client waited %.2f s during the attack" % (inst, worst))
        ok("%s: fresh clients served in at most %.0f ms during the attack" % (inst, worst * 1000))
        late = [t.closed_after for t in slow if t.closed_after is None or t.closed_after > DEADLINE + 1.5]
        if late:
            fail("%s: %d slow connections not closed within the deadline: %r" % (inst, len(late), late[:5]))
        codes = {t.answer.split(b"\r\n", 1)[0] for t in slow}
        expect_eq("%s: every slow connection answered 408 before the close" % inst,
                  {b"HTTP/1.1 408 Request Timeout"}, codes)
        ok("%s: all %d slow connections closed after %.1f-%.1f s" % (
            inst, len(slow), min(t.closed_after for t in slow), max(t.closed_after for t in slow)))
    st, _ = http("GET", os.environ["SLUICE_API_URL"] + "/metrics")
    _, text = http("GET", os.environ["SLUICE_API_URL"] + "/metrics")
    n = [l for l in text.splitlines() if l.startswith("sluice_http_request_timeouts_total ")]
    if not n or float(n[0].split()[1]) < 111:
        fail("the API counted %r request timeouts, expected at least 111" % n)
    ok("timeouts counted in sluice_http_request_timeouts_total")
finally:
    rc = system_down(name)
if rc != 0:
    fail("a role did not shut down cleanly")
ok("every role exited 0 on SIGTERM")
