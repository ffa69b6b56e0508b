#!/usr/bin/env python3
"""Lab 7 (docs/labs/lab7-nccl-programs.md) states these figures; the lab's
text must change if they stop holding. Each comes from running the lab's
programs with `scalepath emulate`:
- 64 MiB all-reduce busbw, the launches' host time counted: one DGX H100
  378.5 GB/s (NVLS), 280.65 GB/s under NCCL_ALGO=Ring; two Sparks 23.49
  and four RTX 3090s 23.64, within 1% of each other;
- NCCL moves from Ring/LL to NVLS between 1 MiB and 2 MiB on the H100 node;
- overlap.c on two Sparks saves 15.2% at 8,192 tokens and 39.5% at 2,048
  (16.6% and 43.1% with --sm-contention off), and on two DGX H100 nodes
  less than on two Sparks;
- memcpy_perf.c: H100 55.1 GB/s page-locked and 14.3 pageable at 256 MiB,
  2.28 us for 4 KiB, half its peak between 64 and 256 KiB; Spark 109.2
  GB/s either way; RTX 3090 24.9.
Usage: check_lab7.py SCALEPATH ALLREDUCE_PERF.so OVERLAP.so [MEMCPY_PERF.so or .c]"""
import re
import subprocess
import sys

from sp_check import fail


exe, perf, overlap = sys.argv[1:4]


def emulate(args, env=None):
    import os
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([exe, "emulate"] + args, capture_output=True, text=True, env=e)
    if p.returncode != 0:
        fail("emulate %s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p.stdout


def busbw(platform, nodes="1", env=None):
    out = emulate(["-p", platform, "-n", nodes, perf, "64M", "64M"], env)
    m = re.search(r"^\s+67108864\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+0\s*$", out, re.M)
    if m is None:
        fail("no 64 MiB row (or wrong elements) on %s:\n%s" % (platform, out))
    return float(m.group(1))


def near(got, want, tol, what):
    if abs(got - want) > tol:
        fail("%s: %.2f, the lab says %.1f" % (what, got, want))


h100 = busbw("platforms/dgx-h100.cfg")
ring = busbw("platforms/dgx-h100.cfg", env={"NCCL_ALGO": "Ring"})
spark = busbw("platforms/dgx-spark.cfg", "2")
rtx = busbw("platforms/rtx3090-x4.cfg")
near(h100, 378.5, 0.05, "H100 NVLS busbw")
near(ring, 280.65, 0.05, "H100 Ring busbw")
near(spark, 23.49, 0.005, "two Sparks busbw")
near(rtx, 23.64, 0.005, "4x RTX 3090 busbw")
if abs(spark - rtx) > 0.01 * rtx:
    fail("Sparks %.2f and RTX 3090s %.2f are not within 1%%" % (spark, rtx))

out = emulate(["-p", "platforms/dgx-h100.cfg", perf, "1M", "2M"])
algos = re.findall(r"^\s+AllReduce\s+\d+\s+\d+\s+\d+\s+-\s+(\d+)\s+(\S+)\s+(\S+)", out, re.M)
if [(int(b), a, p) for b, a, p in algos] != [(1048576, "Ring", "LL"), (2097152, "NVLS", "Simple")]:
    fail("the switch to NVLS is not between 1 and 2 MiB: %s" % algos)


def saved(platform, nodes, *args):
    opts = [a for a in args if a.startswith("--") or a in ("on", "off")]
    rest = [a for a in args if a not in opts]
    out = emulate(["-p", platform, "-n", nodes, "--no-data"] + opts + [overlap] + rest)
    m = re.search(r"\(([\d.]+)% less\)", out)
    if m is None:
        fail("overlap printed nothing on %s" % platform)
    return float(m.group(1))


def saved_both(*args):
    return saved(*args), saved(args[0], args[1], "--sm-contention", "off", *args[2:])


(s8k, s8k_off) = saved_both("platforms/dgx-spark.cfg", "2")
(s2k, s2k_off) = saved_both("platforms/dgx-spark.cfg", "2", "16", "4096", "2048")
h8k = saved("platforms/dgx-h100.cfg", "2")
near(s8k, 15.2, 0.05, "overlap saving on two Sparks at 8,192 tokens (%)")
near(s2k, 39.5, 0.05, "overlap saving on two Sparks at 2,048 tokens (%)")
near(s8k_off, 16.6, 0.05, "the same without SM contention (%)")
near(s2k_off, 43.1, 0.05, "the same at 2,048 tokens without SM contention (%)")
if not h8k < s8k:
    fail("two DGX H100 nodes save %.1f%%, not less than two Sparks' %.1f%%" % (h8k, s8k))
print("lab 7: H100 %.1f (Ring %.1f), Sparks %.2f, RTX 3090 %.2f GB/s; overlap %.1f%% / %.1f%%, H100 %.1f%%"
      % (h100, ring, spark, rtx, s8k, s2k, h8k))

# Section 6: host copies (columns: bytes, then us and GB/s for h2d pinned,
# d2h pinned, h2d pageable, d2h pageable, d2d, memset).
memcpy = sys.argv[4] if len(sys.argv) > 4 else "workloads/emu/memcpy_perf.c"


def copies(platform):
    out = emulate(["-p", platform, memcpy])
    return {int(f[0]): [float(x) for x in f[1:]] for f in (line.split() for line in out.splitlines())
            if f and f[0].isdigit()}


h = copies("platforms/dgx-h100.cfg")
near(h[256 << 20][1], 55.1, 0.05, "H100 page-locked GB/s")
near(h[256 << 20][5], 14.3, 0.05, "H100 pageable GB/s")
near(h[4096][0], 2.28, 0.005, "H100 4 KiB copy (us)")
if not (h[64 << 10][1] < 55.1 / 2 < h[256 << 10][1]):
    fail("H100 half-peak not between 64 and 256 KiB: %s" % [(b, v[1]) for b, v in sorted(h.items())])
sp = copies("platforms/dgx-spark.cfg")
near(sp[256 << 20][1], 109.2, 0.05, "Spark copy GB/s")
near(sp[256 << 20][5], 109.2, 0.05, "Spark pageable copy GB/s")
near(copies("platforms/rtx3090-x4.cfg")[256 << 20][1], 24.9, 0.05, "RTX 3090 copy GB/s")
print("lab 7 copies: H100 %.1f / %.1f GB/s, %.2f us; Spark %.1f" % (h[256 << 20][1], h[256 << 20][5], h[4096][0],
                                                                  sp[256 << 20][1]))
