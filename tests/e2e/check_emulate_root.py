#!/usr/bin/env python3
"""A rooted collective emulated at a given root takes the time `scalepath
nccl -c NAME -r ROOT` gives it, and the root matters where the platform is
not symmetric.

tests/data/emu/rooted.c runs one broadcast, reduce, gather or scatter over
every GPU. On lab-mixed (two DGX Sparks and a DGX Station on a 200 GbE
switch) the Sparks reach the network through 24 GB/s of PCIe and the
Station through its 200 Gb/s switch port (24.5 GB/s): a gather to the
Station (rank 2) must be faster than a gather to a Spark (rank 0). On two
DGX H100 a scatter from GPU 11 (another node, relayed by PXN) takes the
time `nccl -r 11` gives. Both files record the root. A communicator whose
rank r runs on device n-1-r roots its gather at rank 0 on the Station. And
`calibrate` plans each row of a gather log at its root column: a log that
`nccl -r 2` printed on lab-mixed is reproduced exactly.

usage: check_emulate_root.py SCALEPATH ROOTED.so OUTDIR
"""
import os
import re
import sys

import h5py

from sp_check import fail, run, s


exe, prog, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
shares = {"gather", "scatter"}  # nccl-tests' size: all ranks' shares


def emulated_and_nccl(plat, nodes, gpus, op, root, count, device_root=None):
    """The collective's time (from its start until its last member ended),
    us; with device_root, its communicator runs rank r on device n-1-r,
    and the root is on that device."""
    h5 = os.path.join(out, "root-%s-%s-%d.h5" % (os.path.basename(plat), op, root))
    text = run([exe, "emulate", "-p", plat, "-n", str(nodes), "--launch-costs", "off", "-o", h5, prog, op,
                str(root), str(count)] + ([] if device_root is None else ["reversed"]))
    nccl_root = root if device_root is None else device_root  # nccl's rank r is device r
    if "rooted: ok" not in text:
        fail("%s %s root %d: %s" % (plat, op, root, text))
    # The printed table's root column says the same as the file's.
    rows = [line.split() for line in text.splitlines() if line.startswith("  ") and line.split()[0].lower() == op]
    if len(rows) != 1 or rows[0][4] != str(root):
        fail("%s %s root %d: the printed table's rows %s" % (plat, op, root, rows))
    with h5py.File(h5, "r") as f:
        g = f["emulate/ops"]
        spans = [(float(t1) - float(t0)) * 1e6 for o, r, t0, t1 in
                 zip(g["op"][()], g["root"][()], g["start"][()], g["end"][()]) if s(o).lower() == op and r == root]
        if s(g["root"].attrs["units"]) != "1":
            fail("root column units")
    if len(spans) != 1:
        fail("%s %s root %d: %d such collectives with that root in the file, want one" % (plat, op, root, len(spans)))
    size = count * gpus if op in shares else count
    nccl_h5 = os.path.join(out, "nccl-%s-%s-%d.h5" % (os.path.basename(plat), op, root))
    text = run([exe, "nccl", "-p", plat, "-n", str(nodes), "-c", op, "-d", "int8", "-b", str(size), "-e", str(size),
                "-r", str(nccl_root), "-o", nccl_h5])
    with h5py.File(nccl_h5, "r") as f:
        if int(f["nccl/" + op].attrs["root"]) != nccl_root:
            fail("nccl -r %d: the file's root attribute is %d" % (nccl_root, int(f["nccl/" + op].attrs["root"])))
    r = re.search(r"^\s+%d\s+\d+\s+int8\s+\w+\s+(\d+)\s+([\d.]+)" % size, text, re.M)
    if r is None or int(r.group(1)) != nccl_root:
        fail("nccl -c %s -r %d: no row with that root\n%s" % (op, nccl_root, text))
    t = float(r.group(2))
    # nccl prints two decimals.
    if abs(spans[0] - t) > 0.006 + 1e-6 * t:
        fail("%s %s root %d: emulated %.4f us, nccl %.2f us" % (plat, op, root, spans[0], t))
    return t


mixed = {}
for op in ("broadcast", "reduce", "gather", "scatter"):
    for root in (0, 2):
        mixed[op, root] = emulated_and_nccl("platforms/lab-mixed.cfg", 3, 3, op, root, 16 << 20)
if not mixed["gather", 2] < mixed["gather", 0]:
    fail("lab-mixed: a gather to the Station %.2f us, to a Spark %.2f us" % (mixed["gather", 2], mixed["gather", 0]))
print("lab-mixed: %s" % ", ".join("%s root %d %.2f us" % (k[0], k[1], v) for k, v in sorted(mixed.items())))
t = emulated_and_nccl("platforms/dgx-h100.cfg", 2, 16, "scatter", 11, 1 << 20)
print("dgx-h100 x 2: scatter root 11 %.2f us" % t)
t = emulated_and_nccl("platforms/lab-mixed.cfg", 3, 3, "gather", 0, 16 << 20, device_root=2)
if t != mixed["gather", 2]:
    fail("lab-mixed: a gather to rank 0 on the Station %.2f us, to the Station %.2f us" % (t, mixed["gather", 2]))
print("lab-mixed, ranks reversed: gather to rank 0 (the Station) %.2f us" % t)

log = os.path.join(out, "gather-root2.log")
with open(log, "w") as f:
    f.write(run([exe, "nccl", "-p", "platforms/lab-mixed.cfg", "-c", "gather", "-r", "2", "-b", "16M", "-e", "256M"]))
text = run([exe, "calibrate", "-p", "platforms/lab-mixed.cfg", "-c", "gather", "--log", log])
r = re.search(r"median busbw error: ([\d.]+)% before", text)
if r is None or float(r.group(1)) > 0.05:  # the log's two decimals
    fail("calibrate of a log nccl -r 2 printed:\n" + text)
print("calibrate: a gather log at root 2 reproduced (%s%%)" % r.group(1))
print("rooted: emulated = nccl")
