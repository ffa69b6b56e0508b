#!/usr/bin/env python3
"""Writes the bad Chakra traces of this folder (kept in git; rerun to
regenerate them)."""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
from chakra_et import attr_int, node, write_trace  # noqa: E402

# A dependency cycle: 1 -> 2 -> 1 (data dependencies).
write_trace(os.path.join(HERE, "cycle.0.et"),
            [node(1, "a", 4, deps=[2], duration=5), node(2, "b", 4, deps=[1], duration=5)])
# A node type Chakra does not have.
write_trace(os.path.join(HERE, "node-type.0.et"), [node(1, "mystery", 12, duration=5)])
# A send nobody receives: rank 0 sends to rank 1, rank 1 only computes.
send = node(1, "send", 5, attrs=[attr_int("comm_size", 1024), attr_int("comm_dst", 1),
                                 attr_int("comm_tag", 7)])
write_trace(os.path.join(HERE, "unmatched.0.et"), [send])
write_trace(os.path.join(HERE, "unmatched.1.et"), [node(1, "work", 4, duration=5)])
# A collective type that is not simulated (BARRIER = 9).
barrier = node(1, "barrier", 7, attrs=[attr_int("comm_type", 9), attr_int("comm_size", 4096)])
write_trace(os.path.join(HERE, "barrier.0.et"), [barrier])
write_trace(os.path.join(HERE, "barrier.1.et"), [barrier])
# A file cut inside its second record.
good = os.path.join(HERE, "..", "..", "data", "chakra", "microbenchmarks", "all_reduce",
                    "4npus_1MB", "all_reduce.0.et")
data = open(good, "rb").read()
open(os.path.join(HERE, "truncated.0.et"), "wb").write(data[: len(data) - 7])
# Garbage bytes.
r = random.Random(20261125)
open(os.path.join(HERE, "garbage.0.et"), "wb").write(bytes(r.randrange(256) for _ in range(400)))
# A missing rank file: ranks 0 and 2, no rank 1.
write_trace(os.path.join(HERE, "gap.0.et"), [node(1, "work", 4, duration=5)])
write_trace(os.path.join(HERE, "gap.2.et"), [node(1, "work", 4, duration=5)])
