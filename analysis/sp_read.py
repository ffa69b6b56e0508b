"""Readers for scalepath output and for real nccl-tests logs, and the one
way figures are written.

Reads only what docs/output-format.md promises: root attributes
schema_version and complete, and tables (one group per experiment, one
dataset per column, `columns` and `rows` group attributes). Uses Debian's
python3-h5py and python3-numpy only.
"""
import os
import re

import h5py
import numpy as np

SCHEMA_VERSION = 1


class FormatError(Exception):
    """The file is not a scalepath result this reader understands."""


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def open_result(path):
    """Open a scalepath HDF5 file, refusing other versions and partial files."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise FormatError(f"{path}: not an HDF5 file ({e})") from None
    version = f.attrs.get("schema_version")
    if f.attrs.get("generator") != "scalepath" or version is None:
        f.close()
        raise FormatError(f"{path}: not a scalepath result (no generator/schema_version)")
    if int(version) != SCHEMA_VERSION:
        f.close()
        raise FormatError(f"{path}: schema_version {int(version)}, this reader knows "
                          f"{SCHEMA_VERSION}; use the analysis/ of the scalepath that wrote it")
    if int(f.attrs.get("complete", 0)) != 1:
        f.close()
        raise FormatError(f"{path}: incomplete file (complete != 1)")
    return f


def read_table(group):
    """A table group -> ({column: array}, {column: units}, {attribute: value})."""
    data, units = {}, {}
    for name in _text(group.attrs["columns"]).split(","):
        ds = group[name]
        data[name] = ds.asstr()[()] if ds.dtype.kind == "S" else ds[()]
        units[name] = _text(ds.attrs["units"])
    attrs = {k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in group.attrs.items()}
    return data, units, attrs


def nccl_tables(f):
    """Every /nccl/<collective> table of an open file, as (name, data, units, attrs)."""
    out = []
    if "nccl" in f:
        for name in f["nccl"]:
            data, units, attrs = read_table(f["nccl"][name])
            out.append((name, data, units, attrs))
    return out


_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s")


def read_nccl_tests_log(path):
    """A real nccl-tests log -> dict of numpy arrays size, time_us, algbw, busbw
    (out-of-place columns), plus the collective name guessed from the header."""
    sizes, times, alg, bus = [], [], [], []
    coll = None
    with open(path, errors="replace") as fp:
        for line in fp:
            if line.startswith("#"):
                m = re.search(r"(all_reduce|all_gather|reduce_scatter|alltoall|broadcast|reduce|sendrecv|gather|scatter)_perf", line)
                if m and coll is None:
                    coll = m.group(1)
                continue
            m = _ROW.match(line)
            if m:
                sizes.append(int(m.group(1)))
                times.append(float(m.group(6)))
                alg.append(float(m.group(7)))
                bus.append(float(m.group(8)))
    if not sizes:
        raise FormatError(f"{path}: no nccl-tests rows found")
    return {"size": np.array(sizes), "time_us": np.array(times), "algbw": np.array(alg),
            "busbw": np.array(bus), "collective": coll}


def save_figure(fig, png, dpi=110):
    """Write a matplotlib figure as PNG and as an SVG beside it, each under a
    temporary name renamed into place, so a figure that exists is whole."""
    svg = os.path.splitext(png)[0] + ".svg"
    for path, fmt in ((png, "png"), (svg, "svg")):
        tmp = path + ".partial"
        fig.savefig(tmp, format=fmt, dpi=dpi)
        os.replace(tmp, path)
    print(f"wrote {png} and {svg}")
