#!/usr/bin/env python3
"""Simulated against measured nccl-tests curves: each case runs
`scalepath nccl` over the sizes of a published log on the platform file
that describes the measured system, and prints, per size, the measured and
simulated busbw and time (with the algorithm and protocol chosen and NCCL's
own model time, `-v`), then the issue's acceptance figures:

  - from 1 MiB up: the median and the worst absolute busbw error
    (targets: median <= 10%, worst <= 25%);
  - below 64 KiB: the simulated time over the measured one
    (target: within a factor of 1.5 either way).

The logs are in bench/data/nccl-tests/, unchanged, each with its source,
system, NCCL version and settings in its '#' header lines. Nothing here is
fitted: every model parameter comes from the platform file.

Then in-network reduction (SHARP, NCCL's CollNet): a published summary of
peak all-reduce busbw at 16 GiB on 2 to 46 DGX B200-class nodes, with
CollNet enabled and NVLS disabled, and with Ring forced, against
`scalepath nccl --collnet` and `--algo Ring` on superpod-b200.

usage: bench/nccl_accuracy.py [--scalepath build/sim/scalepath] [-v]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data", "nccl-tests")

# A log of one thread driving 8 GPUs (nccl-tests -g 8) is simulated with
# that thread's 8 kernel launches per iteration (--gpus-per-thread 8, at
# the platform's measured nccl.launch_us).
G8 = ["--gpus-per-thread", "8"]

# (log, platform, nodes, collective, extra scalepath options, what differs)
CASES = [
    ("h100x8_allreduce_nvls.log", "dgx-h100.cfg", 1, "all_reduce", G8, "-g 8: one process drives 8 GPUs"),
    ("h100x8_allreduce_ring.log", "dgx-h100.cfg", 1, "all_reduce", ["--algo", "Ring"] + G8,
     "run with NCCL_ALGO=Ring; -g 8: one process drives 8 GPUs"),
    ("h100x8_allgather_nvls.log", "dgx-h100.cfg", 1, "all_gather", G8, "-g 8: one process drives 8 GPUs"),
    ("h100x8_reducescatter_nvls.log", "dgx-h100.cfg", 1, "reduce_scatter", G8,
     "-g 8: one process drives 8 GPUs"),
    ("h100x16_p5_allreduce.log", "superpod-h100.cfg", 2, "all_reduce", [],
     "measured over AWS EFA (32 x 100G per node); simulated over InfiniBand NDR (8 x 400G)"),
    ("b200x8_allreduce_abridged.log", "dgx-b200.cfg", 1, "all_reduce", [],
     "abridged table in its source"),
    ("spark2_allreduce_pr103_partial.log", "dgx-spark.cfg", 2, "all_reduce", [],
     "the first four rows of the run only"),
    ("h100x8_allreduce_g1_dgxc.log", "dgx-h100.cfg", 1, "all_reduce", [], "one process per GPU"),
    ("h100x16_ib_allreduce.log", "superpod-h100.cfg", 2, "all_reduce", [],
     "one process per GPU; Dell XE9680 nodes on InfiniBand NDR"),
    ("h100x16_ib_allreduce_ring.log", "superpod-h100.cfg", 2, "all_reduce", ["--algo", "Ring"],
     "run with NCCL_ALGO=Ring, NCCL_MIN_CTAS=24"),
    ("h100x32_ib_vm_allreduce.log", "superpod-h100.cfg", 4, "all_reduce", [],
     "virtual machines with a custom topology file"),
    ("b200x16_ib_allreduce.log", "dgx-b200.cfg", 2, "all_reduce", [], "Lambda B200 nodes on InfiniBand"),
    ("b200x16_ib_sendrecv.log", "dgx-b200.cfg", 2, "sendrecv", [],
     "Together AI B200 nodes on InfiniBand; the ring crosses the network twice, one NIC each"),
    ("b200x32_ib_sendrecv.log", "dgx-b200.cfg", 4, "sendrecv", [],
     "the same cluster, 4 nodes; the ring crosses the network four times, one NIC each"),
    ("spark2_allgather_route179.log", "dgx-spark.cfg", 2, "all_gather", [], "512 MiB and up only"),
    ("h100x8_allreduce_g1_c02.log", "dgx-h100.cfg", 1, "all_reduce", [], "one process per GPU; 32 MiB and up"),
    ("h100x8_allgather_g1_c02.log", "dgx-h100.cfg", 1, "all_gather", [], "the same job"),
    ("h100x8_reducescatter_g1_c02.log", "dgx-h100.cfg", 1, "reduce_scatter", [], "the same job"),
    ("h100x8_alltoall_g1_c02.log", "dgx-h100.cfg", 1, "alltoall", [], "the same job"),
    ("h100x8_sendrecv_g1_c02.log", "dgx-h100.cfg", 1, "sendrecv", [], "the same job; a ring over NVLink"),
]

# size, count, type, redop, root, then out-of-place time, algbw, busbw ...
OOP = r"^\s*(\d+)\s+(\d+)\s+(\w+)\s+(\w+|none)\s+(-?\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
ROW_OOP = re.compile(OOP)
# ... #wrong, then in-place time, algbw, busbw
ROW = re.compile(OOP + r"\s+(?:\d+|N/A)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")


def read_log(path):
    """Rows (size B, time us, busbw GB/s) of an nccl-tests log; mpirun's
    '[r,c]<stdout>:' tags are dropped. nccl-tests times each size twice, out
    of place and in place; the faster of the two is kept, which drops
    one-off stalls (68 us among 13-15 us neighbours in one log). Abridged
    logs with the out-of-place columns only keep those."""
    rows = []
    with open(path) as f:
        for line in f:
            line = re.sub(r"\[\d+,\d+\]<stdout>:", "", line)
            if line.lstrip().startswith("#"):
                continue
            m = ROW.match(line)
            if m and int(m.group(1)) > 0:
                t, bw = float(m.group(6)), float(m.group(8))
                if float(m.group(9)) < t:
                    t, bw = float(m.group(9)), float(m.group(11))
                rows.append((int(m.group(1)), t, bw))
                continue
            m = ROW_OOP.match(line)
            if m and int(m.group(1)) > 0:
                rows.append((int(m.group(1)), float(m.group(6)), float(m.group(8))))
    return rows


def simulate(exe, platform, nodes, coll, sizes, extra):
    """Simulated (time us, busbw GB/s, algorithm/protocol, NCCL's model time us) per size."""
    out = {}
    lo, hi = min(sizes), max(sizes)
    cmd = [exe, "nccl", "-p", os.path.join(ROOT, "platforms", platform), "-n", str(nodes),
           "-c", coll, "-b", str(lo), "-e", str(hi), "-f", "2", "-v"] + extra
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        sys.exit("%s failed:\n%s" % (" ".join(cmd), res.stderr))
    for line in res.stdout.splitlines():
        if line.startswith("#"):
            continue
        f = line.split()
        if len(f) >= 18 and f[0].isdigit():
            out[int(f[0])] = (float(f[5]), float(f[7]), f[13] + "/" + f[14], f[17])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scalepath", default=os.path.join(ROOT, "build", "sim", "scalepath"))
    ap.add_argument("-v", action="store_true", help="print every size")
    a = ap.parse_args()

    for log, platform, nodes, coll, extra, note in CASES:
        rows = read_log(os.path.join(DATA, log))
        if not rows:
            sys.exit("%s: no nccl-tests rows" % log)
        sim = simulate(a.scalepath, platform, nodes, coll, [r[0] for r in rows], extra)
        big, small = [], []
        print("== %s: %s, %d node(s), %s %s%s" % (log, platform, nodes, coll, " ".join(extra),
                                                   ("  [" + note + "]") if note else ""))
        if a.v:
            print("%14s %10s %10s %9s %9s %7s  %-15s %9s" % ("size_B", "meas_us", "sim_us", "meas_GBps",
                                                             "sim_GBps", "err", "algo/proto", "nccl_us"))
        for size, t, bw in rows:
            if size not in sim:
                continue
            st, sbw, algo, model_us = sim[size]
            err = (sbw / bw - 1.0) if bw > 0 else float("nan")
            if size >= 1 << 20:
                big.append(abs(err))
            if size < 64 << 10:
                small.append(st / t)
            if a.v:
                print("%14d %10.2f %10.2f %9.2f %9.2f %+6.1f%%  %-15s %9s" % (size, t, st, bw, sbw, 100 * err,
                                                                          algo, model_us))
        line = []
        if big:
            med, worst = statistics.median(big), max(big)
            line.append("busbw >= 1 MiB: median |err| %.1f%%, worst %.1f%% (%d sizes)%s" %
                        (100 * med, 100 * worst, len(big),
                         "" if med <= 0.10 and worst <= 0.25 else "  MISSES the target"))
        if small:
            lo, hi = min(small), max(small)
            line.append("time < 64 KiB: simulated/measured %.2f-%.2f (%d sizes)%s" %
                        (lo, hi, len(small),
                         "" if lo >= 1 / 1.5 and hi <= 1.5 else "  MISSES the target"))
        for l in line:
            print("   " + l)
    sharp(a.scalepath)
    return 0


def sharp(exe):
    """Peak busbw at 16 GiB with SHARP (CollNet on, NVLS off) and with Ring,
    per node count (bench/data/nccl-tests/b200_sharp_peaks.txt)."""
    rows = []
    with open(os.path.join(DATA, "b200_sharp_peaks.txt")) as fp:
        for line in fp:
            if line.strip() and not line.startswith("#"):
                n, c, r = line.split()
                rows.append((int(n), float(c), float(r)))
    size = 16 << 30
    print("== b200_sharp_peaks.txt: superpod-b200, all_reduce 16 GiB, CollNet on and NVLS off "
          "(--collnet --algo Ring,Tree,CollnetDirect,CollnetChain) / Ring")
    print("%6s %10s %10s %7s %-22s %10s %10s %7s" % ("nodes", "sharp", "sim", "err", "sim algo/proto",
                                                     "ring", "sim", "err"))
    errs = []
    for nodes, meas_c, meas_r in rows:
        c = simulate(exe, "superpod-b200.cfg", nodes, "all_reduce", [size],
                     ["--collnet", "--algo", "Ring,Tree,CollnetDirect,CollnetChain"])[size]
        r = simulate(exe, "superpod-b200.cfg", nodes, "all_reduce", [size], ["--algo", "Ring"])[size]
        ec, er = c[1] / meas_c - 1.0, r[1] / meas_r - 1.0
        errs.append(abs(ec))
        print("%6d %10.1f %10.1f %+6.1f%% %-22s %10.1f %10.1f %+6.1f%%" % (nodes, meas_c, c[1], 100 * ec, c[2],
                                                                         meas_r, r[1], 100 * er))
    print("   CollNet: median |err| %.1f%%, worst %.1f%% (%d node counts; one size each, not a curve)" %
          (100 * statistics.median(errs), 100 * max(errs), len(errs)))


if __name__ == "__main__":
    sys.exit(main())
