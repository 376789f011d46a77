"""promstat.py: latency quantiles of one benchmark window from two scrapes
of Prometheus text (the roles' /metrics), for the per-stage breakdown.

A histogram's buckets are cumulative since the process started; the
difference of two scrapes holds exactly the observations of the window
between them. Quantiles interpolate linearly inside a bucket (as
Prometheus's histogram_quantile does), so they are as fine as the buckets:
0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10 ms ... (see
src/core/metrics.c). Several scrapes of one metric (two reducers) add up.
Used by bench/sportsbook.sh; no third-party modules.
"""
import math
import re
import sys

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)')


def parse(text):
    """{(name, labels): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = _LINE.match(line)
        if m:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def buckets(samples, name):
    """[(upper bound, cumulative count)] of histogram `name` (unlabelled), ascending."""
    b = []
    for (n, labels), v in samples.items():
        if n != name + "_bucket":
            continue
        le = re.search(r'le="([^"]+)"', labels).group(1)
        b.append((math.inf if le == "+Inf" else float(le), v))
    return sorted(b)


def window(before, after, name):
    """Cumulative buckets of the window, summed over every pair of scrapes."""
    total = {}
    for b_text, a_text in zip(before, after):
        b0 = dict(buckets(parse(b_text), name))
        for le, v in buckets(parse(a_text), name):
            total[le] = total.get(le, 0.0) + v - b0.get(le, 0.0)
    return sorted(total.items())


def quantile(cum, q):
    if not cum or cum[-1][1] <= 0:
        return None
    rank = q * cum[-1][1]
    lo, seen = 0.0, 0.0
    for le, c in cum:
        if c >= rank:
            if le == math.inf:
                return lo  # past the last bound: report the bound
            inside = c - seen
            return lo + (le - lo) * ((rank - seen) / inside if inside else 0)
        lo, seen = le, c
    return lo


def stage(before, after, name):
    cum = window(before, after, name)
    if not cum or cum[-1][1] <= 0:
        return None
    return {"n": int(cum[-1][1]), "p50": quantile(cum, 0.5), "p99": quantile(cum, 0.99), "p999": quantile(cum, 0.999)}


if __name__ == "__main__":
    # promstat.py METRIC BEFORE AFTER [BEFORE AFTER ...]: quantiles as JSON.
    import json
    files = sys.argv[2:]
    read = lambda p: open(p).read()
    print(json.dumps(stage([read(p) for p in files[0::2]], [read(p) for p in files[1::2]], sys.argv[1])))
