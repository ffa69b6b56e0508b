#!/usr/bin/env python3
"""The figures of a `scalepath study -o` result (docs/output-format.md,
/study/outcomes and /study/configs, one row per job and rung):

    python3 analysis/study_plots.py STUDY.h5 -o DIR

- DIR/S-scaling.png    tokens/s and days to train against GPUs, a colour per job,
                       the rungs of one platform at several node counts joined;
- DIR/S-pareto.png     cost to buy and energy against days to train, per job,
                       the Pareto front joined, the recommended rung ringed;
- DIR/S-memory.png     memory per GPU of each rung's best layout (or the least
                       any layout needs, when none fits) against the GPU's capacity;
- DIR/S-breakdown.png  where the step goes on each rung (first GPU of stage 0):
                       compute, exposed communication per family, pipeline
                       bubble, other; as a share of the step.
S is the file's stem. Each PNG has an SVG beside it."""
import argparse
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sp_read  # noqa: E402


def read_study(path):
    """(name, outcomes, configs) of a study result, columns as lists."""
    with sp_read.open_result(path) as f:
        if sp_read._text(f.attrs.get("kind", "")) != "study":
            raise sp_read.FormatError(f"{path}: not a study result (kind is not \"study\")")
        for t in ("study/outcomes", "study/configs"):
            if t not in f:
                raise sp_read.FormatError(f"{path}: no /{t} table")
        out, _, _ = sp_read.read_table(f["study/outcomes"])
        cfg, _, _ = sp_read.read_table(f["study/configs"])
        name = sp_read._text(f.attrs.get("study_name", "?"))
    if len(out["job"]) == 0 or len(out["job"]) != len(cfg["label"]):
        raise sp_read.FormatError(f"{path}: the study's tables are empty or of different lengths")
    return name, out, cfg


def jobs_of(out):
    seen = []
    for j in out["job"]:
        if j not in seen:
            seen.append(j)
    return seen


def rows_of(out, job):
    return [i for i, j in enumerate(out["job"]) if j == job]


