#!/usr/bin/env python3
"""`scalepath emulate` against the simulator's own figures.

1. allreduce_perf (workloads/emu), a real NCCL program, run emulated on
   one DGX H100 and on two SuperPOD nodes: each all-reduce it times with
   CUDA events, and each row of the emulator's report, must equal the time
   `scalepath nccl` gives the same size on the same platform, and the
   algorithm and protocol must be the ones it chose.
2. The HDF5 file: its table, units, and bit-identical bytes on a rerun.
3. collectives_check (tests/data/emu): its all-to-alls, gathers and
   scatters each take the time `scalepath nccl` gives their size.
4. overlap (workloads/emu): the all-reduces hidden behind compute on a
   second stream take less time than on one, and no less than the
   compute alone.
"""
import argparse
import os
import re
import shutil
import sys

import h5py

from sp_check import fail, run, s


ap = argparse.ArgumentParser()
ap.add_argument("--scalepath", required=True)
ap.add_argument("--perf", required=True)
ap.add_argument("--overlap", required=True)
ap.add_argument("--mpi", required=True)
ap.add_argument("--check", required=True, help="tests/data/emu/collectives_check.c, built")
ap.add_argument("--out", required=True)
a = ap.parse_args()

for plat, nodes in (("platforms/dgx-h100.cfg", "1"), ("platforms/superpod-h100.cfg", "2")):
    emu_h5 = os.path.join(a.out, "emu-perf.h5")
    nccl_h5 = os.path.join(a.out, "emu-nccl.h5")
    # Without the launches' host time, which the program's events would
    # count: the collectives alone, as `scalepath nccl` times them.
    out = run([a.scalepath, "emulate", "-p", plat, "-n", nodes, "--launch-costs", "off", "-o", emu_h5, a.perf, "1024",
               str(64 << 20)])
    run([a.scalepath, "nccl", "-p", plat, "-n", nodes, "-b", "1K", "-e", "64M", "-f", "2", "-o", nccl_h5])
    with h5py.File(nccl_h5, "r") as f:
        g = f["nccl/all_reduce"]
        ref = {int(sz): (float(t), s(al), s(pr)) for sz, t, al, pr in
               zip(g["size"][()], g["time"][()], g["algorithm"][()], g["protocol"][()])}
    # The program's own table: size, time (us, from CUDA events), ..., wrong.
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+(\d+)\s*$", out, re.M)
    if len(rows) != len(ref):
        fail("%s: the program printed %d sizes, nccl %d" % (plat, len(rows), len(ref)))
    for sz, us, wrong in rows:
        t, _, _ = ref[int(sz)]
        if int(wrong) != 0:
            fail("%s: %s bytes: %s wrong elements" % (plat, sz, wrong))
        if abs(float(us) - t) > 0.006 + 1e-6 * t:  # the program prints two decimals
            fail("%s: %s bytes: the program timed %s us, scalepath nccl %.4f us" % (plat, sz, us, t))
    with h5py.File(emu_h5, "r") as f:
        if s(f.attrs["kind"]) != "emulate" or int(f.attrs["complete"]) != 1:
            fail("emulate file: kind or complete")
        g = f["emulate/ops"]
        for c in s(g.attrs["columns"]).split(","):
            if "units" not in g[c].attrs:
                fail("column %s has no units" % c)
        if s(g["start"].attrs["units"]) != "s" or s(g["bytes"].attrs["units"]) != "B":
            fail("start or bytes units")
        if int(g.attrs["devices"]) != (8 if nodes == "1" else 16):
            fail("devices attribute %d" % int(g.attrs["devices"]))
        n = 0
        for op, sz, al, pr, t0, t1 in zip(g["op"][()], g["bytes"][()], g["algorithm"][()], g["protocol"][()],
                                          g["start"][()], g["end"][()]):
            t, ral, rpr = ref[int(sz)]
            if s(op) != "AllReduce" or (s(al), s(pr)) != (ral, rpr):
                fail("%s: %d bytes ran %s %s/%s, nccl chose %s/%s" % (plat, sz, s(op), s(al), s(pr), ral, rpr))
            # Both are the simulator's times; the emulated one starts later on
            # the same clock, which moves its last bits.
            if abs((t1 - t0) * 1e6 - t) > 1e-9 * t:
                fail("%s: %d bytes: emulated %.9f us, nccl %.9f us" % (plat, sz, (t1 - t0) * 1e6, t))
            n += 1
        if n != len(ref):
            fail("%d rows in the emulate file" % n)
    print("%s x %s: %d sizes, emulated = nccl" % (plat, nodes, len(ref)))

