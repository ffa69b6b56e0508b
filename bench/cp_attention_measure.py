#!/usr/bin/env python3
"""Time one context-parallel rank's causal attention, split into the partial
kernels Transformer Engine's ring attention runs, against the same
attention without context parallelism, on this machine's GPU.

    python3 bench/cp_attention_measure.py [-o OUT.txt] [-v] [--compile] [--cases SEQ,HEADS,KV_HEADS,CP...]
    python3 bench/cp_attention_measure.py --shapes OUT.csv

Why: scalepath's all_gather method prices a context-parallel rank's
attention as its share of the FLOPs at the efficiency of the whole
sequence's causal kernel (sim/train/train.c); --cp-comm-type p2p prices the
ring step by step, and this checks both. Transformer Engine's ring
(AttnFuncWithCP, the 1.6-era structure NVIDIA's MLPerf v4.0 LoRA runs used)
splits it:
the sequence is cut into 2 x CP chunks, rank r holding chunks r and
2CP-1-r; step 0 is causal attention of the local queries over the local
keys; each later step i, with the keys and values received from rank r-i,
is attention without a mask of all local queries over the first half of
those keys (i <= r) or of the second half of the local queries over all of
them (i > r). Each step's output and log-sum-exp are merged into the
result: the log-sum-exp corrections in double precision, the output
corrections after the last step. Steps alternate between two CUDA streams
in the forward pass, and the backward pass runs the steps' backward kernels
in reverse, adding up the query and key/value gradients (here autograd's
backward per step, with PyTorch's slicing and gradient sums, not TE's loop;
TE's concatenation of keys and values for the exchange is left out).

This emulation runs those kernels with PyTorch's cuDNN attention (the
back end Transformer Engine prefers on Hopper), bf16, batch 1, head
dimension 128, keys and values in their own (fewer) heads. It leaves out
the communication (the key/value exchange overlaps the kernels), and the
partial kernels' log-sum-exp values are stand-ins of the right shape (the
corrections' cost does not depend on their values). For each case it
prints the forward and backward time per call between CUDA events, the
kernel time the profiler counts, split into the attention kernels and the
rest, and the same for the whole sequence's causal attention on one GPU
(CP 1), whose share 1/CP is what all_gather charges the rank. With -v, each
case's largest kernels; with --compile, the merges fused by torch.compile
(TE's jit_fuser). The host columns time the CPU issuing one call with the
GPU idle. --shapes times the ring's blocks (and the causal kernels) alone,
for a GPU's attention_shapes."""
import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from gemm_measure import info, timed as timed_calls  # noqa: E402


def sdpa(q, k, v, causal):
    """q, k, v in [batch, seq, heads, dim] (Transformer Engine's bshd)."""
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       is_causal=causal, enable_gqa=k.shape[2] < q.shape[2])
    return o.transpose(1, 2)


def lse_correction(lse, lse_step):
    hi, lo = torch.max(lse, lse_step), torch.min(lse, lse_step)
    lse.copy_(hi + torch.log(1 + torch.exp(lo - hi)))


def out_correction(out, out_step, lse, lse_step):
    c = torch.exp(lse_step - lse).movedim(2, 1).unsqueeze(-1)  # [b, h, s] -> [b, s, h, 1]
    out.add_(out_step * c)


