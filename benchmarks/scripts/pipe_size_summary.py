#!/usr/bin/env python3
"""Medians of a pipe_size_ab.sh output: MB/s and the daemon's CPU per GB, by section and --pipe-size."""
# usage: benchmarks/scripts/pipe_size_summary.py OUTPUT
import re, statistics, sys
runs = {}  # (size, section) -> list of (MB/s, daemon s/GB)
size = None
pending = None
for line in open(sys.argv[1]):
    m = re.match(r"== pair \d+, --pipe-size (\S+),", line)
    if m: size = m.group(1); continue
    m = re.match(r"\s+(tp|bp1g|bp2m)\d+ \(.*CPU: daemon \d+ ms \(([\d.]+) s/GB\)", line)
    if m: pending = (m.group(1), float(m.group(2))); continue
    m = re.match(r"\s+papa \(dd -> daemon -> watcher, acked\): (\d+) MB/s", line)
    if m and pending:
        runs.setdefault((size, pending[0]), []).append((int(m.group(1)), pending[1])); pending = None
names = {"tp": "section 1, bufsize=1g (bulk)", "bp1g": "section 7, bufsize=1g", "bp2m": "section 7, bufsize=2m overflow=block"}
for kind in ("tp", "bp1g", "bp2m"):
    for size in ("0", "1m"):
        r = runs.get((size, kind), [])
        if not r: continue
        mbs = sorted(x[0] for x in r); cpu = sorted(x[1] for x in r)
        print("%-38s --pipe-size %-2s: %2d runs, MB/s median %4d (min %4d, max %4d); daemon CPU median %.2f s/GB" %
              (names[kind], size, len(r), statistics.median(mbs), mbs[0], mbs[-1], statistics.median(cpu)))
