#!/usr/bin/env python3
"""LoRA on some layers only (`--lora-targets`), on Llama 3 8B at TP 8:

- `train --gemms` lists the adapters of the targets and no others: one on
  each of Megatron-LM's fused layers (qkv, proj, fc1, fc2), one on each of
  Hugging Face's modules apart (q, k, v, gate, up; o and down are proj and
  fc2);
- each target adds its own adapters' time and nothing else: a layer's GEMM
  time with every adapter plus with qkv's alone equals that with attention's
  (qkv, proj) plus with qkv and the FFN's (fc1, fc2), forward and backward;
- adapters apart cost more than one on the fused layer (each reads the
  input);
- fewer adapters make a shorter simulated step and, the frozen FFN keeping
  no input, fewer activation bytes, and `memory` says which layers it counts.
Usage: check_lora_targets.py SCALEPATH"""
import re
import sys

from sp_check import fail, run

EXE = sys.argv[1]
BASE = ["-p", "platforms/dgx-h100.cfg", "-m", "workloads/models/llama3-8b.cfg", "--tp", "8", "--seq", "4096",
        "--finetune", "lora"]
ADAPTERS = {"qkv": {"lora.qkv"}, "proj": {"lora.o"}, "fc1": {"lora.fc1"}, "fc2": {"lora.down"},
            "q": {"lora.q"}, "k": {"lora.k"}, "v": {"lora.v"}, "gate": {"lora.gate"}, "up": {"lora.up"}}
ALIASES = {"all": ["qkv", "proj", "fc1", "fc2"], "attention": ["qkv", "proj"], "mlp": ["fc1", "fc2"],
           "all-linear": ["q", "k", "v", "proj", "gate", "up", "fc2"], "o_proj": ["proj"], "down": ["fc2"]}


def gemms(targets):
    out = run([EXE, "train"] + BASE + ["--lora-targets", targets, "--gemms"])
    names = {line.split()[0] for line in out.splitlines() if line.startswith("  lora.")}
    fwd = re.search(r"forward [0-9.]+ = GEMMs ([0-9.]+)", out)
    bwd = re.search(r"backward [0-9.]+ = GEMMs ([0-9.]+)", out)
    if not fwd or not bwd:
        fail("no per-layer GEMM times for %s:\n%s" % (targets, out))
    return names, float(fwd.group(1)), float(bwd.group(1))


layer = {}
for targets in ["all", "attention", "mlp", "qkv", "proj", "fc2", "qkv,fc2", "qkv,mlp", "q,v", "all-linear",
                "k,o_proj,gate,up,down"]:
    names, fwd, bwd = gemms(targets)
    want = set()
    for part in targets.split(","):
        for t in ALIASES.get(part, [part]):
            want |= ADAPTERS[t]
    if names != want:
        fail("--lora-targets %s lists adapters %s, expected %s" % (targets, sorted(names), sorted(want)))
    layer[targets] = (fwd, bwd)
for k in range(2):
    lhs = layer["all"][k] + layer["qkv"][k]
    rhs = layer["attention"][k] + layer["qkv,mlp"][k]
    if abs(lhs - rhs) > 0.02:  # the listing's two decimals, four times
        fail("%s GEMMs: all + qkv = %.2f us, attention + (qkv, mlp) = %.2f us" % (("forward", "backward")[k], lhs, rhs))
    if not layer["attention"][k] < layer["all"][k] or not layer["mlp"][k] < layer["all"][k]:
        fail("fewer adapters did not cost less: %s" % layer)
    # The same matrices adapted apart (PEFT) read their shared input once per adapter.
    if not layer["all"][k] < layer["all-linear"][k]:
        fail("fused adapters did not cost less than adapters apart: %s" % layer)


def step(targets):
    out = run([EXE, "train"] + BASE + ["--lora-targets", targets, "--gbs", "2"])
    t = re.search(r"step time +([0-9.]+) ms", out)
    a = re.search(r"activations ([0-9.]+)", out)
    if not t or not a or ("LoRA on " + targets if targets != "all" else "LoRA,") not in out:
        fail("train --lora-targets %s:\n%s" % (targets, out))
    return float(t.group(1)), float(a.group(1))


t_all, a_all = step("all")
t_att, a_att = step("attention")
if not t_att < t_all:
    fail("attention-only adapters: step %.3f ms, all: %.3f ms" % (t_att, t_all))
if not a_att < a_all:
    fail("attention-only adapters: activations %.2f GB, all: %.2f GB" % (a_att, a_all))
out = run([EXE, "memory"] + BASE + ["--lora-targets", "qkv,fc2"])
if "lora on qkv,fc2" not in out:
    fail("memory does not say which layers carry adapters:\n" + out)
print("ok: adapters as targeted; all + qkv = attention + (qkv, mlp) = %.2f / %.2f us per layer; step %.1f -> %.1f ms, "
      "activations %.2f -> %.2f GB" % (layer["attention"][0] + layer["qkv,mlp"][0],
                                       layer["attention"][1] + layer["qkv,mlp"][1], t_all, t_att, a_all, a_att))
