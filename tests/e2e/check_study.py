#!/usr/bin/env python3
"""Read a `scalepath study -o` file with h5py only and check what
docs/output-format.md promises: both tables have one row per (job, rung)
with units; days = tokens / tokens_per_s / 86400 where the job fits; the
Pareto flags match a recomputation from capex and days; each job has at
most one recommended rung, which fits, and meets the deadline whenever any
rung does; a rung that fits has a layout whose memory fits its GPUs; each row's loss is
fused or unfused, the same for every rung of a job.
Usage: check_study.py OUT.h5 JOBS RUNGS"""
import math
import sys

import h5py

from sp_check import fail, s


def table(g):
    out = {}
    for c in s(g.attrs["columns"]).split(","):
        if "units" not in g[c].attrs:
            fail(f"{g.name}/{c} has no units")
        v = g[c][()]
        out[c] = [s(x) for x in v] if g[c].dtype.kind == "S" else list(v)
    return out


path, njobs, nrungs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with h5py.File(path, "r") as f:
    if s(f.attrs["kind"]) != "study" or int(f.attrs["complete"]) != 1:
        fail("kind / complete")
    o = table(f["study/outcomes"])
    c = table(f["study/configs"])
n = njobs * nrungs
if len(o["job"]) != n or len(c["label"]) != n:
    fail(f"{len(o['job'])} outcome rows and {len(c['label'])} config rows, expected {n}")
for i in range(n):
    if o["rung"][i] != c["label"][i]:
        fail(f"row {i}: outcomes and configs disagree on the rung")
    if o["fits"][i] != c["fits"][i]:
        fail(f"row {i}: fits differs between the tables")
    if c["loss"][i] not in ("fused", "unfused") or c["loss"][i] != c["loss"][i - i % nrungs]:
        fail(f"row {i}: loss {c['loss'][i]!r}: not fused or unfused, or not its job's")
    if o["fits"][i]:
        days = o["tokens"][i] / c["tokens_per_s"][i] / 86400.0
        if abs(days - o["days"][i]) > 1e-9 * days:
            fail(f"row {i}: days {o['days'][i]} is not tokens / tokens_per_s ({days})")
        if c["memory_per_gpu"][i] > c["memory_capacity"][i]:
            fail(f"row {i}: a fitting rung whose layout does not fit")
    elif not math.isnan(o["days"][i]):
        fail(f"row {i}: days given where nothing fits")
for j in range(njobs):
    rows = range(j * nrungs, (j + 1) * nrungs)
    fit = [i for i in rows if o["fits"][i]]
    for i in fit:
        dominated = any(k != i and o["capex"][k] <= o["capex"][i] and o["days"][k] <= o["days"][i]
                        and (o["capex"][k] < o["capex"][i] or o["days"][k] < o["days"][i]) for k in fit)
        if bool(o["pareto"][i]) == dominated:
            fail(f"row {i}: pareto flag {o['pareto'][i]} but dominated={dominated}")
    rec = [i for i in rows if o["recommended"][i]]
    if len(rec) > 1 or (fit and not rec) or (rec and not o["fits"][rec[0]]):
        fail(f"job {j}: recommended rows {rec}")
    if rec and any(o["meets_deadline"][i] for i in fit) and not o["meets_deadline"][rec[0]]:
        fail(f"job {j}: the recommendation misses a deadline another rung meets")
print(f"ok: {njobs} jobs x {nrungs} rungs, {sum(map(int, o['fits']))} fit")
