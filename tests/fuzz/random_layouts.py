#!/usr/bin/env python3
"""Random training layouts through `scalepath train`, deterministic (fixed seed).

Usage: random_layouts.py SCALEPATH SOURCE_ROOT WORK_DIR RUNS [SEED]

Each run draws a model (small ones, short sequences: each simulation takes
about a second), a shipped platform and node count, parallel sizes that
mostly divide its GPUs (sometimes not), and a handful of the other options
(ZeRO, micro-batches, recompute, LoRA/QLoRA, FP8, Adam, MoE routing, CP's
exchange, SM contention, NCCL's algorithm and protocol, TP overlap, ...),
some of which do not go together. Whatever the draw:

- the run exits 0, or 2 with "error:" said and no output file left (-o),
  and leaves no temporary one (.partial) either way;
- no sanitizer report (under the ASan+UBSan build);
- a run that succeeds accounts for its whole step: on every pipeline
  stage, compute, the exposed communication, the pipeline wait and the
  rest add up to the step time (to the printed 0.01 ms); tokens/s is the
  step's tokens over its time; and `scalepath memory` with the same layout
  counts the same memory per GPU.

A failing draw is printed as the command to reproduce it.
"""
import os
import random
import re
import subprocess
import sys

MODELS = ["gpt-354m", "te-decoder-973m", "llama3-8b", "qwen3-30b-a3b", "mixtral-8x7b"]
MOE = {"qwen3-30b-a3b", "mixtral-8x7b"}
# platform, node counts, GPUs per node
PLATFORMS = [("dgx-h100", [1, 2], 8), ("dgx-spark", [1, 2], 1), ("dgx-spark-switch", [2, 4], 1),
             ("superpod-h100", [2], 8), ("dgx-b200", [1], 8), ("rtx3090-x4", [1], 4), ("dgx-station", [1], 1),
             ("gb200-nvl72", [1], 72)]
# options train and memory share (the rest are train's alone)
MEMORY_OPTS = {"--tp", "--pp", "--cp", "--ep", "--vpp", "--zero", "--mbs", "--seq", "--gbs", "--microbatches",
               "--recompute", "--finetune", "--lora-rank", "--lora-targets", "--lora-dropout", "--precision",
               "--adam", "--loss", "--moe-imbalance", "--moe-capacity", "--no-flash", "--fp8-params",
               "--no-weight-cache", "--moe-pad", "--grad-fp32", "-p", "-n", "-m"}
FLAGS = {"--no-flash", "--fp8-params", "--no-weight-cache", "--moe-pad", "--grad-fp32", "--tp-overlap", "--lora-a2a",
         "--collnet"}


def draw(r):
    model = r.choice(MODELS)
    plat, nodes, gpn = r.choice(PLATFORMS)
    n = r.choice(nodes)
    a = ["-p", f"platforms/{plat}.cfg", "-n", str(n), "-m", f"workloads/models/{model}.cfg"]
    left = gpn * n
    for name, vals, prob in (("--tp", [1, 2, 4, 8], 0.5), ("--pp", [2, 3, 4], 0.4), ("--cp", [2, 4], 0.15)):
        if r.random() < prob:
            fit = [v for v in vals if left % v == 0]
            if r.random() < 0.04:  # now and then whatever does not divide
                a += [name, str(r.choice(vals))]
            elif fit:
                v = r.choice(fit)
                left //= v
                a += [name, str(v)]
    if model in MOE and r.random() < 0.5:
        a += ["--ep", str(r.choice([v for v in (1, 2, 4, 8) if left % v == 0] or [2]))]
    if "--pp" in a and r.random() < 0.3:
        a += ["--vpp", str(r.choice([2, 3]))]
    a += ["--seq", str(r.choice([256, 512, 1024]))]

    def opt(name, vals, prob):
        if r.random() < prob:
            a.extend([name, str(r.choice(vals))])

    if r.random() < 0.5:
        opt("--gbs", [left * k for k in (2, 4, 8)] + [3], 1.0)
    else:
        opt("--microbatches", [1, 2, 4, 8], 0.6)
    opt("--zero", [0, 1, 2, 3], 0.5)
    opt("--mbs", [1, 2], 0.2)
    opt("--recompute", ["none", "selective", "full"], 0.2)
    opt("--finetune", ["full", "lora", "qlora"], 0.3)
    if "--finetune" in a and a[a.index("--finetune") + 1] != "full":
        opt("--lora-rank", [8, 16, 64], 0.3)
        opt("--lora-targets", ["attention", "mlp", "qkv,proj", "all", "q,v"], 0.3)
        opt("--lora-dropout", [0.0, 0.1], 0.3)
    opt("--precision", ["bf16", "fp8", "fp4"], 0.25)
    if "fp8" in a:
        for f in ("--fp8-params", "--no-weight-cache"):
            if r.random() < 0.3:
                a.append(f)
    opt("--adam", ["fp32", "bf16", "int8", "pure-bf16"], 0.2)
    opt("--loss", ["fused", "unfused"], 0.15)
    if model in MOE:
        opt("--moe-imbalance", [1.0, 1.5, 2.0], 0.3)
        opt("--moe-capacity", [1.0, 1.25], 0.3)
        if "--moe-capacity" in a and r.random() < 0.5:
            a.append("--moe-pad")
    opt("--cp-comm-type", ["all_gather", "p2p", "a2a"], 0.5 if "--cp" in a else 0.03)
    opt("--sm-contention", ["on", "off"], 0.15)
    opt("--algo", ["Ring", "Tree", "NVLS", "Ring,Tree"], 0.1)
    opt("--proto", ["Simple", "LL", "LL128"], 0.1)
    opt("--fold", ["auto", "on", "off"], 0.1)
    for f in ("--tp-overlap", "--grad-fp32", "--collnet", "--no-flash"):
        if r.random() < 0.08:
            a.append(f)
    if r.random() < (0.2 if "lora" in " ".join(a) else 0.02):
        a.append("--lora-a2a")
    return a


