#!/usr/bin/env python3
"""The microbenchmark collectives of a replay take the same simulated time
as `scalepath nccl` gives for the same collective, size and ranks.
Usage: check_micro.py REPLAY.h5 NCCL.h5 (nccl run over the same sizes)."""
import sys

import h5py


def text(a):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in a]


replay, nccl = sys.argv[1], sys.argv[2]
with h5py.File(replay, "r") as f:
    g = f["replay/ops"]
    kinds, colls = text(g["kind"][:]), text(g["collective"][:])
    rank, size = g["rank"][:], g["bytes"][:]
    dur = g["end"][:] - g["start"][:]
    sim = {}
    for k, c, r, b, d in zip(kinds, colls, rank, size, dur):
        if k == "collective" and c == "all_reduce" and r == 0:
            sim[int(b)] = d * 1e6
with h5py.File(nccl, "r") as f:
    g = f["nccl/all_reduce"]
    ref = dict(zip((int(x) for x in g["size"][:]), g["time"][:]))
checked = 0
for b, t in sorted(sim.items()):
    if b not in ref:
        continue
    checked += 1
    if abs(t - ref[b]) > 1e-6 * max(1.0, ref[b]):
        print(f"FAIL: {b} B: replay {t:.6f} us, nccl {ref[b]:.6f} us")
        sys.exit(1)
if checked < 5:
    print(f"FAIL: only {checked} sizes in common")
    sys.exit(1)
print(f"ok: {checked} all_reduce sizes agree between replay and nccl")
