"""Sets each request's latency (vegeta CSV) against the server's garbage collections
(the gctrace lines of its log). Usage: gc-stalls.py SERVER_LOG VEGETA_CSV SERVER_START
(SERVER_START: the process's start, Unix seconds; gctrace's @times count from it)."""
import csv
import sys

log, data, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
csv.field_size_limit(1 << 30)
windows = []  # (start, end) of each collection, Unix seconds
for line in open(log):
    if line.startswith("gc "):
        f = line.split()
        at = float(f[2][1:-1])
        clock = sum(float(x) for x in f[4].split("+")) / 1000
        windows.append((start + at, start + at + clock))
reqs = []  # (sent, latency ms)
for r in csv.reader(open(data)):
    reqs.append((int(r[0]) / 1e9, int(r[2]) / 1e6))
first, last = min(t for t, _ in reqs), max(t for t, _ in reqs)


def where(t):
    for a, b in windows:
        if a - 0.05 <= t <= b + 0.05:
            return "during a collection"
        if b < t <= b + 0.5:
            return "0.5 s after one"
    return "other times"


def q(v, p):
    v = sorted(v)
    return v[int(p * (len(v) - 1))] if v else float("nan")


groups = {}
for t, l in reqs:
    groups.setdefault(where(t), []).append(l)
inside = [(round(a - first, 2), round((b - a) * 1000)) for a, b in windows if first <= a <= last]
print(f"collections during the load (s from its start, ms of clock): {inside}")
for name in ("during a collection", "0.5 s after one", "other times"):
    v = groups.get(name, [])
    print(f"{name}: {len(v)} requests, p50 {q(v, .5):.1f} ms, p90 {q(v, .9):.1f} ms, p99 {q(v, .99):.1f} ms")
lat = [l for _, l in reqs]
top = q(lat, 0.99)
near = sum(1 for t, l in reqs if l >= top and where(t) != "other times")
print(f"all: p50 {q(lat, .5):.1f} ms, p99 {top:.1f} ms; of the slowest 1%, {near / max(1, sum(1 for l in lat if l >= top)):.0%} were during or within 0.5 s after a collection")
