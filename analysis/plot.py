#!/usr/bin/env python3
"""Every figure scalepath's HDF5 results support, into one folder.

    python3 analysis/plot.py OUT.h5 [OUT2.h5 ...] -o DIR [--log REAL.log ...]

By the file's `kind` attribute (docs/output-format.md):
- nccl results (all overlaid, with any real nccl-tests logs):
  DIR/busbw.png  bus bandwidth against message size;
- each replay or train result R.h5:
  DIR/R-gantt.png      per-rank timeline (compute and communication lanes),
  DIR/R-breakdown.png  per-rank step time stacked as compute, exposed
                       communication per communicator group, the pipeline
                       bubble (waiting for another stage), and idle;
- each study result S.h5 (analysis/study_plots.py):
  DIR/S-scaling.png, S-pareto.png, S-memory.png, S-breakdown.png;
- each emulate result E.h5:
  DIR/E-collectives.png  every collective the program ran: its busbw (as
                       nccl-tests computes it) against its size, one
                       series per operation, marked by NCCL algorithm.
Each PNG has an SVG beside it. Exits 2 with a message on a file it cannot
read (another schema version, incomplete, not a scalepath result).
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nccl_busbw  # noqa: E402
import replay_gantt  # noqa: E402
import sp_read  # noqa: E402
import study_plots  # noqa: E402


def union(spans):
    """Sorted, merged list of (start, end) covering the given spans."""
    out = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        elif e > s:
            out.append([s, e])
    return out


def length(spans):
    return sum(e - s for s, e in spans)


def minus(a, b):
    """Merged spans a with merged spans b removed."""
    out, j = [], 0
    for s, e in a:
        cur = s
        while j < len(b) and b[j][1] <= cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] < e:
            if b[k][0] > cur:
                out.append([cur, b[k][0]])
            cur = max(cur, b[k][1])
            k += 1
        if cur < e:
            out.append([cur, e])
    return out


def group_family(g, kind=""):
    """'tp3' -> 'tp', 'dp' -> 'dp', '' -> 'world'; a pipeline send or
    receive (no group) -> 'pipeline bubble'."""
    if kind in ("send", "recv"):
        return "pipeline bubble"
    fam = g.rstrip("0123456789")
    return fam or "world"


def breakdown_rows(data):
    """Per-rank step time from a /replay/ops table: (ranks, {row: [ms per
    rank]}, step in s). Rows: compute (union of compute spans), exposed
    <family> (communication not under compute, attributed to families in name
    order so nothing counts twice), idle (the rest, up to the last end).
    Every rank's rows sum to the step time."""
    per_rank = {}
    for r, kind, grp, s, e in zip(data["rank"], data["kind"], data["group"], data["start"], data["end"]):
        d = per_rank.setdefault(int(r), {"compute": [], "comm": {}})
        if kind == "compute":
            d["compute"].append((float(s), float(e)))
        else:
            d["comm"].setdefault(group_family(grp, kind), []).append((float(s), float(e)))
    step = max((float(e) for e in data["end"]), default=0.0)
    ranks = sorted(per_rank)
    families = sorted({fam for d in per_rank.values() for fam in d["comm"]})
    rows = {"compute": []}
    rows.update({(fam if fam == "pipeline bubble" else f"exposed {fam}"): [] for fam in families})
    rows["idle"] = []
    for r in ranks:
        d = per_rank[r]
        covered = union(d["compute"])
        rows["compute"].append(length(covered) * 1e3)
        for fam in families:
            exposed = minus(union(d["comm"].get(fam, [])), covered)
            rows[fam if fam == "pipeline bubble" else f"exposed {fam}"].append(length(exposed) * 1e3)
            covered = union([tuple(x) for x in covered + exposed])
        rows["idle"].append(max(0.0, step - length(covered)) * 1e3)
    return ranks, rows, step


