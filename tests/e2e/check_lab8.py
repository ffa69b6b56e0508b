#!/usr/bin/env python3
"""Lab 8 (docs/labs/lab8-long-context.md) asks about these; the lab's text
must change if they stop holding. Llama 3 8B at 131,072 tokens per
sequence, 4 sequences per step:
- memory, one DGX H100: TP 8 without recomputation does not fit; TP 8 with
  full recomputation and CP 8 with ZeRO-1 and full recomputation both fit;
  CP 8 holds 8 times TP 8's weights and gradients, and the same activations;
- one node, full recomputation: p2p exposes no CP time, a2a less than
  all_gather; every CP method exposes less than TP 8 exposes of TP
  communication, and steps faster than TP 8; p2p is the fastest of them;
- two nodes: at TP 8 CP 2, p2p is faster than all_gather and a2a is refused
  (one key/value head per TP rank); at CP 16, all_gather is faster than p2p,
  whose compute is the longer;
- the study (docs/labs/lab8-long-context.cfg, HDF5 given): every job fits
  every rung; no CP at 8K, some at 32K, CP 8 at 128K on both rungs; at 128K
  one node needs full recomputation and two none, and two nodes give more
  than twice one node's tokens/s; the MFU at 128K is above the 8K one.
Usage: check_lab8.py SCALEPATH LAB8.h5"""
import re
import subprocess
import sys

import h5py

from sp_check import fail

exe, h5 = sys.argv[1:3]
M = "workloads/models/llama3-8b.cfg"
SEQ = ["--seq", "131072"]


