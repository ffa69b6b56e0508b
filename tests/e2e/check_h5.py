#!/usr/bin/env python3
"""Read a `scalepath nccl -o` file the way docs/output-format.md says a user
can, with h5py only, and check what the document promises: the root
attributes, one table per experiment, every column of the same length with
units, and the nccl-tests busbw identity busbw = algbw x factor."""
import sys

import h5py

from sp_check import fail, s


path, coll, nranks = sys.argv[1], sys.argv[2], int(sys.argv[3])
any_algo = len(sys.argv) > 4 and sys.argv[4] == "any"  # else every row must be Ring
with h5py.File(path, "r") as f:
    if int(f.attrs["schema_version"]) != 1:
        fail("schema_version")
    if int(f.attrs["complete"]) != 1:
        fail("complete != 1")
    for key in ("generator", "generator_version", "simgrid_version", "command", "platform_name"):
        if key not in f.attrs:
            fail("missing root attribute " + key)
    g = f["nccl/" + coll]
    cols = s(g.attrs["columns"]).split(",")
    rows = int(g.attrs["rows"])
    if rows < 1:
        fail("no rows")
    for c in cols:
        d = g[c]
        if d.shape != (rows,):
            fail("column %s has shape %s, expected (%d,)" % (c, d.shape, rows))
        if "units" not in d.attrs or "description" not in d.attrs:
            fail("column %s lacks units/description" % c)
    if s(g["busbw"].attrs["units"]) != "GB/s" or s(g["time"].attrs["units"]) != "us":
        fail("units of busbw/time")
    if int(g.attrs["ranks"]) != nranks:
        fail("ranks attribute")
    factor = float(g.attrs["busbw_factor"])
    want = 2.0 * (nranks - 1) / nranks if coll == "all_reduce" else (nranks - 1) / nranks
    if abs(factor - want) > 1e-12:
        fail("busbw_factor %g, expected %g" % (factor, want))
    size, t = g["size"][:], g["time"][:]
    algbw, busbw = g["algbw"][:], g["busbw"][:]
    for i in range(rows):
        if abs(algbw[i] - size[i] / (t[i] * 1e-6) / 1e9) > 1e-9 * max(1.0, algbw[i]):
            fail("algbw != size / time at row %d" % i)
        if abs(busbw[i] - algbw[i] * factor) > 1e-9 * max(1.0, busbw[i]):
            fail("busbw != algbw x factor at row %d" % i)
    # time is the collective's, or the host's launches per iteration when
    # those take longer (--gpus-per-thread; 0 = host not modelled).
    gpt, launch = int(g.attrs["gpus_per_thread"]), float(g.attrs["launch_time"])
    if s(g.attrs["launch_time_units"]) != "us" or s(g["collective_time"].attrs["units"]) != "us":
        fail("launch_time or collective_time units")
    ct = g["collective_time"][:]
    for i in range(rows):
        want = max(ct[i], gpt * launch)
        if abs(t[i] - want) > 1e-9 * want:
            fail("time %g != max(collective_time %g, %d x %g us) at row %d" % (t[i], ct[i], gpt, launch, i))
    if gpt == 0 and launch != 0.0:
        fail("launch_time %g without gpus_per_thread" % launch)
    algos = [s(a) for a in g["algorithm"][:]]
    if not any_algo and any(a != "Ring" for a in algos):
        fail("algorithm column: %s" % algos)
print("ok: %s, %d rows, columns %s" % (path, rows, ",".join(cols)))
