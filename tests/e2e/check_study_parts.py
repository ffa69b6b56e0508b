#!/usr/bin/env python3
"""A study run in parts (`study --part K/N`) and merged (`study --merge`)
gives what one run gives: the same printout, and the same HDF5 tables and
attributes bit for bit (all but the root's `command`). Checked with 3 parts
(one rung each, for a study of three rungs) and with 8 (more parts than
rungs: five parts are empty). Then the merge refuses what it must refuse, with exit 2,
a message naming the file, and no output file: a missing part, a part
given twice, parts of other inputs, a damaged part (its checksum block,
docs/output-format.md), and, in a part whose checksum was made to match
again, a layout that is not the one this study's search gives and a value
no simulation gives; a file that is not a part.
Usage: check_study_parts.py SCALEPATH STUDY.cfg WORK_DIR"""
import os
import shutil
import subprocess
import sys
import zlib

import h5py

from sp_check import fail


def run(exe, args, rc=0, stderr=None):
    p = subprocess.run([exe] + args, capture_output=True, text=True, timeout=600)
    if p.returncode != rc:
        fail(f"{' '.join(args)}: exit {p.returncode}, expected {rc}\n{p.stderr}")
    if stderr is not None and stderr not in p.stderr:
        fail(f"{' '.join(args)}: expected {stderr!r} in:\n{p.stderr}")
    return p.stdout


def reseal(path):
    """Make the checksum block match the contents again (as a careful forger would)."""
    with open(path, "rb") as f:
        data = f.read()
    body = data[512:]
    head = f"scalepath-h5 crc32={zlib.crc32(body):08x} size={len(body)}\n".encode().ljust(512, b"\0")
    with open(path, "wb") as f:
        f.write(head + body)


def objects(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj))
    return out


def same_h5(a_path, b_path):
    a, b = h5py.File(a_path, "r"), h5py.File(b_path, "r")
    ra = {k: v for k, v in a.attrs.items() if k != "command"}
    rb = {k: v for k, v in b.attrs.items() if k != "command"}
    if list(ra) != list(rb) or any(str(ra[k]) != str(rb[k]) for k in ra):
        fail(f"{b_path}: root attributes differ from {a_path}")
    oa, ob = objects(a), objects(b)
    if list(oa) != list(ob):
        fail(f"{b_path}: objects {sorted(set(oa) ^ set(ob))} differ from {a_path}")
    for name, x in oa.items():
        y = ob[name]
        if list(x.attrs) != list(y.attrs) or any(str(x.attrs[k]) != str(y.attrs[k]) for k in x.attrs):
            fail(f"{b_path}: attributes of {name} differ")
        if isinstance(x, h5py.Dataset):
            u, v = x[()], y[()]
            if u.dtype != v.dtype or u.tobytes() != v.tobytes():
                fail(f"{b_path}: {name} differs")
    return len(oa)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    exe, study, work = sys.argv[1], sys.argv[2], sys.argv[3]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    w = lambda name: os.path.join(work, name)
    whole = run(exe, ["study", study, "-j", "2", "-o", w("whole.h5")])
    for n in (3, 8):
        parts = [w(f"p{n}-{k}.h5") for k in range(n)]
        for k in range(n):
            out = run(exe, ["study", study, "--part", f"{k}/{n}", "-j", "1", "-o", parts[k]])
            if f"part {k} of {n}:" not in out:
                fail(f"part {k}/{n} printed: {out}")
        f = h5py.File(parts[0], "r")
        t = f["study_part/results"]
        if f.attrs["parts"] != n or f.attrs["part"] != 0 or t["step_time"].attrs["units"] != "s":
            fail(f"{parts[0]}: not the part file docs/output-format.md describes")
        merged = run(exe, ["study", study, "--merge"] + parts[::-1] + ["-o", w(f"merged{n}.h5")])
        if merged != whole:
            fail(f"merging {n} parts printed something else than one run:\n{merged}\n---\n{whole}")
        count = same_h5(w("whole.h5"), w(f"merged{n}.h5"))
        print(f"{n} parts merged: the same printout and the same {count} HDF5 objects as one run")

    p = [w(f"p3-{k}.h5") for k in range(3)]
    out = w("refused.h5")
    run(exe, ["study", study, "--merge", p[0], p[2], "-o", out], 2, "1 of the 3 parts missing (part 1)")
    run(exe, ["study", study, "--merge", p[0], p[1], p[1], p[2], "-o", out], 2, f"{p[1]}: error: part 1 again")
    run(exe, ["study", study, "--merge", p[0], p[1], w("whole.h5"), "-o", out], 2,
        "whole.h5: error: not a part of a sharded study")
    # The same study with another token count: other inputs.
    other = w("other.cfg")
    with open(study) as f:
        text = f.read().replace("tokens = 1e6", "tokens = 2e6", 1)
    with open(other, "w") as f:
        f.write(text.replace("../../../", os.path.abspath(os.path.join(os.path.dirname(study), "../../..")) + "/"))
    run(exe, ["study", other, "--merge"] + p + ["-o", out], 2, "its inputs are not this study's")
    # A changed row: the checksum no longer matches; resealed, the row itself is refused.
    bad = w("tampered.h5")
    shutil.copy(p[1], bad)
    with h5py.File(bad, "r+") as f:
        lay = f["study_part/results/layout"]
        lay[0] = b"TP 3 x CP 1" + lay[0][11:]
    run(exe, ["study", study, "--merge", p[0], bad, p[2], "-o", out], 2, "tampered.h5: error: damaged")
    reseal(bad)
    run(exe, ["study", study, "--merge", p[0], bad, p[2], "-o", out], 2, "in the part")
    shutil.copy(p[1], bad)
    with h5py.File(bad, "r+") as f:
        f["study_part/results/step_time"][0] = -1.0
    reseal(bad)
    run(exe, ["study", study, "--merge", p[0], bad, p[2], "-o", out], 2, "step_time = -1 is not a result")
    # Resealed parts that claim another build, or another accounting of the memory.
    shutil.copy(p[1], bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["build_crc32"] = 1
    reseal(bad)
    run(exe, ["study", study, "--merge", p[0], bad, p[2], "-o", out], 2, "written by another build")
    shutil.copy(p[1], bad)
    with h5py.File(bad, "r+") as f:
        f["study_part/results/memory_per_gpu"][0] = 1.0
    reseal(bad)
    run(exe, ["study", study, "--merge", p[0], bad, p[2], "-o", out], 2, "this study's accounting of the layout")
    # A part that simulated another number of layouts per cell.
    one = w("one-layout.h5")
    run(exe, ["study", study, "--part", "1/3", "--max-simulated", "1", "-j", "1", "-o", one])
    run(exe, ["study", study, "--merge", p[0], one, p[2], "-o", out], 2, "the best 1 layouts simulated")
    if os.path.exists(out) or os.path.exists(out + ".partial"):
        fail("a refused merge left an output file")
    print("refused: a missing part, a part twice, not a part, other inputs, a damaged part, a changed layout, "
          "a negative step, another build, other memory, another --max-simulated; no output left")


if __name__ == "__main__":
    main()
