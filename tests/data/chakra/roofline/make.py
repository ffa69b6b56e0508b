#!/usr/bin/env python3
"""Writes roofline.0.et: two compute nodes with no recorded duration, only
num_ops and tensor_size, for the roofline test. On an H100 SXM (bf16 dense
989.4 TFLOP/s, 3,350 GB/s): node 1 is compute-bound (989.4e9 ops: 1 ms),
node 2 memory-bound (3.35e9 bytes: 1 ms)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", ".."))
from chakra_et import attr_int, node, write_trace  # noqa: E402

write_trace(os.path.join(HERE, "roofline.0.et"), [
    node(1, "gemm", 4, attrs=[attr_int("num_ops", 989_400_000_000), attr_int("tensor_size", 1_000_000)]),
    node(2, "copy", 4, deps=[1], attrs=[attr_int("num_ops", 1000), attr_int("tensor_size", 3_350_000_000)]),
])
