#!/usr/bin/env python3
"""Measure GEMM, attention and memory-bound kernel throughput on this
machine's GPU, for a GPU's efficiency tables (platforms/include/gpus.cfg).

    python3 bench/gemm_measure.py [SHAPES.txt] [-o OUT.csv] [--attention OUT.csv]
                                  [--memory OUT.csv] [--e5m2] [--power M,N,K,PREC...]

SHAPES.txt: lines `m n k precision` (bench/gemm_shapes.py writes them).
Needs PyTorch with CUDA. Each GEMM is (m x k) * (k x n) in the layout
Transformer Engine runs every GEMM in on Hopper ("TN": both operands
k-contiguous, which FP8 requires there): bf16 through torch.matmul, fp8
(e4m3 x e4m3, per-tensor scales, bf16 output) through torch._scaled_mm, both
cuBLASLt. Operands are random normal; after warm-up, each shape is captured
in a CUDA graph (so that small GEMMs time the kernel, not PyTorch's launch
overhead), replayed for 250 ms to settle (under the 700 W limit the SM clock
follows each shape's own power draw, which otherwise carries over from the
shape before), then for at least 50 ms between CUDA events, three times;
the median run counts. The CSV (m, n, k, precision, TFLOPs, time_us,
timing) starts with comment lines naming the GPU, driver, PyTorch, CUDA and
cuBLAS, the power limit and clocks.

--power SHAPE... (m,n,k,precision) compares, for each shape, a 20 ms burst
after 5 s idle with the steady state after 10 s of back-to-back runs, and
reads the SM clock in each: how much the 700 W power limit costs.

--memory OUT.csv times memory-bound kernels (copy, add, RMSNorm, SwiGLU's
two kernels, fused AdamW) at training sizes; --e5m2 compares fp8 GEMMs whose
first operand is e5m2 (Transformer Engine's gradients) with e4m3.

--attention OUT.csv also times causal self-attention forward and backward
through PyTorch's scaled_dot_product_attention (cuDNN and flash back ends,
bf16, head dimension 128, sequences 1K-32K, 4-64 heads) into OUT.csv."""
import argparse
import ctypes
import statistics
import subprocess
import sys

import torch


def info():
    lines = [f"gpu: {torch.cuda.get_device_name()}, {torch.cuda.get_device_properties(0).multi_processor_count} SMs",
             f"torch {torch.__version__}, CUDA {torch.version.cuda}"]
    try:
        lt = ctypes.CDLL("libcublasLt.so." + torch.version.cuda.split(".")[0])
        lt.cublasLtGetVersion.restype = ctypes.c_size_t
        lines.append(f"cublasLt {lt.cublasLtGetVersion()}")
    except OSError:
        pass
    q = "name,driver_version,power.limit,power.max_limit,clocks.max.sm,clocks.max.mem,clocks.applications.graphics"
    try:
        lines.append("nvidia-smi " + q + ": " + subprocess.run(
            ["nvidia-smi", "--query-gpu=" + q, "--format=csv,noheader"], capture_output=True, text=True).stdout.strip())
    except OSError:
        pass
    return lines


def timed(fn, min_s=0.05, graph=True, heat=1.0):
    """Seconds per call of fn on the GPU: the median of three runs of at
    least min_s. With graph, the calls are captured in a CUDA graph and
    replayed, so that the time is the kernels' and not the CPU's launch
    overhead (which would dominate calls of a few microseconds)."""
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the default stream, as capture wants
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    s.record()
    fn()
    e.record()
    torch.cuda.synchronize()
    one = max(s.elapsed_time(e) / 1e3, 1e-6)
    if graph:
        per = max(1, min(1000, int(0.005 / one)))  # calls per graph: about 5 ms
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(per):
                fn()
        run = g.replay
    else:
        per, run = 1, fn
    torch.cuda.synchronize()
    reps = max(3, min(100000, int(min_s / (one * per))))
    # Settle first: 250 ms of the same calls, so that the power limit's
    # clock is this shape's own steady state, not the previous shape's.
    for _ in range(max(1, int(5 * reps * heat))):
        run()
    runs = []
    for _ in range(3):
        s.record()
        for _ in range(reps):
            run()
        e.record()
        torch.cuda.synchronize()
        runs.append(s.elapsed_time(e) / 1e3 / (reps * per))
    return statistics.median(runs)


def timed_any(fn):
    """timed with a CUDA graph, or without one where capture fails: (s, mode)."""
    try:
        return timed(fn), "graph"
    except RuntimeError:
        torch.cuda.synchronize()
        return timed(fn, graph=False), "eager"


