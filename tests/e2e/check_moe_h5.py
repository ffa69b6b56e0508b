#!/usr/bin/env python3
"""A `scalepath train -o` row records MoE routing as run: the capacity
factor, the busiest expert-parallel rank's load over the balanced mean,
the share of its routed tokens dropped and whether inputs were padded,
each with its units. Usage: check_moe_h5.py FILE CAPACITY LOAD DROPPED PAD"""
import sys

import h5py

path = sys.argv[1]
want = [float(x) for x in sys.argv[2:5]] + [int(sys.argv[5])]
with h5py.File(path, "r") as f:
    g = f["train/summary"]
    got = [float(g["moe_capacity_factor"][0]), float(g["moe_load"][0]), float(g["moe_dropped"][0]),
           int(g["moe_pad"][0])]
    units = [g[k].attrs["units"] for k in ("moe_capacity_factor", "moe_load", "moe_dropped", "moe_pad")]
units = [u.decode() if isinstance(u, bytes) else str(u) for u in units]
ok = all(abs(a - b) <= 1e-9 * max(1.0, abs(b)) for a, b in zip(got[:3], want[:3])) and got[3] == want[3]
ok = ok and units == ["1", "1", "1", "1"]
print(("ok" if ok else "FAIL") + f": capacity, load, dropped, pad = {got} (want {want}); units {units}")
sys.exit(0 if ok else 1)
