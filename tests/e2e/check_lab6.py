#!/usr/bin/env python3
"""Lab 6 (docs/labs/lab6-scaling.md) asks about these, from the study's HDF5
output; the lab's text must change if they stop holding:
- up to one sequence per GPU (256 GPUs), the best layout is data
  parallelism alone, at a scaling efficiency (tokens/s per GPU over the
  8-GPU figure) of at least 95%, and one run's energy within 5% of 8 GPUs';
  its ZeRO stage 1 or 2 on 8 GPUs (many micro-batches per step: the
  parameters gathered once, after the optimizer) and 3 on 256 (one: that
  gather, whose size does not shrink with DP, would be exposed whole);
- beyond it, DP stays at 256 and TP takes the rest; at 1,024 GPUs the MFU
  is at least 10 points below 256 GPUs', the efficiency under 85%, the
  energy at least 20% higher, and the exposed data-parallel share of the
  step at least three times the 256-GPU one.
Usage: check_lab6.py LAB6.h5"""
import sys

import h5py

from sp_check import fail


def main():
    f = h5py.File(sys.argv[1], "r")
    c, o = f["study/configs"], f["study/outcomes"]
    rows = {int(c["gpus"][i]): i for i in range(len(c["gpus"]))}
    if sorted(rows) != [8, 16, 32, 64, 128, 256, 512, 1024]:
        fail(f"rungs of {sorted(rows)} GPUs")
    per_gpu = {g: c["tokens_per_s"][i] / g for g, i in rows.items()}
    share_dp = {g: c["exposed_dp"][i] / c["step_time"][i] for g, i in rows.items()}
    for g in (8, 16, 32, 64, 128, 256):
        i = rows[g]
        if (c["tp"][i], c["pp"][i], c["dp"][i]) != (1, 1, g) or c["zero"][i] < 1:
            fail(f"{g} GPUs: TP{c['tp'][i]} PP{c['pp'][i]} DP{c['dp'][i]} Z{c['zero'][i]}, not sharded DP alone")
        if per_gpu[g] < 0.95 * per_gpu[8]:
            fail(f"{g} GPUs: scaling efficiency {per_gpu[g] / per_gpu[8]:.3f} < 0.95")
        if abs(o["energy"][i] / o["energy"][rows[8]] - 1) > 0.05:
            fail(f"{g} GPUs: energy {o['energy'][i]:.0f} kWh, 8 GPUs {o['energy'][rows[8]]:.0f}")
    if c["zero"][rows[8]] not in (1, 2) or c["zero"][rows[256]] != 3:
        fail(f"ZeRO-{c['zero'][rows[8]]} on 8 GPUs and ZeRO-{c['zero'][rows[256]]} on 256: expected 1 or 2, then 3")
    for g in (512, 1024):
        i = rows[g]
        if c["dp"][i] != 256 or c["tp"][i] != g // 256:
            fail(f"{g} GPUs: TP{c['tp'][i]} DP{c['dp'][i]}, expected TP{g // 256} DP256")
    a, b = rows[256], rows[1024]
    if c["mfu"][b] > c["mfu"][a] - 0.10:
        fail(f"MFU {c['mfu'][a]:.3f} at 256 GPUs, {c['mfu'][b]:.3f} at 1,024")
    if per_gpu[1024] > 0.85 * per_gpu[8]:
        fail(f"1,024 GPUs: efficiency {per_gpu[1024] / per_gpu[8]:.3f}")
    if o["energy"][b] < 1.2 * o["energy"][a]:
        fail(f"energy {o['energy'][a]:.0f} kWh at 256 GPUs, {o['energy'][b]:.0f} at 1,024")
    if share_dp[1024] < 3 * share_dp[256]:
        fail(f"exposed DP share {share_dp[256]:.3f} at 256 GPUs, {share_dp[1024]:.3f} at 1,024")
    print("lab 6: efficiency %.3f at 256 GPUs, %.3f at 1,024; MFU %.2f -> %.2f; energy x%.2f; exposed DP %.3f -> %.3f"
          % (per_gpu[256] / per_gpu[8], per_gpu[1024] / per_gpu[8], c["mfu"][a], c["mfu"][b],
             o["energy"][b] / o["energy"][a], share_dp[256], share_dp[1024]))


if __name__ == "__main__":
    main()