class Rank:
    """One CP rank's tensors: local q, k, v of seq/cp tokens (two chunks)."""

    def __init__(self, seq, heads, kv, cp, rank, dim=128):
        s = seq // cp
        self.cp, self.rank, self.half = cp, rank, s // 2
        mk = lambda h: torch.randn(1, s, h, dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)  # noqa: E731
        self.q, self.k, self.v = mk(heads), mk(kv), mk(kv)
        self.dout = torch.randn(1, s, heads, dim, device="cuda", dtype=torch.bfloat16)
        self.dout_half = self.dout[:, self.half:].contiguous()
        # Stand-ins for each step's log-sum-exp, [b, h, queries], fp32 as the kernels return it.
        self.lse = [torch.randn(1, heads, s if i == 0 or i <= rank else self.half, device="cuda")
                    for i in range(cp)]
        self.streams = [torch.cuda.current_stream(), torch.cuda.Stream()]

    def step(self, i):
        q, k, v, h = self.q, self.k, self.v, self.half
        if i == 0:
            return sdpa(q, k, v, True)
        if i <= self.rank:
            return sdpa(q, k[:, :h].contiguous(), v[:, :h].contiguous(), False)
        return sdpa(q[:, h:].contiguous(), k, v, False)

    def forward(self):
        main = torch.cuda.current_stream()
        outs, done = [], torch.cuda.Event()
        for i in range(self.cp + 1):
            if i < self.cp:
                st = self.streams[i % 2]
                st.wait_stream(main)
                with torch.cuda.stream(st):
                    outs.append(self.step(i))
            if i > 0:
                st = self.streams[(i - 1) % 2]
                if i > 1:
                    st.wait_event(done)
                with torch.cuda.stream(st), torch.no_grad():
                    if i == 1:
                        out = torch.zeros_like(self.q)
                        lse = self.lse[0].clone().to(torch.double)
                        lse_ = lse.view(*lse.shape[:-1], 2, self.half)
                    elif i - 1 <= self.rank:
                        lse_correction(lse, self.lse[i - 1])
                    else:
                        lse_correction(lse_[..., 1, :], self.lse[i - 1])
                if i < self.cp:
                    st.record_event(done)
        main.wait_stream(self.streams[1])
        with torch.no_grad():
            lse_f = lse.to(torch.float)
            for i in range(self.cp):
                if i <= self.rank:
                    out_correction(out, outs[i].detach(), lse_f, self.lse[i])
                else:
                    out_correction(out[:, self.half:], outs[i].detach(), lse_[..., 1, :], self.lse[i])
        return outs, out

    def forward_backward(self):
        outs, _ = self.forward()
        for i in reversed(range(self.cp)):
            full = i == 0 or i <= self.rank
            torch.autograd.backward(outs[i], self.dout if full else self.dout_half)


class Whole:
    """The same attention on one GPU: causal over the whole sequence."""

    def __init__(self, seq, heads, kv, dim=128):
        mk = lambda h: torch.randn(1, seq, h, dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)  # noqa: E731
        self.q, self.k, self.v = mk(heads), mk(kv), mk(kv)
        self.dout = torch.randn(1, seq, heads, dim, device="cuda", dtype=torch.bfloat16)

    def forward(self):
        return sdpa(self.q, self.k, self.v, True)

    def forward_backward(self):
        torch.autograd.backward(self.forward(), self.dout)


def timed(fn, reps=20):
    """Seconds per call between CUDA events: the median of 3 runs of reps calls, after 10 settling calls."""
    for _ in range(10):
        fn()
    torch.cuda.synchronize()
    s, e, runs = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True), []
    for _ in range(3):
        s.record()
        for _ in range(reps):
            fn()
        e.record()
        torch.cuda.synchronize()
        runs.append(s.elapsed_time(e) / 1e3 / reps)
    return statistics.median(runs)


ATTN_KEYS = ("sdpa", "fmha", "flash", "attn", "fprop", "dgrad", "cudnn")


def kernels(fn, reps=5):
    """Kernel seconds per call by the profiler: (attention kernels, the rest, {name: s})."""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
    attn, rest, names = 0.0, 0.0, {}
    for ev in prof.key_averages():
        t = ev.self_device_time_total / 1e6 / reps
        if t <= 0.0:
            continue
        names[ev.key] = names.get(ev.key, 0.0) + t
        if any(key in ev.key.lower() for key in ATTN_KEYS):
            attn += t
        else:
            rest += t
    return attn, rest, names


def host(fn, reps=20):
    """Seconds the CPU takes to issue one call, the GPU idle before it: the median of reps."""
    runs = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    torch.cuda.synchronize()
    return statistics.median(runs)


def measure(obj, out, label, verbose):
    tf = timed(lambda: obj.forward())
    tfb = timed(obj.forward_backward)
    af, rf, _ = kernels(lambda: obj.forward())
    afb, rfb, names = kernels(obj.forward_backward)
    hf, hfb = host(lambda: obj.forward()), host(obj.forward_backward)
    print(f"{label},{tf * 1e6:.1f},{(tfb - tf) * 1e6:.1f},{af * 1e6:.1f},{rf * 1e6:.1f},"
          f"{(afb - af) * 1e6:.1f},{(rfb - rf) * 1e6:.1f},{hf * 1e6:.1f},{(hfb - hf) * 1e6:.1f}", file=out, flush=True)
    if verbose:
        for name, t in sorted(names.items(), key=lambda x: -x[1])[:12]:
            print(f"#   {t * 1e6:9.1f} us  {name[:110]}", file=out, flush=True)


