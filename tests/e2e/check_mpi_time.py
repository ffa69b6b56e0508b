#!/usr/bin/env python3
"""MPI's data between nodes takes the network's time, as docs/emulation.md
("MPI's time") says, and none within a node.

tests/data/emu/mpi_time.c on four DGX Sparks behind a switch, one process
each: the message of z bytes arrives at the platform's bottleneck, the
Spark's PCIe link to its NIC (host_bandwidth_GBps in the platform file);
each exchange takes the bytes the docs' table says it moves on that link
(n = 4 processes, every ring edge and every flow to or from the root on a
link of its own or, for the root's, one after another): all-reduce,
broadcast and reduce 2(n-1)/n z, all-gather, gather and scatter (n-1) z.
On one DGX H100 with two processes everything takes no time.

usage: check_mpi_time.py SCALEPATH MPI_TIME.so
"""
import re
import sys

from sp_check import fail, run


def times(cmd):
    out = run(cmd)
    if "mpi_time: ok" not in out:
        fail("%s:\n%s" % (" ".join(cmd), out))
    return {k: float(v) for k, v in re.findall(r"^(\w+) ([\d.]+)$", out, re.M)}


exe, prog = sys.argv[1:3]
z, n = 8 << 20, 4
with open("platforms/dgx-spark-switch.cfg") as f:
    bw = float(re.search(r"host_bandwidth_GBps\s*=\s*([\d.]+)", f.read()).group(1)) * 1e9
t = times([exe, "emulate", "-p", "platforms/dgx-spark-switch.cfg", "-n", str(n), "--ppn", "1", prog, str(z)])
want = {"sendrecv": 1.0, "allreduce": 2.0 * (n - 1) / n, "allgather": n - 1.0, "bcast": 2.0 * (n - 1) / n,
        "reduce": 2.0 * (n - 1) / n, "gather": n - 1.0, "scatter": n - 1.0}
if sorted(t) != sorted(want):
    fail("the program timed %s" % sorted(t))
for k, f in sorted(want.items()):
    w = f * z / bw
    # the route's latency (cables, switch) is all that may add
    if not w <= t[k] <= w * (1 + 1e-4):
        fail("%s of %d bytes on 4 Sparks: %.9f s, want %.9f s (%.2f z at %.1f GB/s)" % (k, z, t[k], w, f, bw / 1e9))
print("4 x DGX Spark: " + ", ".join("%s %.3f ms" % (k, v * 1e3) for k, v in sorted(t.items())))
t = times([exe, "emulate", "-p", "platforms/dgx-h100.cfg", "--ppn", "2", prog, str(z)])
if any(v != 0.0 for v in t.values()):
    fail("within one node MPI took time: %s" % t)
print("1 x DGX H100, 2 processes: no time")
