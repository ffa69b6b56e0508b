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

The HDF5 file's /emulate/mpi table has a row for each (the message and the
8-byte reply, each exchange) with the time the program measured, and the
timeline a slice of that length on each of its processes' MPI rows, the
same bytes in a second run; on the DGX H100 the table is empty and the
timeline has no MPI row.

Two processes per DGX H100 on two nodes: the same rows and times, each on
its process's track (named with its node). tests/data/emu/mpi_p2p.c on four
Sparks: its messages at once on rows of their own, none overlapping.

usage: check_mpi_time.py SCALEPATH MPI_TIME.so MPI_P2P.so OUTDIR
"""
import json
import os
import re
import sys

import h5py

from sp_check import fail, run, s


def times(cmd):
    out = run(cmd)
    if "mpi_time: ok" not in out:
        fail("%s:\n%s" % (" ".join(cmd), out))
    return {k: float(v) for k, v in re.findall(r"^(\w+) ([\d.]+)$", out, re.M)}


def recorded(h5, js, nprocs, node_of):
    """The /emulate/mpi rows as (op, src, dst, processes, bytes, seconds, comm, root),
    after checking that the timeline has a slice of that length on each of
    its processes' tracks (named with its node, node_of(process)), on a row
    named MPI, no two overlapping on a row, and no other MPI slice."""
    with h5py.File(h5, "r") as f:
        g = f["emulate/mpi"]
        if s(g["start"].attrs["units"]) != "s" or s(g["bytes"].attrs["units"]) != "B":
            fail("/emulate/mpi units")
        rows = [(s(o), int(a), int(b), int(p), int(y), float(t1) - float(t0), float(t0), int(c), int(r))
                for o, a, b, p, y, t0, t1, c, r in
                zip(g["op"][()], g["src"][()], g["dst"][()], g["processes"][()], g["bytes"][()], g["start"][()],
                    g["end"][()], g["comm"][()], g["root"][()])]
    with open(js) as f:
        ev = json.load(f)["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in ev if e.get("name") == "process_name"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e.get("name") == "thread_name"}
    mpi = [e for e in ev if e.get("ph") == "X" and e.get("cat") == "mpi"]
    on_row = {}
    for e in mpi:
        if not re.fullmatch(r"MPI( \d+)?", threads.get((e["pid"], e["tid"]), "")):
            fail("an MPI slice on the row %r" % threads.get((e["pid"], e["tid"])))
        on_row.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for row, spans in on_row.items():
        spans.sort()
        if any(b[0] < a[1] - 1e-3 for a, b in zip(spans, spans[1:])):
            fail("MPI slices overlap on %s's row %s" % (names[row[0]], threads[row]))
    slices = sorted((names[e["pid"]], e["name"], e["ts"], e["dur"]) for e in mpi)
    track = {q: "process %d (node %d)" % (q, node_of(q)) for q in range(nprocs)}
    want = []
    for o, a, b, p, y, dt, t0, c, r in rows:
        if o == "message":
            want += [(track[a], "MPI message to process %d" % b, t0, dt),
                     (track[b], "MPI message from process %d" % a, t0, dt)]
        elif p == nprocs:  # on the world: process q is rank q
            want += [(track[q], o, t0, dt) for q in range(p)]
        else:
            fail("an exchange on a communicator of %d of the %d processes: not expected here" % (p, nprocs))
    want.sort()
    if len(slices) != len(want) or any(g[:2] != w[:2] or abs(g[2] - w[2] * 1e6) > 1e-3 or
                                       abs(g[3] - w[3] * 1e6) > 2e-3 for g, w in zip(slices, want)):
        fail("the timeline's MPI slices %s, want %s" % (slices[:8], want[:8]))
    print("%s: %d rows in /emulate/mpi, %d MPI slices on %d row(s) of the timeline" %
          (os.path.basename(h5), len(rows), len(slices), len(on_row)))
    return [r[:6] + r[7:] for r in rows]


def check_times(rows, t, n, z):
    """The rows are the message, its 8-byte reply and each exchange, each
    as long as the program measured it."""
    ops = {"MPI_Allreduce": "allreduce", "MPI_Allgather": "allgather", "MPI_Bcast": "bcast", "MPI_Reduce": "reduce",
           "MPI_Gather": "gather", "MPI_Scatter": "scatter"}
    if [r[:5] for r in rows[:2]] != [("message", 0, n - 1, 2, z), ("message", n - 1, 0, 2, 8)]:
        fail("/emulate/mpi's messages: %s" % rows[:2])
    if sorted(ops.get(r[0]) for r in rows[2:]) != sorted(k for k in t if k != "sendrecv") or \
            any(r[1:5] != (-1, -1, n, z) for r in rows[2:]):
        fail("/emulate/mpi's exchanges: %s" % rows[2:])
    roots = {"MPI_Bcast": 1, "MPI_Reduce": 1, "MPI_Gather": 0, "MPI_Scatter": 0}  # as mpi_time.c calls them
    if any(r[6:] != (1, roots.get(r[0], -1)) for r in rows):  # all on MPI_COMM_WORLD
        fail("/emulate/mpi's comm and root columns: %s" % [(r[0],) + r[6:] for r in rows])
    for r in rows[:1] + rows[2:]:  # the program's clock saw the same (it prints whole nanoseconds)
        k = ops.get(r[0], "sendrecv")
        if abs(r[5] - t[k]) > 0.6e-9:
            fail("/emulate/mpi: %s took %.9f s, the program measured %.9f s" % (r[0], r[5], t[k]))


exe, prog, p2p, out = sys.argv[1:5]
os.makedirs(out, exist_ok=True)
h5, js = os.path.join(out, "mpi_time.h5"), os.path.join(out, "mpi_time.json")
z, n = 8 << 20, 4
with open("platforms/dgx-spark-switch.cfg") as f:
    bw = float(re.search(r"host_bandwidth_GBps\s*=\s*([\d.]+)", f.read()).group(1)) * 1e9
t = times([exe, "emulate", "-p", "platforms/dgx-spark-switch.cfg", "-n", str(n), "--ppn", "1", "-o", h5,
           "--timeline", js, prog, str(z)])
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
check_times(recorded(h5, js, n, lambda q: q), t, n, z)
# Same inputs, same bytes: the file and the timeline.
with open(h5, "rb") as f1, open(js, "rb") as f2:
    first = (f1.read(), f2.read())
times([exe, "emulate", "-p", "platforms/dgx-spark-switch.cfg", "-n", str(n), "--ppn", "1", "-o", h5,
       "--timeline", js, prog, str(z)])
with open(h5, "rb") as f1, open(js, "rb") as f2:
    if (f1.read(), f2.read()) != first:
        fail("the same run twice wrote different files")
t = times([exe, "emulate", "-p", "platforms/dgx-h100.cfg", "--ppn", "2", "-o", h5, "--timeline", js, prog, str(z)])
if any(v != 0.0 for v in t.values()):
    fail("within one node MPI took time: %s" % t)
if recorded(h5, js, 2, lambda q: 0):
    fail("within one node, /emulate/mpi has rows")
# Two processes per node of 8 GPUs: process q on node q // 2.
t = times([exe, "emulate", "-p", "platforms/dgx-h100.cfg", "-n", "2", "--ppn", "2", "-o", h5, "--timeline", js, prog,
           str(z)])
check_times(recorded(h5, js, n, lambda q: q // 2), t, n, z)
# Messages at once: mpi_p2p.c's non-blocking sends and receives, each process's on rows of their own.
run([exe, "emulate", "-p", "platforms/dgx-spark-switch.cfg", "-n", str(n), "--ppn", "1", "-o", h5, "--timeline", js,
     p2p])
if len(recorded(h5, js, n, lambda q: q)) < 2 * n:
    fail("mpi_p2p.c moved fewer messages between nodes than expected")
print("1 x DGX H100, 2 processes: no time")
