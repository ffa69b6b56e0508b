#!/usr/bin/env python3
"""Writes a synthetic Chakra trace for the replay benchmark: RANKS files
<prefix>.<rank>.et, each NODES nodes: a chain of compute nodes (100 us) with
a 64 KiB all-reduce over all ranks every EVERY nodes, overlapping the next
compute (data dependencies as PyTorch's converter writes them).
Usage: gen_chakra.py PREFIX RANKS NODES [EVERY]"""
import sys


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
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def attr_int(name, value):
    return field(1, 2, name.encode()) + field(9, 0, value)


prefix, ranks, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
every = int(sys.argv[4]) if len(sys.argv) > 4 else 50
records = [field(1, 2, b"0.0.4")]
prev = None
for i in range(1, nodes + 1):
    deps = field(5, 2, varint(prev)) if prev else b""
    if i % every == 0:
        m = (field(1, 0, i) + field(2, 2, b"allreduce") + field(3, 0, 7) + deps
             + field(10, 2, attr_int("comm_type", 0)) + field(10, 2, attr_int("comm_size", 65536)))
    else:
        m = field(1, 0, i) + field(2, 2, b"gemm") + field(3, 0, 4) + deps + field(7, 0, 100)
        prev = i
    records.append(m)
blob = b"".join(varint(len(r)) + r for r in records)
for r in range(ranks):
    with open(f"{prefix}.{r}.et", "wb") as f:
        f.write(blob)
