#!/usr/bin/env python3
"""The same training step simulated with --sm-contention on and off
(`scalepath train -o`): with it off, every rank's compute is busy for its
nominal time; with it on, each collective that runs beside compute takes
its CTAs' share of the SMs for as long as the two overlap, so on every rank

    busy(on) - busy(off) = sum over the rank's collectives of
                           overlap(collective, compute) x SMs held / SMs

with the overlaps and the SMs each collective held (its NCCL channels, or
what the step set: Transformer Engine's userbuffers under TP overlap, none
for their copy-engine exchanges) read from the `on` run's operations.
Pipeline sends and receives take no SMs. The summary's flag says which run
is which. The runs must use --tp-overlap (both kinds of SMs are checked).
Usage: check_sm_contention.py ON.h5 OFF.h5 SMS"""
import sys

import h5py

from sp_check import fail, s


def ops(path):
    with h5py.File(path, "r") as f:
        g = f["/replay/ops"]
        rows = list(zip(*(g[c][()] for c in ("rank", "kind", "stream", "start", "end", "channels", "sms"))))
        flag = int(f["/train/summary/sm_contention"][0])
    return [(int(r), s(k), s(st), float(a), float(b), int(c), int(m)) for r, k, st, a, b, c, m in rows], flag


def merged(intervals):
    out = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def overlap(a, b, busy):
    return sum(max(0.0, min(b, y) - max(a, x)) for x, y in busy)


on, on_flag = ops(sys.argv[1])
off, off_flag = ops(sys.argv[2])
sms = float(sys.argv[3])
if (on_flag, off_flag) != (1, 0):
    fail(f"sm_contention flags {on_flag}, {off_flag}: expected 1 (on) and 0 (off)")
ranks = sorted({r for r, *_ in on})
checked = slowed = 0
for rank in ranks:
    def busy_of(rows):
        return merged([(a, b) for r, k, st, a, b, *_ in rows if r == rank and k == "compute" and st == "compute"])
    busy_on, busy_off = busy_of(on), busy_of(off)
    extra = sum(b - a for a, b in busy_on) - sum(b - a for a, b in busy_off)
    want = sum(overlap(a, b, busy_on) * m / sms for r, k, st, a, b, c, m in on
               if r == rank and k == "collective")
    if any(c <= 0 or m < 0 for r, k, st, a, b, c, m in on if r == rank and k == "collective"):
        fail(f"rank {rank}: a collective without channels, or holding negative SMs")
    if abs(extra - want) > 1e-6 + 1e-6 * abs(want):
        fail(f"rank {rank}: compute took {extra * 1e3:.6f} ms longer with contention, "
             f"the overlaps predict {want * 1e3:.6f} ms")
    checked += 1
    slowed += want > 0
if slowed == 0:
    fail("no compute overlapped a collective: the case tests nothing")
# The case runs --tp-overlap: Transformer Engine's userbuffer kernels hold
# their own SMs (16; the ring's copy-engine exchanges none), not NCCL's
# channels, so the sums above must have used both kinds.
own = {(c, m) for r, k, st, a, b, c, m in on if k == "collective" and m != c}
if not any(m == 0 for _, m in own) or not any(m > 0 for _, m in own):
    fail(f"collectives holding other than their channels (channels, SMs): {sorted(own)}; "
         "expected copy-engine exchanges (0) and userbuffer kernels (> 0)")
print(f"ok: {checked} ranks, {slowed} slowed by exactly their collectives' CTAs over {sms:g} SMs")
