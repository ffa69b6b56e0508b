#!/usr/bin/env python3
"""`scalepath memory` takes train's --gbs and --grad-fp32 and counts what
train counts: the same total and gradients per GPU for a pipelined layout at
two global batches, with bf16 and with fp32 gradients; fp32 gradients take
twice the bytes of bf16 ones (4 B per trained parameter, not 2); and a
larger global batch, more micro-batches in flight on the first stage, more
activations (up to the pipeline's depth).
Usage: check_memory_options.py SCALEPATH"""
import re
import subprocess
import sys

exe = sys.argv[1]
base = ["-p", "platforms/dgx-h100.cfg", "-m", "workloads/models/llama3-8b.cfg", "--tp", "2", "--pp", "4",
        "--seq", "1024"]
bad = 0
got = {}
for gbs in ("2", "8"):
    for grad in ([], ["--grad-fp32"]):
        extra = ["--gbs", gbs] + grad
        mem = subprocess.run([exe, "memory"] + base + extra, capture_output=True, text=True, check=True).stdout
        tr = subprocess.run([exe, "train"] + base + extra, capture_output=True, text=True, check=True).stdout
        m = {k: float(re.search(k + r" +([0-9.]+) GB", mem).group(1)) for k in ("total", "gradients", "activations")}
        t_total = float(re.search(r"memory per GPU +([0-9.]+) GB", tr).group(1))
        t_grad = float(re.search(r"gradients ([0-9.]+)", tr).group(1))
        ok = m["total"] == t_total and m["gradients"] == t_grad and ("fp32 gradients" in mem) == bool(grad)
        print(f"{'ok' if ok else 'FAIL'} {' '.join(extra)}: memory {m['total']} GB (gradients {m['gradients']}), "
              f"train {t_total} GB (gradients {t_grad})")
        bad += not ok
        got[(gbs, bool(grad))] = m
for gbs in ("2", "8"):
    a, b = got[(gbs, False)]["gradients"], got[(gbs, True)]["gradients"]
    if abs(b - 2 * a) > 0.011:  # printed to 0.01 GB
        print(f"FAIL --gbs {gbs}: fp32 gradients {b} GB, not twice the bf16 {a} GB")
        bad += 1
# DP is 1: --gbs 2 is 2 micro-batches in flight on a 4-stage pipeline, --gbs 8 is 4.
if not got[("8", False)]["activations"] > got[("2", False)]["activations"]:
    print("FAIL: 8 micro-batches keep no more activations than 2:", got[("8", False)], got[("2", False)])
    bad += 1
sys.exit(1 if bad else 0)
