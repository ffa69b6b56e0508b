#!/usr/bin/env python3
"""One mixture-of-experts block, forward and backward, on this machine's GPU
with PyTorch, as one expert-parallel rank sees it: how long it takes, how
its kernel time divides between GEMMs, sorting, gathers and scatters, and
the rest, and what a host synchronisation on the token counts (dropless
routing with per-expert GEMMs whose sizes the host must know) costs, to put
beside `scalepath train ... --gemms` for the same layout.

    python3 bench/moe_measure.py [--case NAME ...] [--list]

Needs PyTorch with CUDA. bf16. The block, per micro-batch of T tokens:

    router GEMM (T x hidden x experts) -> softmax -> top-k -> weights normalised
    -> sort the T x k (token, slot) pairs by expert -> gather the tokens (permute)
    [all-to-all dispatch: not run, one GPU]
    -> gather the received rows into local-expert order (Megatron's sort of chunks)
    -> per local expert: up/gate GEMM, SwiGLU, down GEMM
    -> scatter back to the received order
    [all-to-all combine: not run]
    -> weighted scatter-add into the tokens (unpermute and combine)

After the dispatch a rank holds T x k rows for its local experts (routing
taken as balanced, as `scalepath train` takes it): each local expert gets
T x k / local rows. The experts' GEMMs run two ways: `loop`, one cuBLAS GEMM
per expert, as the model prices them (and as Transformer Engine's
GroupedLinear does, given the sizes on the host), and `grouped`, one
CUTLASS grouped GEMM for all of them (torch._grouped_mm, as torchtitan
does), whose sizes stay on the GPU. `+sync` adds a copy of the per-expert
token counts to the host before the experts, as dropless routing does when
the host launches one GEMM per expert.

Each variant runs 20 times to settle the clock, then 20 timed forward and
backward passes (CUDA events: the span on the GPU's stream, which includes
any time the GPU waits for the host), then the profiler sums 5 more by
kernel class. PyTorch's element-wise kernels are not fused as Megatron's
permutation kernels are, so the GEMM class compares like with like and the
rest shows what an unfused implementation costs."""
import argparse
import statistics
import subprocess
import sys
import traceback

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # --compare runs without PyTorch
    torch = F = None

# One expert-parallel rank's view of the benchmark layouts
# (bench/training_accuracy.py) and of a fine-grained extreme.
# `train` is a `scalepath train` layout whose ranks see the same block.
Q30, Q235, MIX = ("workloads/models/qwen3-30b-a3b.cfg", "workloads/models/qwen3-235b-a22b.cfg",
                  "workloads/models/mixtral-8x7b.cfg")
CASES = {
    # Qwen3 30B-A3B, 16 H100, EP 8, micro-batch 2 x 4,096 tokens: 16 local experts.
    "qwen3-30b-a3b-ep8": dict(tokens=8192, hidden=2048, ffn=768, experts=128, top_k=8, local=16,
                              train=["-p", "platforms/superpod-h100.cfg", "-n", "2", "-m", Q30, "--pp", "2",
                                     "--ep", "8", "--seq", "4096", "--gbs", "512", "--mbs", "2"]),
    # The same model with every expert on one GPU (EP 1), micro-batch 1 x 4,096.
    "qwen3-30b-a3b-ep1": dict(tokens=4096, hidden=2048, ffn=768, experts=128, top_k=8, local=128,
                              train=["-p", "platforms/dgx-h100.cfg", "-m", Q30, "--ep", "1", "--seq", "4096",
                                     "--gbs", "512", "--mbs", "1"]),
    # Qwen3 235B-A22B, EP 8, micro-batch 1 x 4,096 tokens: 16 local experts.
    "qwen3-235b-a22b-ep8": dict(tokens=4096, hidden=4096, ffn=1536, experts=128, top_k=8, local=16,
                                train=["-p", "platforms/superpod-h100.cfg", "-n", "8", "-m", Q235, "--pp", "8",
                                       "--ep", "8", "--seq", "4096", "--gbs", "1024", "--mbs", "1"]),
    # Mixtral 8x7B, EP 1, micro-batch 1 x 4,096 tokens: 8 local experts.
    "mixtral-8x7b-ep1": dict(tokens=4096, hidden=4096, ffn=14336, experts=8, top_k=2, local=8,
                             train=["-p", "platforms/dgx-h100.cfg", "-m", MIX, "--ep", "1", "--seq", "4096",
                                    "--gbs", "512", "--mbs", "1"]),
}


def classify(name):
    n = name.lower()
    if "topk" in n or "softmax" in n:
        return "router"
    if any(s in n for s in ("gemm", "nvjet", "xmma", "cutlass", "sm90_", "cublas")):
        return "gemm"
    if "sort" in n:
        return "sort"
    if any(s in n for s in ("index", "gather", "scatter")):
        return "gather"
    return "other"


CLASSES = ("gemm", "router", "sort", "gather", "other")


