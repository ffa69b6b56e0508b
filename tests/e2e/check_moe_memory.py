#!/usr/bin/env python3
"""`scalepath memory` and `scalepath train` count the same memory per GPU for
a mixture of experts under every routing setting (imbalance, capacity,
padding), and the dispatched activations grow with the busiest rank's load.
Usage: check_moe_memory.py SCALEPATH"""
import re
import subprocess
import sys

exe = sys.argv[1]
base = ["-p", "platforms/dgx-h100.cfg", "-m", "workloads/models/mixtral-8x7b.cfg", "--ep", "4", "--zero", "1",
        "--seq", "2048"]
cases = [[], ["--moe-imbalance", "1.5"], ["--moe-imbalance", "1.5", "--moe-capacity", "1.25"],
         ["--moe-capacity", "2", "--moe-pad"]]
bad = 0
acts = []
for extra in cases:
    mem = subprocess.run([exe, "memory"] + base + extra, capture_output=True, text=True, check=True).stdout
    tr = subprocess.run([exe, "train"] + base + ["--gbs", "8"] + extra, capture_output=True, text=True,
                        check=True).stdout
    total_mem = float(re.search(r"total +([0-9.]+) GB", mem).group(1))
    total_tr = float(re.search(r"memory per GPU +([0-9.]+) GB", tr).group(1))
    act = float(re.search(r"activations +([0-9.]+) GB", mem).group(1))
    load_mem = re.search(r"hold ([0-9.]+) x the balanced", mem).group(1)
    load_tr = re.search(r"process ([0-9.]+) x the balanced", tr).group(1)
    ok = total_mem == total_tr and load_mem == load_tr
    print(f"{'ok' if ok else 'FAIL'} {' '.join(extra) or 'dropless, balanced'}: memory {total_mem} GB, "
          f"train {total_tr} GB; load {load_mem} / {load_tr}; activations {act} GB")
    bad += not ok
    acts.append(act)
# Loads 1, 1.5, 1.25, 2: activations in the same order.
if not (acts[0] < acts[2] < acts[1] < acts[3]):
    print("FAIL: activations do not follow the loads 1 < 1.25 < 1.5 < 2:", acts)
    bad += 1
sys.exit(1 if bad else 0)
