#!/usr/bin/env python3
"""Per-rank Gantt chart of a `scalepath replay -o` file: one row per rank
and stream, compute and communication coloured apart.

    python3 analysis/replay_gantt.py REPLAY.h5 -o gantt.png [--ranks 16]

Writes the PNG and an SVG next to it; exits 2 on a file it cannot read."""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sp_read  # noqa: E402

COLOURS = {"compute": "#4c72b0", "collective": "#dd8452", "send": "#55a868", "recv": "#c44e52"}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--ranks", type=int, default=16, help="show the first N ranks (default 16)")
    a = ap.parse_args(argv)
    try:
        with sp_read.open_result(a.result) as f:
            if "replay/ops" not in f:
                raise sp_read.FormatError(f"{a.result}: no /replay/ops table (not a replay result)")
            data, units, attrs = sp_read.read_table(f["replay/ops"])
            platform = sp_read._text(f.attrs.get("platform_name", "?"))
            workload = os.path.basename(sp_read._text(f.attrs.get("workload_file", "?")))
    except sp_read.FormatError as e:
        print(f"replay_gantt: error: {e}", file=sys.stderr)
        return 2
    ranks = sorted(set(int(r) for r in data["rank"]))[: a.ranks]
    # One row per (rank, lane): compute on one lane, communication on the other.
    rows = {}
    for r in ranks:
        rows[(r, "compute")] = len(rows)
        rows[(r, "comm")] = len(rows)
    fig, ax = plt.subplots(figsize=(11, 0.35 * len(rows) + 1.5))
    spans = {}
    for r, kind, s, e in zip(data["rank"], data["kind"], data["start"], data["end"]):
        if int(r) not in ranks or e <= s:
            continue
        lane = "compute" if kind == "compute" else "comm"
        spans.setdefault((rows[(int(r), lane)], kind), []).append((s * 1e3, (e - s) * 1e3))
    for (row, kind), xs in spans.items():
        ax.broken_barh(xs, (row - 0.4, 0.8), facecolors=COLOURS.get(kind, "grey"), label=kind)
    ax.set_yticks(list(rows.values()))
    ax.set_yticklabels([f"rank {r} {lane}" for (r, lane) in rows])
    ax.invert_yaxis()
    ax.set_xlabel("simulated time (ms)")
    ax.set_title(f"{workload} on {platform}: per-rank timeline")
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    ax.legend(seen.values(), seen.keys(), loc="upper right", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    sp_read.save_figure(fig, a.output, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
