#!/usr/bin/env python3
"""Writes a synthetic Chakra trace for the replay benchmark: RANKS files
<prefix>.<rank>.et, each NODES nodes: a chain of compute nodes (100 us) with
a 64 KiB all-reduce over all ranks every EVERY nodes, overlapping the next
compute (data dependencies as PyTorch's converter writes them).
Usage: gen_chakra.py PREFIX RANKS NODES [EVERY]"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from chakra_et import attr_int, node, trace_bytes  # noqa: E402

prefix, ranks, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
every = int(sys.argv[4]) if len(sys.argv) > 4 else 50
records, prev = [], None
for i in range(1, nodes + 1):
    deps = [prev] if prev else []
    if i % every == 0:
        records.append(node(i, "allreduce", 7, deps=deps,
                            attrs=[attr_int("comm_type", 0), attr_int("comm_size", 65536)]))
    else:
        records.append(node(i, "gemm", 4, deps=deps, duration=100))
        prev = i
blob = trace_bytes(records)
for r in range(ranks):
    with open(f"{prefix}.{r}.et", "wb") as f:
        f.write(blob)
