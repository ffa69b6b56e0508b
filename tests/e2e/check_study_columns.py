#!/usr/bin/env python3
"""Every row of a study's /study/configs holds the given values: the job's
settings recorded with each simulated layout (or, with --group=PATH first,
every row of that table, such as a train file's train/summary). Usage:
check_study_columns.py FILE [--group=PATH] COLUMN=VALUE..."""
import sys

import h5py

args = sys.argv[2:]
group = "study/configs"
if args and args[0].startswith("--group="):
    group, args = args[0].split("=", 1)[1], args[1:]
path, pairs = sys.argv[1], [a.split("=", 1) for a in args]
bad = []
with h5py.File(path, "r") as f:
    g = f[group]
    for col, want in pairs:
        got = [v.decode() if isinstance(v, bytes) else f"{float(v):g}" for v in g[col][:]]
        if not got or any(v != want for v in got):
            bad.append(f"{col} = {got}, want {want} in every row")
print("FAIL: " + "; ".join(bad) if bad else "ok: " + ", ".join("=".join(p) for p in pairs))
sys.exit(1 if bad else 0)
