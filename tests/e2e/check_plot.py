#!/usr/bin/env python3
"""analysis/plot.py's step breakdown: the interval arithmetic on a known
case, and on a real replay result every rank's rows sum to the step time
with none negative.  Usage: check_plot.py REPLAY.h5"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "analysis"))
import plot  # noqa: E402
import sp_read  # noqa: E402

# Compute [0,4] and [6,8]; communication [3,7]: 2 of its 4 are exposed ([4,6]).
assert plot.union([(6, 8), (0, 4)]) == [[0, 4], [6, 8]]
assert plot.minus(plot.union([(3, 7)]), plot.union([(0, 4), (6, 8)])) == [[4, 6]]
assert plot.minus([[0, 10]], [[2, 3], [5, 6]]) == [[0, 2], [3, 5], [6, 10]]
assert plot.minus([[0, 1]], []) == [[0, 1]]

with sp_read.open_result(sys.argv[1]) as f:
    data, _, _ = sp_read.read_table(f["replay/ops"])
ranks, rows, step = plot.breakdown_rows(data)
assert ranks, "no ranks"
for i, r in enumerate(ranks):
    total = sum(v[i] for v in rows.values())
    assert all(v[i] >= -1e-12 for v in rows.values()), (r, rows)
    assert abs(total - step * 1e3) <= 1e-9 * max(1.0, step * 1e3), (r, total, step * 1e3)
print(f"breakdown of {len(ranks)} ranks sums to the step ({step * 1e3:.3f} ms); rows: {', '.join(rows)}")