def scaling(name, out, cfg, png):
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for job in jobs_of(out):
        pts = sorted((int(cfg["gpus"][i]), float(cfg["tokens_per_s"][i]), float(out["days"][i]), out["rung"][i],
                      (cfg["platform"][i], int(out["collnet"][i])))
                     for i in rows_of(out, job) if int(out["fits"][i]))
        if not pts:
            continue
        for ax, k in ((axes[0], 1), (axes[1], 2)):
            # Points: neighbouring rungs may be different machines. The rungs of
            # one platform (and NCCL setting) at several node counts are one
            # machine scaling out (a rung whose nodes is an array): joined.
            line, = ax.plot([p[0] for p in pts], [p[k] for p in pts], "o", label=job)
            for machine in dict.fromkeys(p[4] for p in pts):
                same = [p for p in pts if p[4] == machine]
                if len({p[0] for p in same}) > 1:
                    ax.plot([p[0] for p in same], [p[k] for p in same], "-", lw=1, alpha=0.6,
                            color=line.get_color())
            for p in pts:
                ax.annotate(p[3], (p[0], p[k]), fontsize=6, xytext=(3, 3), textcoords="offset points",
                            color=line.get_color())
    for ax, label in ((axes[0], "training throughput (tokens/s)"), (axes[1], "time to train the job (days)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("GPUs on the rung")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{name}: each job's best simulated layout per rung", fontsize=10)
    fig.tight_layout()
    sp_read.save_figure(fig, png)
    plt.close(fig)


def pareto(name, out, png):
    jobs = jobs_of(out)
    fig, axes = plt.subplots(2, len(jobs), figsize=(4.2 * len(jobs), 7.5), squeeze=False)
    for c, job in enumerate(jobs):
        idx = [i for i in rows_of(out, job) if int(out["fits"][i])]
        for r, (col, label) in enumerate((("capex", "cost to buy (USD; owned: shown at 1)"),
                                          ("energy", "energy to train (kWh)"))):
            ax = axes[r][c]
            pts = [(float(out["days"][i]), float(out[col][i]), out["rung"][i], i) for i in idx]
            pts = [p for p in pts if not math.isnan(p[1])]
            # A zero cost (a rung the lab owns) cannot sit on a log axis: floor it at 1 USD.
            floor = 1.0
            ax.scatter([p[0] for p in pts], [max(p[1], floor) for p in pts], s=25, color="#4c72b0", zorder=3)
            for d, v, rung, i in pts:
                ax.annotate(rung, (d, max(v, floor)), fontsize=6, xytext=(3, 3), textcoords="offset points")
                if int(out["recommended"][i]):
                    ax.scatter([d], [max(v, floor)], s=140, facecolors="none", edgecolors="#c44e52",
                               linewidths=1.5, zorder=4, label="recommended")
            if r == 0:
                front = sorted((p for p in pts if int(out["pareto"][p[3]])), key=lambda p: p[0])
                ax.plot([p[0] for p in front], [max(p[1], floor) for p in front], "--", color="#dd8452",
                        label="Pareto front")
                dl = float(out["deadline"][rows_of(out, job)[0]])
                if dl > 0:
                    ax.axvline(dl, color="#55a868", lw=1, label=f"deadline {dl:g} d")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("time to train (days)")
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
            if r == 0:
                ax.set_title(job, fontsize=9)
                ax.legend(fontsize=7)
    fig.suptitle(f"{name}: cost and energy against time to train (rungs where the job fits)", fontsize=10)
    fig.tight_layout()
    sp_read.save_figure(fig, png)
    plt.close(fig)


def memory(name, out, cfg, png):
    jobs = jobs_of(out)
    rungs = [out["rung"][i] for i in rows_of(out, jobs[0])]
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(rungs)), 5))
    width = 0.8 / len(jobs)
    for k, job in enumerate(jobs):
        idx = rows_of(out, job)
        xs = [x + (k - (len(jobs) - 1) / 2) * width for x in range(len(idx))]
        need = [float(cfg["memory_per_gpu"][i]) / 1e9 for i in idx]
        bars = ax.bar(xs, need, width=width, label=job)
        for b, i in zip(bars, idx):
            if not int(out["fits"][i]):
                b.set_hatch("//")
                b.set_edgecolor("black")
    caps = [float(cfg["memory_capacity"][i]) / 1e9 for i in rows_of(out, jobs[0])]
    for x, cap in enumerate(caps):
        ax.hlines(cap, x - 0.45, x + 0.45, colors="black", linestyles="--", label="GPU memory" if x == 0 else None)
    ax.set_xticks(range(len(rungs)))
    ax.set_xticklabels(rungs, rotation=20, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("memory per GPU (GB)")
    ax.set_title(f"{name}\nmemory per GPU of the best layout (hatched: none fits; the least any layout needs)",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    sp_read.save_figure(fig, png)
    plt.close(fig)


PARTS = (("compute", "compute", "#4c72b0"), ("exposed_tp", "exposed TP", "#dd8452"),
         ("exposed_cp", "exposed CP", "#937860"), ("exposed_ep", "exposed EP", "#8172b3"),
         ("exposed_dp", "exposed DP", "#55a868"),
         ("pipeline_wait", "pipeline bubble", "#c44e52"), ("other", "other", "#cccccc"))


def breakdown(name, out, cfg, png):
    jobs = jobs_of(out)
    fig, axes = plt.subplots(1, len(jobs), figsize=(4.2 * len(jobs), 5), squeeze=False, sharey=True)
    for c, job in enumerate(jobs):
        ax = axes[0][c]
        idx = rows_of(out, job)
        labels = [out["rung"][i] for i in idx]
        bottom = [0.0] * len(idx)
        for col, label, colour in PARTS:
            vals = []
            for i in idx:
                step = float(cfg["step_time"][i])
                vals.append(100.0 * float(cfg[col][i]) / step if int(out["fits"][i]) and step > 0 else 0.0)
            ax.bar(range(len(idx)), vals, bottom=bottom, color=colour, label=label if c == 0 else None)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_xticks(range(len(idx)))
        ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=7)
        ax.set_title(job, fontsize=9)
        ax.set_ylim(0, 105)
        if c == 0:
            ax.set_ylabel("share of the step (%)")
        ax.grid(True, axis="y", alpha=0.3)
    fig.legend(loc="upper right", fontsize=8)
    fig.suptitle(f"{name}: where the step goes (first GPU of stage 0; empty: does not fit)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.9, 0.95))
    sp_read.save_figure(fig, png)
    plt.close(fig)


def plot_all(path, outdir):
    name, out, cfg = read_study(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    os.makedirs(outdir, exist_ok=True)
    scaling(name, out, cfg, os.path.join(outdir, f"{stem}-scaling.png"))
    pareto(name, out, os.path.join(outdir, f"{stem}-pareto.png"))
    memory(name, out, cfg, os.path.join(outdir, f"{stem}-memory.png"))
    breakdown(name, out, cfg, os.path.join(outdir, f"{stem}-breakdown.png"))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result", help="a scalepath study HDF5 file")
    ap.add_argument("-o", "--outdir", required=True, help="folder for the figures (created)")
    a = ap.parse_args(argv)
    try:
        plot_all(a.result, a.outdir)
    except sp_read.FormatError as e:
        print(f"study_plots: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