def memory_args(a):
    """The options of a that `scalepath memory` takes."""
    out, i = [], 0
    while i < len(a):
        takes = a[i] not in FLAGS
        if a[i] in MEMORY_OPTS:
            out += a[i:i + 1 + takes]
        i += 1 + takes
    return out


def check_success(exe, root, a, out):
    """What a successful run must account for; a list of problems."""
    bad = []
    step = float(re.search(r"step time +([0-9.]+) ms", out).group(1))
    tokens = float(re.search(r"; ([0-9]+) tokens per step", out).group(1))
    tps = float(re.search(r"tokens/s +([0-9]+)", out).group(1))
    if abs(tokens / (step / 1e3) - tps) > max(1.0, 2e-4 * tps):
        bad.append(f"tokens/s {tps} is not {tokens} tokens over {step} ms")
    rows = re.findall(r"^ +[0-9]+ +[0-9]+((?: +[0-9.]+){7})$", out, re.M)
    if not rows:
        bad.append("no per-stage breakdown")
    for row in rows:
        parts = [float(x) for x in row.split()]
        if abs(sum(parts) - step) > 0.01 + 1e-6 * step:
            bad.append(f"a stage's breakdown {parts} adds up to {sum(parts):.3f} ms, not the step's {step} ms")
    total = float(re.search(r"memory per GPU +([0-9.]+) GB", out).group(1))
    m = subprocess.run([exe, "memory"] + memory_args(a), capture_output=True, text=True, cwd=root)
    got = re.search(r"total +([0-9.]+) GB", m.stdout)
    if m.returncode != 0 or got is None or float(got.group(1)) != total:
        bad.append(f"scalepath memory says {got.group(1) if got else m.stderr.strip()[-200:]}, train {total} GB")
    if "Sanitizer" in m.stderr or "runtime error:" in m.stderr:
        bad.append("sanitizer report from scalepath memory")
    return bad


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    exe, root, work, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    r = random.Random(int(sys.argv[5]) if len(sys.argv) == 6 else 1)
    os.makedirs(work, exist_ok=True)
    failed = ran = 0
    for i in range(runs):
        a = draw(r)
        h5 = os.path.join(work, f"layout-{i}.h5")
        if os.path.exists(h5):
            os.remove(h5)
        p = subprocess.run([exe, "train"] + a + ["-o", h5], capture_output=True, text=True, cwd=root, timeout=600)
        problems = []
        if p.returncode == 0:
            ran += 1
            if not os.path.exists(h5):
                problems.append("no output file")
            problems += check_success(exe, root, a, p.stdout)
        elif p.returncode == 2:
            if "error:" not in p.stderr:
                problems.append("exit 2 without an error message")
            if os.path.exists(h5):
                problems.append("an output file left by a run that failed")
        else:
            problems.append(f"exit status {p.returncode}")
        if os.path.exists(h5 + ".partial"):
            problems.append("a temporary output file left behind")
        for s in ("Sanitizer", "runtime error:"):
            if s in p.stderr:
                problems.append("sanitizer report")
        if problems:
            failed += 1
            print(f"FAIL: scalepath train {' '.join(a)} -o {h5}")
            for x in problems:
                print("   ", x)
            print("   ", "\n    ".join(p.stderr.strip().splitlines()[-6:]))
    print(f"{runs} layouts drawn, {ran} simulated, {runs - ran} refused; {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
