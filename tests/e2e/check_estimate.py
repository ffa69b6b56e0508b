#!/usr/bin/env python3
"""The study's search ranks layouts by a closed-form estimate of the step
(train_estimate); `scalepath train -o` records it (root attribute
`estimate`, s) beside the simulated step (/train/summary step_time). For
each file, the two must agree within TOL (a fraction): the estimate is
what decides which layouts the study simulates, so where it misses, the
study can pass over the fastest layout.
Usage: check_estimate.py TOL OUT.h5..."""
import sys

import h5py

from sp_check import fail, s

tol = float(sys.argv[1])
for path in sys.argv[2:]:
    with h5py.File(path, "r") as f:
        if s(f.attrs["estimate_units"]) != "s" or s(f["/train/summary/step_time"].attrs["units"]) != "s":
            fail(f"{path}: estimate or step_time not in seconds")
        est, step = float(f.attrs["estimate"]), float(f["/train/summary/step_time"][0])
        layout = s(f.attrs["layout"])
    if not (est > 0.0 and step > 0.0):
        fail(f"{path}: estimate {est} s, step {step} s")
    if abs(est / step - 1.0) > tol:
        fail(f"{path} ({layout}): the estimate {est * 1e3:.3f} ms is {100 * (est / step - 1):+.1f}% of the "
             f"simulated step {step * 1e3:.3f} ms (at most {100 * tol:g}%)")
    print(f"ok: {layout}: estimate {100 * (est / step - 1):+.2f}% of the simulated step")
