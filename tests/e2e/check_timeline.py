#!/usr/bin/env python3
"""A --timeline file is valid Chrome-trace JSON with one track (process)
per rank, named, and its operations as complete events on stream threads.
Usage: check_timeline.py TIMELINE.json RANKS OPERATIONS"""
import json
import sys

path, ranks, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path) as f:
    d = json.load(f)
ev = d["traceEvents"]
names = {e["pid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
slices = [e for e in ev if e["ph"] == "X"]
if sorted(names) != list(range(ranks)):
    sys.exit(f"FAIL: process tracks {sorted(names)}, expected one per rank 0..{ranks - 1}")
if {e["pid"] for e in slices} != set(range(ranks)):
    sys.exit("FAIL: some rank has no events, or events name a rank that does not exist")
if len(slices) != ops:
    sys.exit(f"FAIL: {len(slices)} events, expected {ops} operations")
if any(e["ts"] < 0 or e["dur"] < 0 for e in slices):
    sys.exit("FAIL: negative time")
colls = [e for e in slices if e["cat"] not in ("compute", "send", "recv")]
if colls and not all("algorithm" in e["args"] and "bytes" in e["args"] and e["args"].get("channels", 0) > 0
                     for e in colls):
    sys.exit("FAIL: a collective without its algorithm, bytes and channels")
print(f"ok: {ranks} rank tracks, {len(slices)} events, {len(colls)} collectives")
