#!/usr/bin/env python3
"""A Chakra microbenchmark replayed takes the same simulated time as
`scalepath nccl` gives for the same collective, size and ranks.
Usage: check_chakra_micro.py REPLAY.h5 NCCL.h5 COLLECTIVE"""
import sys

import h5py


def text(a):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in a]


replay, nccl, coll = sys.argv[1:4]
with h5py.File(replay, "r") as f:
    g = f["replay/ops"]
    ops = [(int(b), s, e) for k, c, b, s, e in zip(text(g["kind"][:]), text(g["collective"][:]),
                                                  g["bytes"][:], g["start"][:], g["end"][:])
           if k == "collective" and c == coll]
    # One collective instance over all ranks: first start to last finish, as nccl reports.
    rows = [(ops[0][0], max(e for _, _, e in ops) - min(s for _, s, _ in ops))] if ops else []
with h5py.File(nccl, "r") as f:
    g = f["nccl/" + coll]
    ref = dict(zip((int(x) for x in g["size"][:]), g["time"][:]))
if not rows:
    print(f"FAIL: no {coll} in {replay}")
    sys.exit(1)
for b, d in rows:
    if b not in ref or abs(d * 1e6 - ref[b]) > 1e-6 * max(1.0, ref[b]):
        print(f"FAIL: {coll} {b} B: replay {d * 1e6:.6f} us, nccl {ref.get(b)}")
        sys.exit(1)
print(f"ok: {coll} of {rows[0][0]} B over {len(ops)} ranks takes {ref[rows[0][0]]:.3f} us, as in nccl")
