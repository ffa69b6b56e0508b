#!/usr/bin/env python3
"""Bus bandwidth against message size, from `scalepath nccl -o` files,
optionally beside real nccl-tests logs.

    python3 analysis/nccl_busbw.py OUT.h5 [OUT2.h5 ...] [--log REAL.log ...] -o busbw.png

Writes the PNG and an SVG next to it. Exits 2 with a message on a file it
cannot read (wrong schema version, incomplete, not HDF5).
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sp_read  # noqa: E402


def size_label(b):
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if b >= scale:
            return f"{b / scale:g}{unit}"
    return f"{b:g}"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", help="scalepath HDF5 files")
    ap.add_argument("--log", action="append", default=[], help="a real nccl-tests log to overlay")
    ap.add_argument("-o", "--output", required=True, help="PNG path (an SVG is written beside it)")
    a = ap.parse_args(argv)

    fig, ax = plt.subplots(figsize=(8, 5))
    titles = set()
    lo, hi = None, None
    try:
        for path in a.results:
            with sp_read.open_result(path) as f:
                platform = sp_read._text(f.attrs.get("platform_name", "?"))
                for coll, data, units, attrs in sp_read.nccl_tables(f):
                    gpt = int(attrs.get("gpus_per_thread", 0))
                    host = f", {gpt} GPUs per host thread" if gpt > 0 else ""
                    label = f"{platform} x{attrs['nodes']} nodes, {coll} (simulated{host})"
                    ax.plot(data["size"], data["busbw"], marker="o", ms=3, label=label)
                    lo = min(x for x in (lo, data["size"].min()) if x is not None)
                    hi = max(x for x in (hi, data["size"].max()) if x is not None)
                    titles.add(f"{coll} on {platform}, {attrs['ranks']} ranks")
        for path in a.log:
            log = sp_read.read_nccl_tests_log(path)
            keep = log["size"] > 0
            ax.plot(log["size"][keep], log["busbw"][keep], marker="x", ls="--",
                    label=f"{os.path.basename(path)} (measured)")
            lo = min(x for x in (lo, log["size"][keep].min()) if x is not None)
            hi = max(x for x in (hi, log["size"][keep].max()) if x is not None)
    except sp_read.FormatError as e:
        print(f"nccl_busbw: error: {e}", file=sys.stderr)
        return 2
    ax.set_xscale("log", base=2)
    lo, hi = max(1, lo or 1), max(2, hi or 2)
    ax.set_xlim(lo / 1.5, hi * 1.5)
    ticks = [4.0 ** k for k in range(0, 25) if lo / 1.5 <= 4.0 ** k <= hi * 1.5]
    ax.set_xticks(ticks)
    ax.set_xticklabels([size_label(t) for t in ticks])
    ax.set_xlabel("message size (bytes, nccl-tests size)")
    ax.set_ylabel("bus bandwidth (GB/s, 1 GB = 1e9 B)")
    ax.set_title("; ".join(sorted(titles)) or "busbw")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    sp_read.save_figure(fig, a.output, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
