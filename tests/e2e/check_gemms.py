#!/usr/bin/env python3
"""`scalepath train --gemms` against the GPU's measured table: every GEMM
it lists whose shape and precision the catalogue measured (efficiency.gemm_shapes in
platforms/include/gpus.cfg, GPU model named on the first line) is given
back its measured throughput, to the printed precision; at least one is.
(The quantization of fp8 operands is priced apart, per linear layer, so an
fp8 GEMM too is listed at its measured throughput.)
Usage: check_gemms.py SCALEPATH GPUS.cfg TRAIN-ARGS..."""
import re
import subprocess
import sys

from sp_check import fail


def table(path, gpu):
    text = open(path).read()
    at = text.find(f'model = "{gpu}"')
    if at < 0:
        fail(f"{gpu} not in {path}")
    end = text.find("model = ", at + 10)
    block = text[at:end if end > 0 else len(text)]
    pat = r'\{ m = (\d+); n = (\d+); k = (\d+); precision = "(\w+)"; TFLOPs = ([0-9.]+); \}'
    return {(int(m), int(n), int(k), p): float(t) for m, n, k, p, t in re.findall(pat, block)}


def main(argv):
    exe, cfg, args = argv[0], argv[1], argv[2:]
    p = subprocess.run([exe, "train"] + args + ["--gemms"], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"exit {p.returncode}: {p.stderr}")
    gpu = re.search(r"train --gemms: .* \(([^)]+)\)", p.stdout.splitlines()[0]).group(1)
    measured = table(cfg, gpu)
    if not measured:
        fail(f"no gemm_shapes for {gpu} in {cfg}")
    matched = 0
    for line in p.stdout.splitlines():
        if line.startswith("#"):
            continue
        f = line.split()
        key = (int(f[3]), int(f[4]), int(f[5]), f[2])
        if key in measured:
            matched += 1
            if abs(float(f[8]) - measured[key]) > 0.051:
                fail(f"{line.strip()}: measured {measured[key]} TFLOP/s")
    if matched == 0:
        fail("no listed GEMM has a measured shape")
    print(f"ok: {matched} GEMMs at their measured throughput ({gpu})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
