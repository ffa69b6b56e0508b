#!/usr/bin/env python3
"""Every row of a study's /study/configs records the MoE load its memory was
counted with, the rungs where nothing fits included (their least-memory
layout's). Usage: check_moe_study.py FILE LOAD"""
import sys

import h5py

path, want = sys.argv[1], float(sys.argv[2])
with h5py.File(path, "r") as f:
    g = f["study/configs"]
    fits = [int(v) for v in g["fits"][:]]
    load = [float(v) for v in g["moe_load"][:]]
ok = len(load) > 0 and 0 in fits and all(abs(x - want) <= 1e-3 * want for x in load)
print(("ok" if ok else "FAIL") + f": fits {fits}, moe_load {load} (want {want} in every row, one not fitting)")
sys.exit(0 if ok else 1)
