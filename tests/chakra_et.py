"""Writing Chakra execution traces by hand, for test and benchmark traces:
protobuf wire format (varints, length-delimited fields), records framed by
a varint length, record 0 a GlobalMetadata (version = field 1), then Nodes
(id = 1, name = 2, type = 3, data_deps = 5 packed, duration_micros = 7,
attr = 10 with name = 1 and int64_val = 9)."""


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


def attr_int(name, value):
    """An AttributeProto with an int64 value, as a Node's attr field (10)."""
    return field(10, 2, field(1, 2, name.encode()) + field(9, 0, value))


def node(nid, name, ntype, deps=(), duration=0, attrs=()):
    m = field(1, 0, nid) if nid else b""
    m += field(2, 2, name.encode()) + field(3, 0, ntype)
    if deps:
        m += field(5, 2, b"".join(varint(d) for d in deps))
    if duration:
        m += field(7, 0, duration)
    return m + b"".join(attrs)


def trace_bytes(nodes, version=b"0.0.4"):
    return b"".join(varint(len(r)) + r for r in [field(1, 2, version)] + list(nodes))


def write_trace(path, nodes):
    with open(path, "wb") as f:
        f.write(trace_bytes(nodes))
