#!/usr/bin/env python3
"""A collective one of whose members comes late, replayed from Chakra
traces: the last rank first computes for 10 ms, then every rank runs the
collective. No rank may end before the late rank's data could reach it.
Plans whose flows start together (one stage: tree, NVLS, NVLS-Tree, the
broadcast and reduce chains, the p2p engine's when a member relays;
coll.h coll_plan_starts_together) start when the last member begins, so every rank ends exactly the on-time duration
after the late rank's compute; rings wait step by step, so every rank ends
after it. Usage: check_late_member.py SCALEPATH OUTDIR"""
import os
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from chakra_et import attr_int, node, write_trace  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LATE_US = 10000
COMP, COLL = 4, 7  # Chakra NodeType
# (name, comm_type, platform, nodes, algo, gated)
CASES = [
    ("all_reduce", 0, "dgx-h100", 2, "Tree", True),
    ("all_reduce", 0, "dgx-h100", 2, "NVLSTree", True),
    ("all_reduce", 0, "dgx-h100", 1, "NVLS", True),
    ("all_gather", 2, "dgx-h100", 1, "NVLS", True),
    ("reduce_scatter", 7, "dgx-h100", 1, "NVLS", True),
    ("broadcast", 5, "dgx-h100", 2, "Ring", True),
    ("reduce", 1, "dgx-h100", 2, "Ring", True),
    ("all_reduce", 0, "dgx-h100", 2, "Ring", False),
    ("all_gather", 2, "dgx-h100", 2, "Ring", False),
    ("all_to_all", 6, "dgx-h100", 2, None, True),  # p2p, relayed over NVLink (PXN)
    ("all_to_all", 6, "dgx-h100", 1, None, False),  # p2p, every flow its sender's own
]


def trace(d, ranks, comm_type, late):
    os.makedirs(d, exist_ok=True)
    for r in range(ranks):
        coll = [attr_int("comm_type", comm_type), attr_int("comm_size", 64 << 20)]
        if late and r == ranks - 1:
            nodes = [node(1, "late", COMP, duration=LATE_US), node(2, "coll", COLL, deps=[1], attrs=coll)]
        else:
            nodes = [node(1, "coll", COLL, attrs=coll)]
        write_trace(os.path.join(d, f"t.{r}.et"), nodes)
    return os.path.join(d, "t")


def ends(exe, out, tag, plat, nodes, algo, prefix):
    h5 = os.path.join(out, tag + ".h5")
    subprocess.run([exe, "replay", "-p", os.path.join(ROOT, "platforms", plat + ".cfg"), "-n", str(nodes)] +
                   (["--algo", algo] if algo else []) + ["-t", prefix, "-o", h5], check=True,
                   stdout=subprocess.DEVNULL)
    with h5py.File(h5, "r") as f:
        g = f["replay/ops"]
        kind = [v.decode() for v in g["kind"][:]]
        rows = [(int(r), s, e) for k, r, s, e in zip(kind, g["rank"][:], g["start"][:], g["end"][:])
                if k == "collective"]
    return rows


exe, out = sys.argv[1:3]
bad = 0
for name, ct, plat, nodes, algo, gated in CASES:
    ranks = 8 * nodes
    tag = f"late-{name}-{algo or 'p2p'}-{nodes}"
    base = os.path.join(out, tag)
    on = ends(exe, out, tag + "-on", plat, nodes, algo, trace(base + "-on", ranks, ct, False))
    late = ends(exe, out, tag + "-late", plat, nodes, algo, trace(base + "-late", ranks, ct, True))
    dur = max(e for _, _, e in on) - min(s for _, s, _ in on)
    t_late = max(s for _, s, _ in late)  # the late rank's start of the collective
    if abs(t_late - LATE_US * 1e-6) > 1e-12 or dur <= 0:
        print(f"FAIL {tag}: late start {t_late} s, on-time duration {dur} s")
        bad += 1
        continue
    after = [e - t_late for _, _, e in late]
    lo, hi = min(after) / dur, max(after) / dur
    if gated:
        ok = abs(lo - 1.0) < 1e-9 and abs(hi - 1.0) < 1e-9
    else:
        ok = lo > 0.0
    print(f"{'ok' if ok else 'FAIL'} {tag}: on time {dur * 1e6:.3f} us; ranks end {lo:.6f} to {hi:.6f} "
          f"of it after the late rank begins{' (must be 1)' if gated else ' (must be > 0)'}")
    bad += not ok
sys.exit(1 if bad else 0)
