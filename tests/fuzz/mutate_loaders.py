#!/usr/bin/env python3
"""Mutation fuzzing of scalepath's loaders, deterministic (fixed seed).

Usage: mutate_loaders.py SCALEPATH SOURCE_ROOT WORK_DIR ITERATIONS [SEED]

Each iteration takes a valid input (platform file, model file, study file,
AICB text, one rank of a Chakra trace, a comm-groups JSON file, an
nccl-tests log, one part file of
a study run in parts, which the merge reads), applies 1-8 random byte edits (overwrite,
insert, delete a run, truncate) and runs the command that loads it. Every
run must exit 0 or 2, never by a signal or another status; an exit 2 must
say "error:"; under the sanitizer build no sanitizer report may appear.
A failing input is kept in WORK_DIR as fail-N.* to reproduce by hand.
The test suite runs a few hundred iterations (ctest fuzz.loaders), in the
plain build and again in the ASan+UBSan build.
"""
import os
import random
import shutil
import subprocess
import sys

CHAKRA = "tests/data/chakra/custom_ring_allreduce_8npus_1MB/custom_allreduce"
SEEDS = [
    ("platforms/dgx-h100.cfg", "cfg"),
    ("platforms/lab-mixed.cfg", "cfg"),
    ("platforms/dgx-spark-cluster.cfg", "cfg"),
    ("tests/unit/fixtures/gemm-shapes.cfg", "cfg"),
    ("workloads/models/llama3-8b.cfg", "model"),
    ("tests/data/studies/small.cfg", "study"),
    ("tests/data/studies/sweep.cfg", "study"),
    ("tests/data/studies/moe_capacity.cfg", "study"),
    ("tests/data/studies/fp8_params.cfg", "study"),
    ("bench/data/nccl-tests/h100x8_allreduce_g1_dgxc.log", "log"),
    ("tests/data/aicb/micro_all_reduce.txt", "aicb"),
    (CHAKRA + ".0.et", "et"),
    ("tests/data/chakra/groups-2x4.json", "groups"),
    (None, "part"),  # made first: part 0, 1 or 2 of 3 of tests/data/studies/small.cfg
]
STUDY = "tests/data/studies/small.cfg"
GROUPED = "tests/data/chakra/microbenchmarks/all_reduce/8npus_1MB/all_reduce"  # read with groups-2x4.json


def mutate(r, data):
    for _ in range(r.randint(1, 8)):
        p = r.randrange(len(data)) if data else 0
        op = r.random()
        if op < 0.4 and data:
            data[p] = r.randrange(256)
        elif op < 0.6:
            data[p:p] = bytes([r.randrange(256)])
        elif op < 0.8 and data:
            del data[p:p + r.randint(1, 20)]
        else:
            del data[p:]
    return data


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    exe, root, work, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    r = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    os.makedirs(os.path.join(work, "include"), exist_ok=True)
    # Platform files @include "include/gpus.cfg" relative to themselves.
    shutil.copy(os.path.join(root, "platforms/include/gpus.cfg"), os.path.join(work, "include"))
    for k in range(8):
        shutil.copy(os.path.join(root, f"{CHAKRA}.{k}.et"), os.path.join(work, f"t.{k}.et"))
    parts = [os.path.join(work, f"part{k}.h5") for k in range(3)]
    for k in range(3):
        subprocess.run([exe, "study", os.path.join(root, STUDY), "--part", f"{k}/3", "-j", "1", "-o", parts[k]],
                       check=True, capture_output=True, timeout=600)
    fails = 0
    for it in range(n):
        src, kind = r.choice(SEEDS)
        if kind == "part":
            which = r.randrange(3)
            src = parts[which]
        with open(os.path.join(root, src), "rb") as f:
            data = f.read()
        if kind == "study":  # its paths are relative to itself: make them absolute
            data = data.replace(b"../../../", os.path.join(os.path.abspath(root), "").encode())
        data = mutate(r, bytearray(data))
        plat = lambda name: os.path.join(root, "platforms", name)
        if kind == "cfg":
            path = os.path.join(work, "p.cfg")
            cmd = [exe, "check", "-n", "2", path]
        elif kind == "model":
            path = os.path.join(work, "m.cfg")
            cmd = [exe, "memory", "-m", path, "-p", plat("dgx-h100.cfg")]
        elif kind == "study":
            path = os.path.join(work, "s.cfg")
            cmd = [exe, "study", path, "-j", "1"]
        elif kind == "log":
            path = os.path.join(work, "n.log")
            cmd = [exe, "calibrate", "-p", plat("dgx-h100.cfg"), "--log", path]
        elif kind == "part":
            path = os.path.join(work, "m.h5")
            cmd = [exe, "study", os.path.join(root, STUDY), "--merge"] + \
                  [path if k == which else parts[k] for k in range(3)]
        elif kind == "groups":
            path = os.path.join(work, "g.json")
            cmd = [exe, "replay", "-p", plat("dgx-h100.cfg"), "-t", os.path.join(root, GROUPED), "--comm-groups", path]
        elif kind == "aicb":
            path = os.path.join(work, "w.txt")
            cmd = [exe, "replay", "-p", plat("dgx-spark-switch.cfg"), "-n", "4", "-t", path,
                   "--format", "aicb"]
        else:
            path = os.path.join(work, "t.0.et")
            cmd = [exe, "replay", "-p", plat("dgx-h100.cfg"), "-t", os.path.join(work, "t")]
        with open(path, "wb") as f:
            f.write(data)
        p = subprocess.run(cmd, capture_output=True, timeout=120)
        err = p.stderr.decode(errors="replace")
        why = None
        if p.returncode not in (0, 2):
            why = f"exit status {p.returncode}"
        elif p.returncode == 2 and "error:" not in err:
            why = "exit 2 without an error message"
        elif "Sanitizer" in err or "runtime error" in err:
            why = "sanitizer report"
        if why:
            fails += 1
            keep = os.path.join(work, f"fail-{fails}{os.path.splitext(path)[1]}")
            shutil.copy(path, keep)
            print(f"iteration {it}: {kind}: {why}; input kept as {keep}\n{err[-600:]}")
        if kind == "et":  # restore the valid rank for the next iteration
            shutil.copy(os.path.join(root, f"{CHAKRA}.0.et"), path)
        if (it + 1) % 500 == 0:  # so that a campaign stopped by a time limit says how far it got
            print(f"{it + 1} of {n} mutated inputs run, {fails} failure(s) so far", flush=True)
    print(f"{n} mutated inputs, {fails} failure(s)")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
