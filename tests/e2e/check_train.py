#!/usr/bin/env python3
"""Read a `scalepath train -o` (or `study -o`) file as docs/output-format.md
says a user can, with h5py only, and check its promises: every column has
units and the same length; the summary's step time is the latest end of the
simulated operations; tokens/s = micro-batch x sequence x micro-batches x DP
/ step time; MFU = model FLOP/s per GPU / the bf16 peak given; the step
breakdown of stage 0 sums to the step.
Usage: check_train.py OUT.h5 PEAK_BF16_FLOPS"""
import sys

import h5py

from sp_check import fail, s


def table(g):
    cols = s(g.attrs["columns"]).split(",")
    out, n = {}, None
    for c in cols:
        ds = g[c]
        if "units" not in ds.attrs:
            fail(f"{g.name}/{c} has no units")
        out[c] = ds[()]
        if n is not None and len(out[c]) != n:
            fail(f"{g.name}/{c}: {len(out[c])} rows, others {n}")
        n = len(out[c])
    return out


path, peak = sys.argv[1], float(sys.argv[2])
with h5py.File(path, "r") as f:
    if s(f.attrs["kind"]) != "train" or int(f.attrs["complete"]) != 1:
        fail("kind / complete")
    t = table(f["train/summary"])
    ops = table(f["replay/ops"])
step = float(t["step_time"][0])
if abs(step - float(ops["end"].max())) > 1e-12 * step:
    fail(f"step_time {step} is not the last operation's end {ops['end'].max()}")
tokens = t["micro_batch"][0] * t["seq_len"][0] * t["microbatches"][0] * t["dp"][0]
if abs(t["tokens_per_s"][0] - tokens / step) > 1e-9 * t["tokens_per_s"][0]:
    fail("tokens_per_s is not tokens per step / step time")
if abs(t["mfu"][0] - t["model_flops_per_gpu"][0] / peak) > 1e-9:
    fail("mfu is not model FLOP/s per GPU / peak")
if not 0.0 < t["model_flops_per_gpu_causal"][0] < t["model_flops_per_gpu"][0]:
    fail("the causal count is not below PaLM's (it leaves out half of attention's products)")
parts = sum(float(t[c][0]) for c in ("compute", "exposed_tp", "exposed_cp", "exposed_ep", "exposed_dp",
                                      "pipeline_wait", "other"))
if abs(parts - step) > 1e-6 * step:
    fail(f"stage 0's breakdown sums to {parts}, the step is {step}")
fits = t["memory_per_gpu"][0] <= t["memory_capacity"][0]
if int(t["fits"][0]) != int(fits):
    fail("fits disagrees with memory_per_gpu <= memory_capacity")
print(f"ok: step {step * 1e3:.3f} ms, {t['tokens_per_s'][0]:.0f} tokens/s, MFU {t['mfu'][0] * 100:.1f}%")