class Block:
    def __init__(self, c, mode, sync):
        self.c, self.mode, self.sync = c, mode, sync
        T, H, Fh, E, L = c["tokens"], c["hidden"], c["ffn"], c["experts"], c["local"]
        self.rows = T * c["top_k"]
        assert self.rows % L == 0, "rows must divide among the local experts"
        per = self.rows // L
        dev, bf = "cuda", torch.bfloat16

        def param(*shape, fan):
            return (torch.randn(*shape, device=dev, dtype=bf) / fan ** 0.5).requires_grad_()

        self.wr = param(E, H, fan=H)  # router, n x k (k-contiguous, "TN")
        if mode == "grouped":  # one tensor per weight, experts stacked
            self.w1 = param(L, 2 * Fh, H, fan=H)  # gate and up, fused
            self.w2 = param(L, H, Fh, fan=Fh)
            self.params = [self.wr, self.w1, self.w2]
        else:  # a tensor per expert, as Transformer Engine's GroupedLinear holds them
            self.w1 = [param(2 * Fh, H, fan=H) for _ in range(L)]
            self.w2 = [param(H, Fh, fan=Fh) for _ in range(L)]
            self.params = [self.wr] + self.w1 + self.w2
        # The received rows' local expert, balanced: the same counts every step.
        self.group = torch.arange(self.rows, device=dev) % L
        self.order2 = torch.argsort(self.group, stable=True)
        self.offs = (torch.arange(1, L + 1, device=dev) * per).to(torch.int32)
        self.splits = [per] * L

    def __call__(self, x):
        c, k, Fh = self.c, self.c["top_k"], self.c["ffn"]
        logits = x @ self.wr.t()
        probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
        w, idx = torch.topk(probs, k, dim=-1)
        w = (w / w.sum(-1, keepdim=True)).to(x.dtype)
        order = torch.argsort(idx.flatten(), stable=True)
        tok = order // k
        xp = x.index_select(0, tok)  # permute, before the dispatch
        xr = xp.index_select(0, self.order2)  # local-expert order, after it
        splits = self.splits
        if self.sync:
            counts = torch.bincount(self.group, minlength=c["local"])
            splits = counts.tolist()  # the host waits for the GPU here
        if self.mode == "grouped":
            h = torch._grouped_mm(xr, self.w1.transpose(-2, -1), offs=self.offs)
            a = F.silu(h[:, :Fh]) * h[:, Fh:]
            y = torch._grouped_mm(a, self.w2.transpose(-2, -1), offs=self.offs)
        else:
            ys = []
            for e, xe in enumerate(xr.split(splits)):
                h = xe @ self.w1[e].t()
                ys.append((F.silu(h[:, :Fh]) * h[:, Fh:]) @ self.w2[e].t())
            y = torch.cat(ys)
        yb = torch.zeros_like(y).index_copy(0, self.order2, y)  # back to the received order
        wts = w.flatten().index_select(0, order).unsqueeze(1)
        return torch.zeros_like(x).index_add(0, tok, yb * wts)  # unpermute and combine


def measure(c, mode, sync, out):
    blk = Block(c, mode, sync)
    x = torch.randn(c["tokens"], c["hidden"], device="cuda", dtype=torch.bfloat16, requires_grad=True)
    grad = torch.randn_like(x)
    params = [x] + blk.params

    def clear():
        for p in params:
            p.grad = None

    for _ in range(20):
        clear()
        blk(x).backward(grad)
    torch.cuda.synchronize()
    fwd, bwd = [], []
    for _ in range(20):
        clear()
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(3)]
        ev[0].record()
        y = blk(x)
        ev[1].record()
        y.backward(grad)
        ev[2].record()
        torch.cuda.synchronize()
        fwd.append(ev[0].elapsed_time(ev[1]) * 1e3)
        bwd.append(ev[1].elapsed_time(ev[2]) * 1e3)

    def profile(backward):
        got = {k: 0.0 for k in CLASSES}
        names = {}
        outs = []
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
            for _ in range(5):
                clear()
                y = blk(x)
                if backward:
                    y.backward(grad)
                else:
                    outs.append(y)
            torch.cuda.synchronize()
        del outs
        for e in prof.events():
            if e.device_type == torch.autograd.DeviceType.CUDA:
                us = (e.time_range.end - e.time_range.start) / 5.0
                got[classify(e.name)] += us
                names[e.name] = names.get(e.name, 0.0) + us
        return got, names

    pf, _ = profile(False)
    pb, names = profile(True)
    pb = {k: pb[k] - pf[k] for k in pb}
    tag = mode + ("+sync" if sync else "")
    for label, span, p in (("forward", statistics.median(fwd), pf), ("backward", statistics.median(bwd), pb)):
        ksum = sum(p.values())
        print(f"{tag:12s} {label:8s} span {span:9.1f} us  kernels {ksum:9.1f} us  "
              + "  ".join(f"{k} {p[k]:8.1f}" for k in CLASSES), file=out, flush=True)
    print(f"#   {tag}: kernels by time, forward and backward, us per pass:", file=out)
    for n, us in sorted(names.items(), key=lambda t: -t[1])[:14]:
        print(f"#     {us:9.1f}  {classify(n):6s}  {n[:150]}", file=out)
    out.flush()