def run(args, rc=0):
    p = subprocess.run([exe] + args, capture_output=True, text=True)
    if p.returncode != rc:
        fail("%s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p.stdout + p.stderr


def memory(args):
    out = run(["memory", "-m", M, "-p", "platforms/dgx-h100.cfg"] + SEQ + args)
    get = lambda key: float(re.search(r"^\s+%s\s+([\d.]+) GB" % key, out, re.M).group(1))
    return {"fits": ": fits" in out, "weights": get("weights"), "gradients": get("gradients"),
            "activations": get("activations")}


def train(platform, args):
    out = run(["train", "-m", M, "--gbs", "4", "--recompute", "full"] + platform + SEQ + args)
    step = float(re.search(r"^step time\s+([\d.]+) ms", out, re.M).group(1))
    row = re.search(r"^\s+0\s+0\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out, re.M)
    compute, tp, cp = (float(row.group(k)) for k in (1, 2, 3))
    return {"step": step, "compute": compute, "tp": tp, "cp": cp}


# Section 2: memory.
tp8 = memory(["--tp", "8"])
tp8_rc = memory(["--tp", "8", "--recompute", "full"])
cp8_rc = memory(["--cp", "8", "--zero", "1", "--recompute", "full"])
if tp8["fits"] or not tp8_rc["fits"] or not cp8_rc["fits"]:
    fail(f"fits: TP 8 {tp8['fits']}, TP 8 full-rc {tp8_rc['fits']}, CP 8 full-rc {cp8_rc['fits']}")
for k in ("weights", "gradients"):
    if abs(cp8_rc[k] / tp8_rc[k] - 8) > 0.05:
        fail(f"{k}: CP 8 {cp8_rc[k]} GB, TP 8 {tp8_rc[k]} GB: not 8 times")
if cp8_rc["activations"] != tp8_rc["activations"]:
    fail(f"activations: CP 8 {cp8_rc['activations']} GB, TP 8 {tp8_rc['activations']} GB")

# Section 3: one node.
node = ["-p", "platforms/dgx-h100.cfg"]
t = train(node, ["--tp", "8"])
c = {k: train(node, ["--cp", "8", "--zero", "1", "--cp-comm-type", k]) for k in ("all_gather", "p2p", "a2a")}
if c["p2p"]["cp"] != 0.0 or not 0.0 < c["a2a"]["cp"] < c["all_gather"]["cp"]:
    fail("exposed CP, ms: " + ", ".join(f"{k} {v['cp']}" for k, v in c.items()))
if not all(v["cp"] < t["tp"] and v["step"] < t["step"] for v in c.values()):
    fail(f"TP 8: step {t['step']} ms, exposed TP {t['tp']} ms; CP: {c}")
if min(c, key=lambda k: c[k]["step"]) != "p2p":
    fail("steps, ms: " + ", ".join(f"{k} {v['step']}" for k, v in c.items()))

# Section 4: two nodes.
two = ["-p", "platforms/superpod-h100.cfg", "-n", "2"]
ag = train(two, ["--tp", "8", "--cp", "2", "--zero", "1", "--cp-comm-type", "all_gather"])
p2p = train(two, ["--tp", "8", "--cp", "2", "--zero", "1", "--cp-comm-type", "p2p"])
if not p2p["step"] < ag["step"]:
    fail(f"TP 8 CP 2: p2p {p2p['step']} ms, all_gather {ag['step']} ms")
refused = run(["train", "-m", M, "--gbs", "4", "--recompute", "full"] + two + SEQ +
              ["--tp", "8", "--cp", "2", "--zero", "1", "--cp-comm-type", "a2a"], rc=2)
if "4 query and 1 key/value heads per TP rank, not both multiples of CP 2" not in refused:
    fail("a2a at TP 8 CP 2: " + refused)
ag16 = train(two, ["--cp", "16", "--zero", "1", "--cp-comm-type", "all_gather"])
p2p16 = train(two, ["--cp", "16", "--zero", "1", "--cp-comm-type", "p2p"])
if not (ag16["step"] < p2p16["step"] and ag16["compute"] < p2p16["compute"] and p2p16["cp"] == 0.0):
    fail(f"CP 16: all_gather {ag16}, p2p {p2p16}")

# Section 5: the study.
with h5py.File(h5, "r") as f:
    o, s = f["study/outcomes"], f["study/configs"]
    rows = {(o["job"][i].decode(), int(s["gpus"][i])): i for i in range(len(o["job"]))}
    cp, rc, tps = s["cp"][()], [x.decode() for x in s["recompute"][()]], s["tokens_per_s"][()]
    fits, mfu = o["fits"][()], s["mfu"][()]
if sorted(rows) != sorted((j, g) for j in ("8k", "32k", "128k") for g in (8, 16)):
    fail(f"rows {sorted(rows)}")
if not all(fits[i] == 1 for i in rows.values()):
    fail("a job that does not fit: %s" % {k: int(fits[i]) for k, i in rows.items()})
if any(mfu[rows[("128k", g)]] <= mfu[rows[("8k", g)]] for g in (8, 16)):
    fail("MFU at 128K %s, at 8K %s" % ([mfu[rows[("128k", g)]] for g in (8, 16)], [mfu[rows[("8k", g)]] for g in (8, 16)]))
if any(cp[rows[("8k", g)]] != 1 for g in (8, 16)) or any(cp[rows[("32k", g)]] < 2 for g in (8, 16)):
    fail("CP at 8K: %s; at 32K: %s" % ([cp[rows[("8k", g)]] for g in (8, 16)], [cp[rows[("32k", g)]] for g in (8, 16)]))
one, both = rows[("128k", 8)], rows[("128k", 16)]
if cp[one] != 8 or cp[both] != 8:
    fail(f"CP at 128K: {cp[one]} on one node, {cp[both]} on two")
if rc[one] != "full" or rc[both] != "none":
    fail(f"recompute at 128K: {rc[one]} on one node, {rc[both]} on two")
if not tps[both] > 2 * tps[one]:
    fail(f"tokens/s at 128K: {tps[one]:.0f} on one node, {tps[both]:.0f} on two")
print("lab 8: one node TP 8 %.1f s (exposed TP %.1f), CP 8 all_gather %.1f / p2p %.1f / a2a %.1f s; "
      "two nodes TP8 CP2 p2p %.1f < all_gather %.1f, CP16 all_gather %.1f < p2p %.1f; study 128K x%.2f"
      % (t["step"] / 1e3, t["tp"] / 1e3, c["all_gather"]["step"] / 1e3, c["p2p"]["step"] / 1e3,
         c["a2a"]["step"] / 1e3, p2p["step"] / 1e3, ag["step"] / 1e3, ag16["step"] / 1e3, p2p16["step"] / 1e3,
         tps[both] / tps[one]))