def smi_clock():
    q = "clocks.sm,power.draw"
    return subprocess.run(["nvidia-smi", "--query-gpu=" + q, "--format=csv,noheader"], capture_output=True,
                          text=True).stdout.strip()


def power(spec, out):
    import threading
    import time
    m, n, k, prec = spec.split(",")
    m, n, k = int(m), int(n), int(k)
    fn = gemm(int(m), int(n), int(k), prec, run=False)
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    one = timed(fn, 0.01, graph=False, heat=0.0)
    reps = max(1, int(0.02 / one))
    time.sleep(5.0)
    clocks = []
    t = threading.Thread(target=lambda: (time.sleep(0.005), clocks.append(smi_clock())))
    t.start()
    s.record()
    for _ in range(reps):
        fn()
    e.record()
    torch.cuda.synchronize()
    t.join()
    burst = s.elapsed_time(e) / 1e3 / reps
    t0 = time.time()
    while time.time() - t0 < 10.0:
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
    steady_clock = smi_clock()
    steady = timed(fn, 1.0, graph=False, heat=0.0)
    f = 2.0 * m * n * k
    print(f"# power {m}x{n}x{k} {prec}: burst after idle {f / burst / 1e12:.1f} TFLOP/s (SM clock, power: "
          f"{clocks[0] if clocks else '?'}), steady {f / steady / 1e12:.1f} TFLOP/s ({steady_clock})",
          file=out, flush=True)


def gemm(m, n, k, prec, run=True):
    a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)  # row-major n x k: b = w.t() is k-contiguous
    if prec == "bf16":
        b = w.t()
        fn = lambda: torch.matmul(a, b)  # noqa: E731
    elif prec == "fp8":
        a8, b8 = a.to(torch.float8_e4m3fn), w.to(torch.float8_e4m3fn).t()
        one = torch.ones((), device="cuda", dtype=torch.float32)
        fn = lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)  # noqa: E731
    else:
        raise ValueError(prec)
    return timed_any(fn) if run else fn