def model_gemms(exe, args):
    """The MoE block's GEMM time per pass, us, as `scalepath train --gemms`
    prices it in bf16 (the moe.* lines times their counts)."""
    p = subprocess.run([exe, "train"] + args + ["--precision", "bf16", "--gemms"], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip())
    got = {"fwd": 0.0, "bwd": 0.0}
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) == 10 and f[0].startswith("moe."):
            got["fwd" if f[1] == "fwd" else "bwd"] += float(f[6]) * float(f[9])
    return got


def compare(path, exe):
    """The measured GEMM kernel time of each case and variant in a file this
    script wrote, against the model's; and each case's row gathers (the
    permutations), as bandwidth."""
    case, rows, variant = None, {}, None
    print(f"{'case':22s} {'pass':8s} {'model_us':>9s} " + " ".join(f"{v:>18s}" for v in ("loop", "grouped")))
    lines = open(path).read().splitlines() + ["# case end:"]
    for line in lines:
        if line.startswith("# case ") and case is not None:
            c = CASES[case]
            model = model_gemms(exe, c["train"])
            for ps, key in (("forward", "fwd"), ("backward", "bwd")):
                cells = []
                for v in ("loop", "grouped"):
                    t = rows.get((v, ps))
                    cells.append(f"{t:8.1f} ({(model[key] - t) / t * 100:+5.1f}%)" if t else f"{'-':>18s}")
                print(f"{case:22s} {ps:8s} {model[key]:9.1f} " + " ".join(cells))
            if "gather" in rows:
                # Four row gathers per forward and backward, each writing the
                # R = tokens x top_k routed rows: two read R rows (into and out
                # of local-expert order), two read the T tokens' rows (the
                # permute, and its combine's backward), bf16.
                # The model prices every permutation as reading and writing
                # all R rows (4 x 2R here).
                r, t = c["tokens"] * c["top_k"] * c["hidden"], c["tokens"] * c["hidden"]
                moved = (2 * (r + r) + 2 * (t + r)) * 2.0
                as_model = 4 * 2 * r * 2.0
                print(f"{case:22s} row gathers: {rows['gather']:.1f} us per forward and backward, "
                      f"{moved / 1e9:.2f} GB read and written: {moved / rows['gather'] / 1e3:.0f} GB/s "
                      f"({as_model / rows['gather'] / 1e3:.0f} GB/s counted as the model counts a permutation)")
        if line.startswith("# case "):
            case, rows, variant = (line.split()[2].rstrip(":") if "end" not in line else None), {}, None
            continue
        f = line.split()
        if len(f) > 9 and f[2] == "span" and f[8] == "gemm":
            rows[(f[0], f[1])] = float(f[9])
        elif "kernels by time" in line:
            variant = line.split()[1].rstrip(":")
        elif variant == "loop" and "vectorized_gather_kernel" in line and len(f) > 2:
            rows["gather"] = float(f[1])
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--list", action="store_true", help="print the cases and stop")
    ap.add_argument("--compare", metavar="MEASURED.txt",
                    help="no GPU needed: set a file this script wrote beside `scalepath train --gemms`")
    ap.add_argument("--scalepath", default="build/sim/scalepath")
    ap.add_argument("-o", "--output")
    a = ap.parse_args(argv)
    if a.list:
        for n, c in CASES.items():
            print(n, c)
        return 0
    if a.compare:
        return compare(a.compare, a.scalepath)
    if torch is None:
        ap.error("measuring needs PyTorch with CUDA (--compare does not)")
    out = open(a.output, "w") if a.output else sys.stdout
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"# {torch.cuda.get_device_name()}, {torch.cuda.get_device_properties(0).multi_processor_count} SMs, "
          f"torch {torch.__version__}, CUDA {torch.version.cuda}; torch._grouped_mm: "
          f"{hasattr(torch, '_grouped_mm')}", file=out, flush=True)
    status = 0
    for name in a.case:
        c = CASES[name]
        per = c["tokens"] * c["top_k"] // c["local"]
        print(f"\n# case {name}: {c}; {c['tokens'] * c['top_k']} rows, {per} per local expert", file=out,
              flush=True)
        for mode, sync in (("loop", False), ("loop", True), ("grouped", False)):
            try:
                measure(c, mode, sync, out)
                torch.cuda.empty_cache()
            except Exception:  # report and go on: one variant's failure must not lose the others
                status = 1
                print(f"# {mode}{'+sync' if sync else ''} failed:", file=out)
                for line in traceback.format_exc().splitlines():
                    print("#   " + line, file=out)
                out.flush()
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
