#!/usr/bin/env python3
"""The GEMM shapes to measure for a GPU's efficiency.gemm_shapes: every
distinct (m, n, k, precision) that `scalepath train --gemms` lists for the
benchmark cases on that GPU (bench/training_accuracy.py) and for the jobs of
the default study at the layouts its search visits (TP 1-8, micro-batch
1-4), in bf16 and fp8.

    python3 bench/gemm_shapes.py [--gpu H100-SXM] [--scalepath build/sim/scalepath] > shapes.txt

One line per shape: `m n k precision`, sorted. bench/gemm_measure.py
measures them on a GPU, and

    python3 bench/gemm_shapes.py --cfg MEASURED.csv...

turns its CSVs into efficiency.gemm_shapes entries for
platforms/include/gpus.cfg, the median of each shape's runs, and
--attention-cfg ATTENTION.csv... the attention_shapes entries."""
import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import training_accuracy  # noqa: E402  (the benchmark cases)

# The platforms whose first GPU is each catalogue model (for the study's jobs).
PLATFORM = {"H100-SXM": "platforms/dgx-h100.cfg"}
# The benchmark cases' platforms with that GPU.
CASE_PLATFORMS = {"H100-SXM": ("platforms/dgx-h100.cfg", "platforms/superpod-h100.cfg")}
# The default study's jobs (studies/default.cfg): model, mode, sequence.
JOBS = [("workloads/models/llama3-8b.cfg", "lora", 2048), ("workloads/models/llama3-70b.cfg", "qlora", 2048),
        ("workloads/models/llama3-8b.cfg", "full", 4096), ("workloads/models/llama3-8b.cfg", "full", 8192)]


def gemms(exe, args):
    p = subprocess.run([exe, "train"] + args + ["--gemms"], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    out = []
    for line in p.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = line.split()
        out.append((int(float(f[3])), int(float(f[4])), int(float(f[5])), f[2]))
    return out


def to_cfg(paths):
    """Entries from bench/gemm_measure.py's CSVs: for each shape the median
    of its valid measurements. A row is valid if it was timed in a CUDA
    graph, or took at least 50 us (without a graph, smaller calls time
    PyTorch's launch overhead rather than the kernel)."""
    got = {}
    for path in paths:
        for line in open(path):
            f = line.strip().split(",")
            if line.startswith("#") or len(f) < 6 or f[0] == "m":
                continue
            mode = f[6] if len(f) > 6 else "eager"
            if mode == "graph" or float(f[5]) >= 50.0:
                got.setdefault((int(f[0]), int(f[1]), int(f[2]), f[3]), []).append(float(f[4]))
    for (m, n, k, prec), v in sorted(got.items(), key=lambda x: (x[0][3], x[0][:3])):
        print(f'        {{ m = {m}; n = {n}; k = {k}; precision = "{prec}"; TFLOPs = {statistics.median(v):.1f}; }},')
    return 0


def to_attention_cfg(paths):
    """efficiency.attention_shapes entries from gemm_measure.py --attention
    CSVs (cuDNN rows): for each shape the median of the runs in which both
    passes took at least twice the file's launch-overhead row (128 tokens,
    1 head); shapes no run times above it are left out. Only rows with as
    many key/value heads as query heads count (files without a kv_heads
    column timed those): grouped-query attention ran at the same rates
    (bench/data/gemm/README.md), so the table has no such dimension."""
    got = {}
    for path in paths:
        cols = None
        rows = []
        for line in open(path):
            f = line.strip().split(",")
            if line.startswith("backend,"):
                cols = f
            elif line.startswith("cudnn,") and cols:
                rows.append(dict(zip(cols, f)))
        for r in rows:
            r.setdefault("kv_heads", r["heads"])
        floor = [r for r in rows if r["seq"] == "128" and r["heads"] == "1"]
        if not floor:
            continue
        f_us, b_us = float(floor[0]["fwd_us"]), float(floor[0]["bwd_us"])
        for r in rows:
            if r["kv_heads"] != r["heads"]:
                continue
            if r is not floor[0] and float(r["fwd_us"]) >= 2.0 * f_us and float(r["bwd_us"]) >= 2.0 * b_us:
                key = (int(r["seq"]), int(r["heads"]), int(r["head_dim"]))
                got.setdefault(key, []).append((float(r["fwd_TFLOPs"]), float(r["bwd_TFLOPs"])))
    for (seq, heads, d), v in sorted(got.items()):
        fwd, bwd = statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)
        print(f"        {{ seq = {seq}; heads = {heads}; head_dim = {d}; fwd_TFLOPs = {fwd:.1f}; "
              f"bwd_TFLOPs = {bwd:.1f}; }},")
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", default="H100-SXM")
    ap.add_argument("--scalepath", default="build/sim/scalepath")
    ap.add_argument("--cfg", metavar="MEASURED.csv", nargs="+")
    ap.add_argument("--attention-cfg", metavar="ATTENTION.csv", nargs="+")
    a = ap.parse_args(argv)
    if a.cfg:
        return to_cfg(a.cfg)
    if a.attention_cfg:
        return to_attention_cfg(a.attention_cfg)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    if a.gpu not in PLATFORM:
        ap.error(f"--gpu: no platform known for {a.gpu!r} (known: {', '.join(PLATFORM)}); add one to PLATFORM")
    plat = PLATFORM[a.gpu]
    runs = []
    for case in training_accuracy.CASES:
        args = case[5]
        if args[args.index("-p") + 1] not in CASE_PLATFORMS[a.gpu]:
            continue
        runs.append([x for x in args if x not in ("bf16", "fp8", "--precision")])
    for model, mode, seq in JOBS:
        tune = [] if mode == "full" else ["--finetune", mode]
        for tp in (1, 2, 4, 8):
            for mbs in (1, 2, 4):
                runs.append(["-p", plat, "-m", model, "--tp", str(tp), "--seq", str(seq), "--mbs", str(mbs)] + tune)
    shapes = set()
    for args in runs:
        for prec in ("bf16", "fp8"):
            got = gemms(a.scalepath, args + ["--precision", prec])
            if got is None:  # a layout the model refuses (TP over the heads, say)
                continue
            shapes.update(got)
    for m, n, k, prec in sorted(shapes, key=lambda s: (s[3], s[0], s[1], s[2])):
        print(m, n, k, prec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
