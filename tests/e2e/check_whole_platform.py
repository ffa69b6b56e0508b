#!/usr/bin/env python3
"""SimGrid given only the nodes a run uses gives the same results as the
whole platform. `scalepath train` (a folded step), `scalepath replay` (a trace on fewer
ranks than the platform has) and `scalepath study` (each rung's simulated
layouts) load only the nodes their ranks are on into SimGrid, on switch and
fat-tree fabrics (plat_nodes_prunable); --whole-platform loads every node.
Each case runs both ways and checks that the pruned run said it left nodes
out, that the printed reports are the same but for that line, and that the
HDF5 files hold the same tables and attributes to the bit (but the command
line, and the simgrid_nodes columns, smaller when pruned).
Usage: check_whole_platform.py SCALEPATH OUTDIR"""
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from chakra_et import attr_int, node, write_trace  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
COMP, SEND, RECV, COLL = 4, 5, 6, 7  # Chakra NodeType


def replay_trace(d):
    """16 ranks (two DGX H100): an all-reduce over all, then sends between
    the nodes on the same rail (0 -> 8) and across rails (1 -> 10, 11 -> 2),
    each after some compute, and a second all-reduce."""
    os.makedirs(d, exist_ok=True)
    pairs = [(0, 8), (1, 10), (11, 2)]
    for r in range(16):
        ar = [attr_int("comm_type", 0), attr_int("comm_size", 32 << 20)]
        nodes = [node(1, "ar1", COLL, attrs=ar), node(2, "gemm", COMP, deps=[1], duration=200 + 10 * r)]
        last, nid = 2, 3
        for tag, (s, t) in enumerate(pairs):
            attrs = [attr_int("comm_src", s), attr_int("comm_dst", t), attr_int("comm_size", 8 << 20),
                     attr_int("comm_tag", tag)]
            if r in (s, t):
                nodes.append(node(nid, f"p2p{tag}", SEND if r == s else RECV, deps=[last], attrs=attrs))
                last, nid = nid, nid + 1
        nodes.append(node(nid, "ar2", COLL, deps=[last], attrs=ar))
        write_trace(os.path.join(d, f"t.{r}.et"), nodes)
    return os.path.join(d, "t")


def same_h5(a, b):
    """Differences between two HDF5 files, but for the root's command
    attribute and the simgrid_nodes columns, which must be smaller in a
    (pruned) than in b (whole)."""
    bad = []

    def walk(x, y, path):
        if path.endswith("/simgrid_nodes"):
            if not (x[()] <= y[()]).all() or not (x[()] < y[()]).any():
                bad.append(f"{path}: {x[()]} not below {y[()]}")
            return
        keys = set(x.attrs) | set(y.attrs)
        for k in sorted(keys):
            if path == "/" and k == "command":
                continue
            if k not in x.attrs or k not in y.attrs or \
                    np.asarray(x.attrs[k]).tobytes() != np.asarray(y.attrs[k]).tobytes():
                bad.append(f"attribute {path}{k}")
        if isinstance(x, h5py.Dataset):
            if x[()].tobytes() != y[()].tobytes():
                bad.append(f"dataset {path}")
            return
        if set(x) != set(y):
            bad.append(f"members of {path}: {sorted(set(x) ^ set(y))}")
        for k in sorted(set(x) & set(y)):
            walk(x[k], y[k], path + k + ("/" if isinstance(x[k], h5py.Group) else ""))

    with h5py.File(a, "r") as x, h5py.File(b, "r") as y:
        walk(x, y, "/")
    return bad


def run(exe, out, tag, args):
    outs = []
    for whole in (False, True):
        h5 = os.path.join(out, f"{tag}-{'whole' if whole else 'pruned'}.h5")
        p = subprocess.run([exe] + args + ["-o", h5] + (["--whole-platform"] if whole else []),
                           capture_output=True, text=True, cwd=ROOT)
        if p.returncode != 0:
            print(f"FAIL {tag}: exit {p.returncode}: {p.stderr.strip()}")
            return 1
        outs.append((p.stdout, h5))
    (pruned, h5p), (whole, h5w) = outs
    said = [line for line in pruned.splitlines() if line.startswith("# SimGrid")]
    if len(said) != 1 or "# SimGrid" in whole:
        print(f"FAIL {tag}: the pruned run should say which nodes SimGrid has, the whole one not: {said}")
        return 1
    rest = "\n".join(line for line in pruned.splitlines() if line not in said)
    if rest != whole.rstrip("\n"):
        print(f"FAIL {tag}: the reports differ\n--- pruned\n{pruned}\n--- whole\n{whole}")
        return 1
    diff = same_h5(h5p, h5w)
    if diff:
        print(f"FAIL {tag}: the HDF5 files differ: {diff}")
        return 1
    print(f"ok {tag}: {said[0][2:]}")
    return 0


exe, out = sys.argv[1:3]
os.makedirs(out, exist_ok=True)
bad = 0
# A folded step on 160 DGX H100 (5 units of a 3-tier fat-tree): one
# data-parallel replica (TP 2 x PP 2) and the data-parallel groups timed
# apart, which span half the nodes.
bad += run(exe, out, "whole-train", ["train", "-p", "platforms/superpod-h100.cfg", "-n", "160", "-m",
                                     "workloads/models/llama3-8b.cfg", "--tp", "2", "--pp", "2", "--seq", "2048",
                                     "--gbs", "640", "--zero", "1", "--fold", "on"])
# On a 2-tier fat-tree of Sparks (one GPU, two NIC ports each): pipelines of
# 4 Sparks, 16 replicas.
bad += run(exe, out, "whole-train-sparks", ["train", "-p", "platforms/dgx-spark-cluster.cfg", "-n", "64", "-m",
                                            "workloads/models/llama3-8b.cfg", "--pp", "4", "--seq", "1024",
                                            "--gbs", "64", "--finetune", "lora", "--fold", "on"])
# A trace on the first two of eight DGX H100s, and of four behind one switch.
trace = replay_trace(os.path.join(out, "whole-replay-trace"))
bad += run(exe, out, "whole-replay", ["replay", "-p", "platforms/superpod-h100.cfg", "-n", "8", "-t", trace])
bad += run(exe, out, "whole-replay-switch", ["replay", "-p", "platforms/dgx-h100.cfg", "-n", "4", "-t", trace])
# A study: each rung's engine holds the nodes its simulated layouts use
# (their union), here a SuperPOD rung whose layouts are folded pipelines
# (a batch of 8 sequences allows no more data parallelism than 8).
study = os.path.join(out, "whole-study.cfg")
with open(study, "w") as f:
    f.write(f"""format_version = 1;
name = "whole platform";
description = "one folded rung";
electricity_USD_per_kWh = 0.10;
max_simulated = 2;
jobs = ({{ name = "pre70"; model = "{ROOT}/workloads/models/llama3-70b.cfg"; mode = "full";
          tokens = 1e9; seq_len = 2048; global_batch = 8; }});
ladder = ({{ name = "SuperPOD 64"; platform = "{ROOT}/platforms/superpod-h100.cfg"; nodes = 64; }});
""")
bad += run(exe, out, "whole-study", ["study", study, "-j", "1"])
sys.exit(1 if bad else 0)
