#!/usr/bin/env bash
# check-calls.sh: `make check`: no two source files call each other in a
# circle (STYLE section 1: split by direction; a role's main calls its
# parts, the parts call shared helpers below them).
#
# How it works: the symbols each object of build/obj (or the folder given)
# defines and the ones it needs (nm) give one edge per file that calls a
# function or uses data of another; a strongly connected set of more than
# one file is a circle, printed with the symbols that close it. Only the
# objects of today's sources count (stale objects of removed files do
# not). Needs a build: `make check` builds first; 0002 runs it after the
# harness built everything.
# Non-goals: calls through function pointers (a callback registered with a
# lower layer is the point of the rule, not a breach of it), static calls
# inside one file.
set -euo pipefail
cd "$(dirname "$0")/.."
obj=${1:-build/obj}
python3 - "$obj" <<'EOF'
import pathlib, subprocess, sys

obj = pathlib.Path(sys.argv[1])
srcs = sorted(str(p) for p in pathlib.Path("src").rglob("*.c"))
defs, needs = {}, {}
for s in srcs:
    o = obj / (s[:-2] + ".o")
    if not o.exists():
        sys.exit(f"calls: {o} is missing: build first (make)")
    d, u = set(), set()
    for line in subprocess.run(["nm", "-P", str(o)], capture_output=True, text=True, check=True).stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[1] in "TDBRCVW":
            d.add(f[0])
        elif len(f) >= 2 and f[1] == "U":
            u.add(f[0])
    defs[s], needs[s] = d, u
owner = {sym: s for s, d in defs.items() for sym in d}
edges = {s: {} for s in srcs}  # caller -> callee -> symbols
for s, u in needs.items():
    for sym in u:
        t = owner.get(sym)
        if t and t != s:
            edges[s].setdefault(t, []).append(sym)

# Tarjan's strongly connected components, iteratively.
index, low, onstack, stack, sccs, counter = {}, {}, set(), [], [], [0]
for root in srcs:
    if root in index:
        continue
    work = [(root, iter(sorted(edges[root])))]
    index[root] = low[root] = counter[0]; counter[0] += 1
    stack.append(root); onstack.add(root)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = counter[0]; counter[0] += 1
                stack.append(w); onstack.add(w)
                work.append((w, iter(sorted(edges[w]))))
            elif w in onstack:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); onstack.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

for comp in sccs:
    print("calls: these files call each other in a circle: " + " ".join(comp))
    for a in comp:
        for b in comp:
            if b in edges[a]:
                print(f"  {a} -> {b}: {', '.join(sorted(edges[a][b])[:4])}")
if sccs:
    sys.exit(1)
print("calls: no circle")
EOF
