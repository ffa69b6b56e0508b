#!/usr/bin/env python3
"""One Llama-style transformer layer, forward and backward, on this
machine's GPU with PyTorch: how long it takes, and how its kernel time
divides between GEMMs, fused attention and the rest, to put beside
`scalepath train ... --gemms` (its "one layer" lines) for the same layer.

    python3 bench/layer_measure.py [--hidden 4096 --heads 32 --kv-heads 8 --head-dim 128
                                   --ffn 14336 --seq 8192]

Heads and FFN are one GPU's share: Llama 3 405B at TP 8 is --hidden 16384
--heads 16 --kv-heads 1 --ffn 6656.

Needs PyTorch with CUDA. bf16; RMSNorm, QKV projection, rotary embedding,
causal attention through PyTorch's cuDNN back end (the one Transformer
Engine prefers on Hopper), output projection, residual, RMSNorm, SwiGLU
MLP, residual; one sequence (micro-batch 1), no tensor parallelism. The
layer runs 20 times to settle the clock, then 20 timed forward and
backward passes (CUDA events), then the profiler sorts 5 more into kernel
classes by name (with --shapes, also each GEMM by its shape). PyTorch's
element-wise kernels are not fused as
Transformer Engine's are, so only the GEMM and attention classes compare
like with like."""
import argparse
import statistics
import sys

import torch
import torch.nn.functional as F


def classify(name):
    n = name.lower()
    if any(s in n for s in ("cudnn", "fmha", "flash", "attention", "sdpa")):
        return "attention"
    if any(s in n for s in ("gemm", "nvjet", "xmma", "cutlass", "sm90_", "cublas")):
        return "gemm"
    return "other"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--ffn", type=int, default=14336)
    ap.add_argument("--seq", type=int, default=8192)
    ap.add_argument("--shapes", action="store_true", help="also each GEMM's kernel time in the layer, as CSV")
    a = ap.parse_args(argv)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    dev, bf = "cuda", torch.bfloat16
    h, nh, nkv, f, s = a.hidden, a.heads, a.kv_heads, a.ffn, a.seq
    d = a.head_dim

    def param(*shape):
        return torch.nn.Parameter(torch.randn(*shape, device=dev, dtype=bf) * 0.02)

    wqkv, wo, wgu, wd = param((nh + 2 * nkv) * d, h), param(h, nh * d), param(2 * f, h), param(h, f)
    n1 = torch.nn.Parameter(torch.ones(h, device=dev, dtype=bf))
    n2 = torch.nn.Parameter(torch.ones(h, device=dev, dtype=bf))
    inv = 10000.0 ** (torch.arange(0, d, 2, device=dev) / d)
    pos = torch.arange(s, device=dev, dtype=torch.float32)[:, None] / inv
    cos, sin = pos.cos().to(bf).repeat(1, 2), pos.sin().to(bf).repeat(1, 2)

    def rope(t):  # (heads, s, d)
        t1, t2 = t[..., : d // 2], t[..., d // 2:]
        return t * cos + torch.cat((-t2, t1), -1) * sin

    def layer(x):
        y = F.rms_norm(x, (h,), n1)
        q, k, v = (y @ wqkv.t()).split((nh * d, nkv * d, nkv * d), -1)
        q = rope(q.view(s, nh, d).transpose(0, 1))[None]
        k = rope(k.view(s, nkv, d).transpose(0, 1))[None]
        v = v.view(s, nkv, d).transpose(0, 1)[None]
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + o[0].transpose(0, 1).reshape(s, nh * d) @ wo.t()
        g, u = (F.rms_norm(x, (h,), n2) @ wgu.t()).chunk(2, -1)
        return x + (F.silu(g) * u) @ wd.t()

    x = torch.randn(s, h, device=dev, dtype=bf, requires_grad=True)
    grad = torch.randn(s, h, device=dev, dtype=bf)
    for _ in range(20):
        layer(x).backward(grad)
    torch.cuda.synchronize()
    ev = [torch.cuda.Event(enable_timing=True) for _ in range(3)]
    fwd, bwd = [], []
    for _ in range(20):
        ev[0].record()
        out = layer(x)
        ev[1].record()
        out.backward(grad)
        ev[2].record()
        torch.cuda.synchronize()
        fwd.append(ev[0].elapsed_time(ev[1]) * 1e3)
        bwd.append(ev[1].elapsed_time(ev[2]) * 1e3)

    def profile(backward):
        outs = []
        acts = [torch.profiler.ProfilerActivity.CUDA] + ([torch.profiler.ProfilerActivity.CPU] if a.shapes else [])
        with torch.profiler.profile(activities=acts, record_shapes=a.shapes) as prof:
            for _ in range(5):
                out = layer(x)
                if backward:
                    out.backward(grad)
                else:
                    outs.append(out)
            torch.cuda.synchronize()
        for o in outs:
            o.backward(grad)
        got = {"gemm": 0.0, "attention": 0.0, "other": 0.0}
        for e in prof.events():
            if e.device_type == torch.autograd.DeviceType.CUDA:
                got[classify(e.name)] += (e.time_range.end - e.time_range.start) / 5.0
            elif a.shapes and e.name == "aten::mm" and len(e.input_shapes) >= 2 and len(e.input_shapes[0]) == 2:
                (m, k), (_, n) = e.input_shapes[0], e.input_shapes[1]
                us = sum(x.duration if hasattr(x, "duration") else x.time_range.end - x.time_range.start
                         for x in e.kernels)
                if us > 0:
                    per_shape.setdefault((m, n, k), []).append(us)
        return got

    per_shape = {}
    pf = profile(False)
    pb = profile(True)
    pb = {k: pb[k] - pf[k] for k in pb}
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"cuDNN {torch.backends.cudnn.version()}")
    print(f"# layer: hidden {h}, heads {nh} (kv {nkv}), head_dim {d}, ffn {f}, seq {s}, bf16, micro-batch 1")
    print(f"forward  {statistics.median(fwd):9.1f} us (median of 20)  kernels: GEMMs {pf['gemm']:8.1f}  "
          f"attention {pf['attention']:8.1f}  other {pf['other']:8.1f}")
    print(f"backward {statistics.median(bwd):9.1f} us (median of 20)  kernels: GEMMs {pb['gemm']:8.1f}  "
          f"attention {pb['attention']:8.1f}  other {pb['other']:8.1f}")
    if a.shapes:  # each GEMM's kernel time inside the layer, bf16 (m, n, k as gemm_measure.py)
        print("m,n,k,precision,TFLOPs,time_us,calls")
        for (m, n, k), v in sorted(per_shape.items()):
            t = statistics.median(v)
            print(f"{m},{n},{k},bf16,{2.0 * m * n * k / t / 1e6:.1f},{t:.2f},{len(v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