# NCCL 2.28's all-to-all, gather and scatter on the p2p engine: each the
# time `scalepath nccl -c alltoall|gather|scatter` gives its size.
check_h5 = os.path.join(a.out, "emu-check.h5")
run([a.scalepath, "emulate", "-p", "platforms/dgx-h100.cfg", "-o", check_h5, a.check])
names = {"AlltoAll": "alltoall", "Gather": "gather", "Scatter": "scatter"}
seen, nccl_t = set(), {}
with h5py.File(check_h5, "r") as f:
    g = f["emulate/ops"]
    for op, sz, al, t0, t1 in zip(g["op"][()], g["bytes"][()], g["algorithm"][()], g["start"][()], g["end"][()]):
        op, sz = s(op), int(sz)
        if op not in names or sz // 8 % 16:  # nccl-tests rounds a share to 16 bytes
            continue
        key = (names[op], sz)
        if key not in nccl_t:
            out = run([a.scalepath, "nccl", "-p", "platforms/dgx-h100.cfg", "-c", names[op], "-d", "int8",
                       "-b", str(sz), "-e", str(sz), "-v"])
            # nccl-tests' count is per rank (8 of them) for these
            r = re.search(r"^\s+%d\s+%d\s+int8\s+none\s+-?\d+\s+([\d.]+)" % (sz, sz // 8), out, re.M)
            if r is None:
                fail("nccl -c %s %d: no row\n%s" % (names[op], sz, out))
            nccl_t[key] = float(r.group(1))
        if s(al) != "P2P" or abs((t1 - t0) * 1e6 - nccl_t[key]) > 0.006 + 1e-6 * nccl_t[key]:
            fail("%s of %d bytes: emulated %s %.4f us, nccl %.2f us" % (op, sz, s(al), (t1 - t0) * 1e6, nccl_t[key]))
        seen.add(op)
if seen != set(names):
    fail("collectives_check ran %s of %s" % (sorted(seen), sorted(names)))
print("alltoall, gather, scatter: %d sizes, emulated = nccl" % len(nccl_t))

# One process per GPU (MPI): the same all-reduce, the same time (without the
# launch's host time, which the program's events would count).
out = run([a.scalepath, "emulate", "-p", "platforms/dgx-h100.cfg", "-n", "2", "--ppn", "8", "--launch-costs", "off",
           a.mpi, str(32 << 20)])
m = re.search(r"16 processes: all-reduce of 33554432 bytes in ([\d.]+) us .*; 0 wrong", out)
nccl_out = run([a.scalepath, "nccl", "-p", "platforms/dgx-h100.cfg", "-n", "2", "-b", "32M", "-e", "32M"])
r = re.search(r"^\s+33554432\s+\d+\s+float\s+sum\s+-1\s+([\d.]+)", nccl_out, re.M)
if m is None or r is None or m.group(1) != r.group(1):
    fail("MPI all-reduce: %s\nnccl: %s" % (out, nccl_out))
print("MPI, 16 processes: %s us, as nccl" % m.group(1))

# analysis/plot.py draws the emulated collectives of the last file: one point per size.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "analysis"))
import plot  # noqa: E402
png = os.path.join(a.out, "emu-perf-collectives.png")
pts = plot.emulate_figure(emu_h5, png)
if sorted(b for b, _, _ in pts.get("AllReduce", [])) != sorted(ref) or os.path.getsize(png) == 0:
    fail("the emulate figure does not hold one all-reduce per size")
print("figure: %d all-reduces" % len(pts["AllReduce"]))

# Same inputs, same bytes.
first = os.path.join(a.out, "emu-det.h5")
run([a.scalepath, "emulate", "-p", "platforms/dgx-h100.cfg", "-o", first, a.perf, "4096", "1048576"])
shutil.copyfile(first, first + ".1")
run([a.scalepath, "emulate", "-p", "platforms/dgx-h100.cfg", "-o", first, a.perf, "4096", "1048576"])
if open(first, "rb").read() != open(first + ".1", "rb").read():
    fail("two runs wrote different files")
print("deterministic")

tl = os.path.join(a.out, "emu-overlap.json")
out = run([a.scalepath, "emulate", "-p", "platforms/dgx-h100.cfg", "-n", "2", "--no-data", "--timeline", tl, a.overlap, "8"])
m = re.search(r"one stream ([\d.]+) ms, overlapped ([\d.]+) ms", out)
if m is None:
    fail("overlap printed no times:\n" + out)
serial, overlapped = float(m.group(1)), float(m.group(2))
if not overlapped < serial:
    fail("overlapped %.3f ms is not less than one stream's %.3f" % (overlapped, serial))
print("overlap: one stream %.3f ms, two %.3f ms" % (serial, overlapped))

# Its timeline: a track per GPU; in the overlapped pass (the second half) GPU
# 0's all-reduces run on another stream than its kernels, and beside them.
import json
doc = json.load(open(tl))
ev = [e for e in (doc["traceEvents"] if isinstance(doc, dict) else doc) if e.get("ph") == "X"]
gpus = {e["pid"] for e in ev}
if gpus != set(range(16)):
    fail("timeline tracks %s, expected the 16 GPUs" % sorted(gpus))
g0 = [e for e in ev if e["pid"] == 0]
kernels = [e for e in g0 if e["cat"] == "compute"]
colls = [e for e in g0 if e["cat"] == "collective"]
if len(kernels) != 2 * 2 * 8 or len(colls) != 2 * 8:
    fail("GPU 0: %d kernels and %d collectives, expected 32 and 16" % (len(kernels), len(colls)))
late = [c for c in colls if c["tid"] != 0]
if len(late) != 8 or not any(k["ts"] < c["ts"] + c["dur"] and c["ts"] < k["ts"] + k["dur"] for c in late for k in kernels):
    fail("the overlapped all-reduces do not run on a second stream beside the kernels")
if any(c.get("args", {}).get("algorithm") is None for c in colls):
    fail("a collective without its algorithm")
print("timeline: %d events, all-reduces beside kernels" % len(ev))
