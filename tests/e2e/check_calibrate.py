#!/usr/bin/env python3
"""`scalepath calibrate` round trip: a log made from a simulated sweep with a
known distortion (t' = 12 us + 1.25 t) is fitted back to latency 12 and time
scale 1.25; the calibrated platform file it writes loads, and `scalepath
nccl` on it reproduces the log's times within 0.1%.
Usage: check_calibrate.py SCALEPATH OUTDIR"""
import os
import re
import subprocess
import sys

exe, outdir = sys.argv[1], sys.argv[2]
os.makedirs(outdir, exist_ok=True)
sweep = ["-p", "platforms/dgx-spark.cfg", "-n", "2", "-b", "8K", "-e", "256M", "-f", "4"]
sim = subprocess.run([exe, "nccl"] + sweep, capture_output=True, text=True, check=True).stdout
log = os.path.join(outdir, "measured.log")
with open(log, "w") as f:
    for line in sim.splitlines():
        if line.startswith("#") or not line.strip():
            f.write(line + "\n")
            continue
        c = line.split()
        t = 12.0 + 1.25 * float(c[5])
        c[5] = c[9] = f"{t:.2f}"
        f.write("  ".join(c) + "\n")
cal = os.path.join(outdir, "spark-calibrated.cfg")
r = subprocess.run([exe, "calibrate", "-p", "platforms/dgx-spark.cfg", "-n", "2", "--log", log, "-o", cal],
                   capture_output=True, text=True)
if r.returncode != 0:
    sys.exit(f"FAIL: calibrate exited {r.returncode}: {r.stderr}")
m = re.search(r"latency_us = ([0-9.]+), time_scale = ([0-9.]+)", r.stdout)
if not m or abs(float(m.group(1)) - 12.0) > 0.05 or abs(float(m.group(2)) - 1.25) > 0.001:
    sys.exit(f"FAIL: fit {m.groups() if m else r.stdout}")
again = subprocess.run([exe, "nccl", "-p", cal] + sweep[2:], capture_output=True, text=True, check=True).stdout
want = {int(l.split()[0]): float(l.split()[5]) for l in open(log) if l.strip() and not l.startswith("#")}
for line in again.splitlines():
    if line.startswith("#") or not line.strip():
        continue
    size, t = int(line.split()[0]), float(line.split()[5])
    if abs(t - want[size]) > 1e-3 * want[size]:
        sys.exit(f"FAIL: {size} B: calibrated {t} us, log {want[size]} us")
# A calibrated file is not calibrated again (the fit must start from the uncalibrated platform).
twice = subprocess.run([exe, "calibrate", "-p", cal, "-n", "2", "--log", log], capture_output=True, text=True)
if twice.returncode != 2 or "already calibrated" not in twice.stderr:
    sys.exit(f"FAIL: calibrating a calibrated file: exit {twice.returncode}, {twice.stderr}")
print(f"ok: fitted latency {m.group(1)} us, time scale {m.group(2)}; {len(want)} sizes reproduced")