def shapes(out, grid):
    """Attention of q queries over kv keys, with or without the causal mask
    (cuDNN, bf16, batch 1, head dimension 128, as many key/value heads as
    query heads): after settling (timed between CUDA events, as the other
    cases), the kernel time per call that the profiler counts, so that
    PyTorch's launch overhead does not count. FLOPs: 4 q kv d heads, the
    causal half of it with the mask (q = kv there); backward 2.5 times the
    forward's."""
    print("q,kv,heads,head_dim,causal,fwd_TFLOPs,bwd_TFLOPs,fwd_us,bwd_us,timing", file=out, flush=True)
    for q_len, kv_len, heads, causal in grid:
        d = 128
        try:
            q = torch.randn(1, heads, q_len, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
            k, v = (torch.randn(1, heads, kv_len, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
                    for _ in range(2))
            g = torch.randn(1, heads, q_len, d, device="cuda", dtype=torch.bfloat16)
            fwd = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # noqa: E731
            both = lambda: torch.autograd.backward(fwd(), g)  # noqa: E731
            timed_calls(both, graph=False)  # settle the clock on this shape
            af, rf, _ = kernels(fwd, reps=10)
            ab, rb, _ = kernels(both, reps=10)
            tf, tb = af + rf, ab + rb - af - rf
            flops = 4.0 * q_len * kv_len * d * heads * (0.5 if causal else 1.0)
            print(f"{q_len},{kv_len},{heads},{d},{int(causal)},{flops / tf / 1e12:.1f},{2.5 * flops / tb / 1e12:.1f},"
                  f"{tf * 1e6:.1f},{tb * 1e6:.1f},kernels", file=out, flush=True)
            del q, k, v, g
        except Exception as e:  # noqa: BLE001  report and go on
            print(f"# {q_len},{kv_len},{heads},{int(causal)}: failed: {e}", file=out, flush=True)
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output")
    ap.add_argument("--cases", nargs="+", default=["8192,16,2,2", "8192,64,8,2", "8192,16,2,4"],
                    metavar="SEQ,HEADS,KV_HEADS,CP")
    ap.add_argument("-v", "--verbose", action="store_true", help="list each case's largest kernels")
    ap.add_argument("--compile", action="store_true",
                    help="fuse the corrections with torch.compile, as Transformer Engine's jit_fuser does")
    ap.add_argument("--shapes", metavar="OUT.csv",
                    help="instead, time the ring's step kernels alone: q x kv with and without the causal mask")
    a = ap.parse_args(argv)
    if a.shapes:
        # The steps of a load-balanced ring over chunks of c tokens: c x 2c and 2c x c without the
        # mask, and the causal first step over 2c; heads per rank 4-64.
        grid = [(qq, kk, h, causal) for c in (512, 1024, 2048, 4096, 8192, 16384) for h in (4, 8, 16, 32, 64)
                for qq, kk, causal in ((2 * c, c, False), (c, 2 * c, False), (2 * c, 2 * c, True))]
        with open(a.shapes, "w") as f, sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            for line in info():
                print("# " + line, file=f, flush=True)
            shapes(f, grid)
        return 0
    global lse_correction, out_correction
    if a.compile:
        torch._dynamo.config.cache_size_limit = 64  # one compilation per case's shapes, none left eager
        lse_correction, out_correction = torch.compile(lse_correction), torch.compile(out_correction)
    out = open(a.output, "w") if a.output else sys.stdout
    for line in info():
        print("# " + line, file=out, flush=True)
    print("# times in microseconds per call; kernel_* from the profiler (attention kernels, the rest);"
          " host_*: the CPU's time to issue the call" + ("; corrections compiled" if a.compile else ""),
          file=out, flush=True)
    print("seq,heads,kv_heads,cp,rank,fwd_us,bwd_us,kernel_attn_fwd_us,kernel_rest_fwd_us,"
          "kernel_attn_bwd_us,kernel_rest_bwd_us,host_fwd_us,host_bwd_us", file=out, flush=True)
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        for case in a.cases:
            seq, heads, kv, cp = (int(x) for x in case.split(","))
            for rank in [None] + list(range(cp)):
                try:
                    obj = Whole(seq, heads, kv) if rank is None else Rank(seq, heads, kv, cp, rank)
                    measure(obj, out, f"{seq},{heads},{kv},{1 if rank is None else cp},{rank or 0}", a.verbose)
                    del obj
                except Exception as e:  # noqa: BLE001  report and go on with the other cases
                    print(f"# {case} rank {rank}: failed: {e}", file=out, flush=True)
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
