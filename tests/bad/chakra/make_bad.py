#!/usr/bin/env python3
"""Writes the bad Chakra traces of this folder (kept in git; rerun to
regenerate). Protobuf wire format by hand: each record is a varint length
and a message; record 0 is GlobalMetadata, then Nodes (id=1, name=2,
type=3, data_deps=5 packed, duration_micros=7, attr=10)."""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def attr_int(name, value):
    return field(1, 2, name.encode()) + field(9, 0, value)  # int64_val = 9


def node(nid, name, ntype, deps=(), duration=0, attrs=()):
    m = field(1, 0, nid) if nid else b""
    m += field(2, 2, name.encode()) + field(3, 0, ntype)
    if deps:
        m += field(5, 2, b"".join(varint(d) for d in deps))
    if duration:
        m += field(7, 0, duration)
    for a in attrs:
        m += field(10, 2, a)
    return m


def trace(path, nodes):
    meta = field(1, 2, b"0.0.4")
    with open(path, "wb") as f:
        for rec in [meta] + nodes:
            f.write(varint(len(rec)) + rec)


# A dependency cycle: 1 -> 2 -> 1 (data dependencies).
trace(os.path.join(HERE, "cycle.0.et"),
      [node(1, "a", 4, deps=[2], duration=5), node(2, "b", 4, deps=[1], duration=5)])
# A node type Chakra does not have.
trace(os.path.join(HERE, "node-type.0.et"), [node(1, "mystery", 12, duration=5)])
# A send nobody receives: two ranks, rank 0 sends to rank 1, rank 1 only computes.
send = node(1, "send", 5, attrs=[attr_int("comm_size", 1024), attr_int("comm_dst", 1),
                                 attr_int("comm_tag", 7)])
trace(os.path.join(HERE, "unmatched.0.et"), [send])
trace(os.path.join(HERE, "unmatched.1.et"), [node(1, "work", 4, duration=5)])
# A collective type that is not simulated (GATHER = 3).
gather = node(1, "gather", 7, attrs=[attr_int("comm_type", 3), attr_int("comm_size", 4096)])
trace(os.path.join(HERE, "gather.0.et"), [gather])
trace(os.path.join(HERE, "gather.1.et"), [gather])
# A file cut inside its second record.
good = os.path.join(HERE, "..", "..", "data", "chakra", "microbenchmarks", "all_reduce",
                    "4npus_1MB", "all_reduce.0.et")
data = open(good, "rb").read()
open(os.path.join(HERE, "truncated.0.et"), "wb").write(data[: len(data) - 7])
# Garbage bytes.
r = random.Random(20261125)
open(os.path.join(HERE, "garbage.0.et"), "wb").write(bytes(r.randrange(256) for _ in range(400)))
# A missing rank file: ranks 0 and 2, no rank 1.
trace(os.path.join(HERE, "gap.0.et"), [node(1, "work", 4, duration=5)])
trace(os.path.join(HERE, "gap.2.et"), [node(1, "work", 4, duration=5)])
