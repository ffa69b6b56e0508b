#!/usr/bin/env python3
"""Writes the Chakra traces of this folder (kept in git; rerun to
regenerate them): one gather and one scatter (comm_type 3 and 4, Chakra's
CollectiveCommType) of 1 MiB over 4 ranks, as the microbenchmarks of
../microbenchmarks hold the other collectives."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", ".."))
from chakra_et import attr_int, node, write_trace  # noqa: E402

for kind, comm_type in (("gather", 3), ("scatter", 4)):
    os.makedirs(os.path.join(HERE, kind), exist_ok=True)
    for rank in range(4):
        op = node(1, kind, 7, attrs=[attr_int("comm_type", comm_type), attr_int("comm_size", 1 << 20)])
        write_trace(os.path.join(HERE, kind, f"{kind}.{rank}.et"), [op])