def attention(out, grid, backends=("cudnn", "flash")):
    """Causal self-attention, bf16, batch 1, through cuDNN (the back end
    Transformer Engine prefers on Hopper and later) and, for comparison,
    FlashAttention-2: one CSV row per (seq, heads, kv_heads, head_dim) with
    forward and backward TFLOP/s, counting the causal half (backward: 2.5 x
    forward's FLOPs, the convention docs/training-model.md uses); kv_heads
    below heads is grouped-query attention. The forward and backward passes
    are captured in CUDA graphs (make_graphed_callables), so that short
    calls time the kernels rather than PyTorch's launch overhead; the first
    row of each back end (128 tokens, 1 head) shows what overhead is left."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    which = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION}
    print("backend,seq,heads,kv_heads,head_dim,fwd_TFLOPs,bwd_TFLOPs,fwd_us,bwd_us,timing", file=out, flush=True)
    for name in backends:
        backend = which[name]
        for seq, heads, kv, d in [(128, 1, 1, 128)] + grid:
            def sdpa(a, b, c):
                return F.scaled_dot_product_attention(a, b, c, is_causal=True, enable_gqa=kv < heads)

            q = torch.randn(1, heads, seq, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
            k, v = (torch.randn(1, kv, seq, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
                    for _ in range(2))
            flops = 4.0 * seq * seq * d * heads * 0.5  # QK^T and PV, the causal half
            with sdpa_kernel(backend):
                try:
                    graphed = torch.cuda.make_graphed_callables(sdpa, (q, k, v))
                    mode = "graph"
                except RuntimeError:
                    torch.cuda.synchronize()
                    graphed, mode = sdpa, "eager"
                g = torch.randn(1, heads, seq, d, device="cuda", dtype=torch.bfloat16)
                tf = timed(lambda: graphed(q, k, v), graph=False)
                tb = timed(lambda: torch.autograd.backward(graphed(q, k, v), g), graph=False) - tf
            print(f"{name},{seq},{heads},{kv},{d},{flops / tf / 1e12:.1f},{2.5 * flops / tb / 1e12:.1f},"
                  f"{tf * 1e6:.1f},{tb * 1e6:.1f},{mode}", file=out, flush=True)
            del q, k, v, g, graphed
            torch.cuda.empty_cache()


def memory_kernels(out):
    """Memory-bound kernels of a training step on training-sized tensors
    (8192 tokens x 4096 and x 14336, bf16): achieved bytes per second
    (bytes read and written, counted from the tensors) over each call,
    timed in a CUDA graph; and PyTorch's fused AdamW over 268M fp32
    parameters (28 bytes per parameter: weight, both moments read and
    written, the gradient read)."""
    import torch.nn.functional as F
    print("kernel,shape,bytes,time_us,GBps", file=out, flush=True)
    bf = torch.bfloat16
    for rows, cols in ((8192, 4096), (8192, 14336), (16384, 16384)):
        x = torch.randn(rows, cols, device="cuda", dtype=bf)
        y = torch.randn(rows, cols, device="cuda", dtype=bf)
        w = torch.randn(cols, device="cuda", dtype=bf)
        e = rows * cols * 2.0
        cases = [("copy", lambda: x.clone(), 2 * e), ("add", lambda: x + y, 3 * e),
                 ("rms_norm", lambda: F.rms_norm(x, (cols,), w), 2 * e),
                 ("silu_mul", lambda: F.silu(x) * y, 5 * e)]  # two kernels: silu (r, w), mul (2 r, w)
        for name, fn, nbytes in cases:
            t, mode = timed_any(fn)
            print(f"{name},{rows}x{cols},{nbytes:.0f},{t * 1e6:.1f},{nbytes / t / 1e9:.0f}", file=out, flush=True)
        del x, y, w
        torch.cuda.empty_cache()
    n = 1 << 28
    prm = torch.nn.Parameter(torch.randn(n, device="cuda"))
    prm.grad = torch.randn(n, device="cuda")
    opt = torch.optim.AdamW([prm], lr=1e-4, fused=True)
    opt.step()
    t = timed(opt.step, graph=False)
    print(f"adamw_fused,{n},{28.0 * n:.0f},{t * 1e6:.1f},{28.0 * n / t / 1e9:.0f}", file=out, flush=True)


def e5m2_check(out):
    """Transformer Engine's backward GEMMs take the gradient in e5m2: a few
    training shapes with A in e4m3 and in e5m2 (B e4m3), TFLOP/s."""
    one = torch.ones((), device="cuda", dtype=torch.float32)
    for m, n, k in ((8192, 4096, 14336), (8192, 16384, 2304), (4096, 2048, 1536), (16384, 4096, 8192)):
        a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        b8 = torch.randn(n, k, device="cuda", dtype=torch.bfloat16).to(torch.float8_e4m3fn).t()
        r = {}
        for name, dt in (("e4m3", torch.float8_e4m3fn), ("e5m2", torch.float8_e5m2)):
            a8 = a.to(dt)
            t, _ = timed_any(lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16))
            r[name] = 2.0 * m * n * k / t / 1e12
        print(f"fp8 {m}x{n}x{k}: A e4m3 {r['e4m3']:.1f}, A e5m2 (gradients) {r['e5m2']:.1f} TFLOP/s",
              file=out, flush=True)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shapes", nargs="?")
    ap.add_argument("-o", "--output")
    ap.add_argument("--attention", metavar="OUT.csv", help="time attention instead, into OUT.csv")
    ap.add_argument("--attention-backends", default="cudnn,flash")
    ap.add_argument("--gqa", type=int, nargs="+", default=[1], metavar="R",
                    help="query heads per KV head to time attention at (default 1)")
    ap.add_argument("--memory", metavar="OUT.csv", help="time memory-bound kernels into OUT.csv")
    ap.add_argument("--e5m2", action="store_true", help="compare e4m3 and e5m2 first operands")
    ap.add_argument("--power", nargs="*", default=[], metavar="M,N,K,PREC")
    a = ap.parse_args(argv)
    torch.backends.cuda.matmul.allow_tf32 = False
    out = open(a.output, "w") if a.output else sys.stdout
    for line in info():
        print("# " + line, file=out, flush=True)
    for spec in a.power:
        power(spec, out)
    if a.e5m2:
        e5m2_check(out)
    if a.memory:
        with open(a.memory, "w") as f:
            for line in info():
                print("# " + line, file=f)
            memory_kernels(f)
    print("m,n,k,precision,TFLOPs,time_us,timing", file=out, flush=True)
    for line in open(a.shapes) if a.shapes else []:
        f = line.split()
        if len(f) != 4 or line.startswith("#"):
            continue
        m, n, k, prec = int(f[0]), int(f[1]), int(f[2]), f[3]
        t, mode = gemm(m, n, k, prec)
        print(f"{m},{n},{k},{prec},{2.0 * m * n * k / t / 1e12:.1f},{t * 1e6:.2f},{mode}", file=out, flush=True)
        torch.cuda.empty_cache()
    if a.attention:
        grid = [(s, h, h // r, 128) for s in (1024, 2048, 4096, 8192, 16384, 32768) for h in (4, 8, 16, 32, 64)
                for r in a.gqa if r <= h]
        with open(a.attention, "w") as f:
            for line in info():
                print("# " + line, file=f)
            attention(f, grid, a.attention_backends.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
