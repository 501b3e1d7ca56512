#!/usr/bin/env python3
"""Turns a JMH JSON result (-rf json -prof gc) into the Markdown table of docs/PERFORMANCE.md.

usage: jmh_table.py RESULT.json [JMH_STDOUT.txt]
The stdout (optional) supplies the bytes per batch printed by BatchBenchmark and the request
size printed by ParserBenchmark, so that bytes/s can be computed for every row.
"""
import json, re, sys

results = json.load(open(sys.argv[1]))
batch_bytes, make_line = {}, 2514
if len(sys.argv) > 2:
    for line in open(sys.argv[2], errors="replace"):
        m = re.search(r"\[batch\] processes=(\d+) chunk=(\d+) items=(\d+) bytes/batch=(\d+)", line)
        if m:
            batch_bytes[(m[1], m[2], m[3])] = int(m[4])
        m = re.search(r"\[parser\] make line: (\d+) bytes", line)
        if m:
            make_line = int(m[1])

def bytes_per_op(name, p):
    if name == "AppendBenchmark.append":
        return None  # the queue keeps a reference: no bytes move (see captureAndAppend)
    if name.startswith("AppendBenchmark"):
        return int(p["size"])
    if name.startswith("BatchBenchmark"):
        return batch_bytes.get((p["processes"], p["chunk"], p["items"]))
    if name.startswith("AcknowledgeBenchmark"):
        return None  # chunks are queued and dropped by reference: no bytes move
    if name.startswith("ParserBenchmark"):
        return 3 if "ListProcesses" in name else make_line
    return None

def human(x, unit):
    for k, s in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= k:
            return f"{x / k:.2f} {s}{unit}"
    return f"{x:.0f} {unit}"

print("| benchmark | params | ops/s | ± (99.9%) | bytes/s | alloc B/op |")
print("|---|---|---:|---:|---:|---:|")
for r in results:
    name = r["benchmark"].split(".")[-2] + "." + r["benchmark"].split(".")[-1]
    p = r.get("params", {})
    params = " ".join(f"{k}={v}" for k, v in p.items())
    score = r["primaryMetric"]["score"]
    err = r["primaryMetric"]["scoreError"]
    b = bytes_per_op(name, p)
    bps = human(score * b, "B/s") if b else ""
    alloc = r.get("secondaryMetrics", {}).get("gc.alloc.rate.norm", {}).get("score")
    alloc_s = "" if alloc is None else (f"{alloc:.0f}" if alloc >= 1 else f"{alloc:.2f}")
    print(f"| {name} | {params} | {human(score, '')} | {human(err, '') if err == err else ''} | {bps} | {alloc_s} |")
