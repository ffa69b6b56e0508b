#!/usr/bin/env python3
"""A --timeline file is valid Chrome-trace JSON with one track (process)
per rank, named, and its operations as complete events on stream threads.
With the same run's HDF5 output (-o), each collective's SMs (`sms`) must be
those of its row in /replay/ops, in the same order.
Usage: check_timeline.py TIMELINE.json RANKS OPERATIONS [OUT.h5]"""
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
if colls and not all(isinstance(e["args"].get("sms"), int) and e["args"]["sms"] >= 0 for e in colls):
    sys.exit("FAIL: a collective without the SMs it holds")
if any("sms" in e["args"] for e in slices if e["cat"] in ("compute", "send", "recv")):
    sys.exit("FAIL: SMs given for an operation that is not a collective")
if len(sys.argv) > 4:
    import h5py
    with h5py.File(sys.argv[4], "r") as f:
        g = f["/replay/ops"]
        rows = [(int(r), int(m)) for r, k, m in zip(g["rank"][()], g["kind"][()], g["sms"][()])
                if (k.decode() if isinstance(k, bytes) else k) == "collective"]
    got = [(e["pid"], e["args"]["sms"]) for e in colls]
    if got != rows:
        sys.exit(f"FAIL: the timeline's collectives hold SMs {got[:8]}..., /replay/ops says {rows[:8]}...")
    kinds = sorted({m for _, m in got})
    print(f"ok: every collective's SMs as in {sys.argv[4]} ({len(got)} collectives; SMs held: {kinds})")
print(f"ok: {ranks} rank tracks, {len(slices)} events, {len(colls)} collectives")