def breakdown(path, out_png):
    """The stacked per-rank step-time figure of a replay result."""
    with sp_read.open_result(path) as f:
        if "replay/ops" not in f:
            raise sp_read.FormatError(f"{path}: no /replay/ops table (not a replay result)")
        data, _, _ = sp_read.read_table(f["replay/ops"])
        platform = sp_read._text(f.attrs.get("platform_name", "?"))
        workload = os.path.basename(sp_read._text(f.attrs.get("workload_file", "?")))
    if len(data["rank"]) == 0:
        raise sp_read.FormatError(f"{path}: /replay/ops is empty")
    ranks, rows, step = breakdown_rows(data)
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(ranks) + 3), 5))
    bottom = [0.0] * len(ranks)
    comm_colours = iter(["#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"] * 4)
    for name, vals in rows.items():
        colour = {"compute": "#4c72b0", "idle": "#cccccc", "pipeline bubble": "#c44e52"}.get(name) or next(comm_colours)
        ax.bar(ranks, vals, bottom=bottom, label=name, color=colour, width=0.8)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xlabel("rank")
    ax.set_ylabel("simulated time (ms)")
    ax.set_title(f"{workload} on {platform}\nstep time by rank (step {step * 1e3:.3f} ms)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    sp_read.save_figure(fig, out_png, dpi=110)
    plt.close(fig)


# nccl-tests' bus bandwidth factor (doc/PERFORMANCE.md) for n ranks.
BUSBW_FACTOR = {
    "AllReduce": lambda n: 2.0 * (n - 1) / n,
    "AllGather": lambda n: (n - 1) / n,
    "ReduceScatter": lambda n: (n - 1) / n,
    "Broadcast": lambda n: 1.0,
    "Reduce": lambda n: 1.0,
    "AlltoAll": lambda n: (n - 1) / n,
    "Gather": lambda n: (n - 1) / n,
    "Scatter": lambda n: (n - 1) / n,
}


def emulate_points(data):
    """{op: [(bytes, busbw GB/s, algorithm)]} of an /emulate/ops table's collectives."""
    out = {}
    for op, n, b, al, s, e in zip(data["op"], data["ranks"], data["bytes"], data["algorithm"], data["start"],
                                  data["end"]):
        if op not in BUSBW_FACTOR or not e > s:
            continue
        out.setdefault(op, []).append((int(b), float(b) / (e - s) * BUSBW_FACTOR[op](int(n)) / 1e9, al))
    return out


def emulate_figure(path, out_png):
    """Every collective of an emulated program, busbw against size."""
    with sp_read.open_result(path) as f:
        if "emulate/ops" not in f:
            raise sp_read.FormatError(f"{path}: no /emulate/ops table (not an emulate result)")
        data, _, attrs = sp_read.read_table(f["emulate/ops"])
        platform = sp_read._text(f.attrs.get("platform_name", "?"))
        program = os.path.basename(sp_read._text(f.attrs.get("program", "?")))
    points = emulate_points(data)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = {}
    for op, pts in sorted(points.items()):
        pts.sort()
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", alpha=0.5, label=op)
        for b, bw, al in pts:
            m = markers.setdefault(al, "osD^vP*X"[len(markers) % 8])
            ax.plot([b], [bw], m, color=line.get_color(), markersize=5)
    for al, m in markers.items():
        ax.plot([], [], m, color="black", linestyle="none", label=f"algorithm {al}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("size (bytes, nccl-tests convention)")
    ax.set_ylabel("busbw (GB/s)")
    ax.set_title(f"{program} on {platform} ({int(attrs.get('devices', 0))} GPUs): its collectives", fontsize=10)
    if points:
        ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    sp_read.save_figure(fig, out_png, dpi=110)
    plt.close(fig)
    return points


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", help="scalepath HDF5 files")
    ap.add_argument("-o", "--outdir", required=True, help="folder for the figures (created)")
    ap.add_argument("--log", action="append", default=[], help="a real nccl-tests log to overlay")
    a = ap.parse_args(argv)
    nccl, replay, study, emulate = [], [], [], []
    try:
        for path in a.results:
            with sp_read.open_result(path) as f:
                kind = sp_read._text(f.attrs.get("kind", ""))
            if kind == "nccl":
                nccl.append(path)
            elif kind in ("replay", "train"):
                replay.append(path)
            elif kind == "study":
                study.append(path)
            elif kind == "emulate":
                emulate.append(path)
            else:
                raise sp_read.FormatError(f"{path}: kind \"{kind}\" has no figures yet")
        if a.log and not nccl:
            raise sp_read.FormatError("--log needs an nccl result to plot beside")
        os.makedirs(a.outdir, exist_ok=True)
        rc = 0
        if nccl:
            args = nccl + sum((["--log", lg] for lg in a.log), [])
            rc |= nccl_busbw.main(args + ["-o", os.path.join(a.outdir, "busbw.png")])
        for path in replay:
            stem = os.path.splitext(os.path.basename(path))[0]
            rc |= replay_gantt.main([path, "-o", os.path.join(a.outdir, f"{stem}-gantt.png")])
            breakdown(path, os.path.join(a.outdir, f"{stem}-breakdown.png"))
        for path in study:
            study_plots.plot_all(path, a.outdir)
        for path in emulate:
            stem = os.path.splitext(os.path.basename(path))[0]
            emulate_figure(path, os.path.join(a.outdir, f"{stem}-collectives.png"))
    except sp_read.FormatError as e:
        print(f"plot: error: {e}", file=sys.stderr)
        return 2
    return 2 if rc else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
