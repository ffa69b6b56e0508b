#!/usr/bin/env python3
"""Context parallelism in a study (tests/data/studies/long_context.cfg, one
layout simulated per job and rung): every row fits; each job's rows hold the layout of the
method it names (JOB=p2p, all_gather or a2a: CP > 1 with that method's
flags; JOB=none: CP 1), the exposed CP time is positive where the method's
collectives are exposed (all_gather, a2a), and the search's estimate of
the layout (/study/outcomes estimate) is within TOL of its simulated step.
Usage: check_study_cp.py OUT.h5 TOL JOB=METHOD..."""
import math
import sys

import h5py

from sp_check import fail, s

path, tol = sys.argv[1], float(sys.argv[2])
want = dict(a.split("=", 1) for a in sys.argv[3:])
with h5py.File(path, "r") as f:
    o, c = f["study/outcomes"], f["study/configs"]
    jobs = [s(x) for x in o["job"][()]]
    est, step, fits = o["estimate"][()], c["step_time"][()], o["fits"][()]
    cp, p2p, a2a, exposed = c["cp"][()], c["cp_p2p"][()], c["cp_a2a"][()], c["exposed_cp"][()]
seen = set()
for i, job in enumerate(jobs):
    if job not in want:
        fail(f"row {i}: job {job} not named on the command line")
    m = want[job]
    seen.add(job)
    if fits[i] != 1 or not math.isfinite(step[i]) or not math.isfinite(est[i]):
        fail(f"row {i} ({job}): fits {fits[i]}, step {step[i]}, estimate {est[i]}")
    if m == "none":
        if cp[i] != 1:
            fail(f"row {i} ({job}): CP {cp[i]} without context_parallel")
    else:
        flags = {"p2p": (1, 0), "all_gather": (0, 0), "a2a": (0, 1)}[m]
        if cp[i] <= 1 or (p2p[i], a2a[i]) != flags:
            fail(f"row {i} ({job}): CP {cp[i]}, cp_p2p {p2p[i]}, cp_a2a {a2a[i]}; want CP > 1 by {m}")
        if m != "p2p" and not exposed[i] > 0:
            fail(f"row {i} ({job}): {m}'s collectives exposed for {exposed[i]} s")
    if abs(est[i] / step[i] - 1.0) > tol:
        fail(f"row {i} ({job}): estimate {est[i]:.6g} s against a simulated step of {step[i]:.6g} s")
if seen != set(want):
    fail(f"jobs {sorted(set(want) - seen)} have no rows")
print(f"ok: {len(jobs)} rows, estimates within {tol:g} of the simulated steps")
