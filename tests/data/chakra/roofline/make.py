#!/usr/bin/env python3
"""Writes roofline.0.et: two compute nodes with no recorded duration, only
num_ops and tensor_size, for the roofline test. On an H100 SXM (bf16 dense
989.4 TFLOP/s, 3,350 GB/s): node 1 is compute-bound (989.4e9 ops: 1 ms),
node 2 memory-bound (3.35e9 bytes: 1 ms)."""
import os


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    return key + (varint(payload) if wire == 0 else varint(len(payload)) + payload)


def attr(name, value):
    return field(10, 2, field(1, 2, name.encode()) + field(9, 0, value))


nodes = [field(1, 0, 1) + field(2, 2, b"gemm") + field(3, 0, 4) + attr("num_ops", 989_400_000_000)
         + attr("tensor_size", 1_000_000),
         field(1, 0, 2) + field(2, 2, b"copy") + field(3, 0, 4) + field(5, 2, varint(1))
         + attr("num_ops", 1000) + attr("tensor_size", 3_350_000_000)]
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "roofline.0.et"), "wb") as f:
    for rec in [field(1, 2, b"0.0.4")] + nodes:
        f.write(varint(len(rec)) + rec)
