#!/usr/bin/env python3
"""`scalepath calibrate` round trip: a log made from a simulated sweep with a
known distortion (t' = 12 us + 1.25 t) is fitted back to latency 12 and time
scale 1.25; the calibrated platform file it writes loads, and `scalepath
nccl` on it reproduces the log's times within 0.1%. Then the same with a
log of one thread driving 8 GPUs (--gpus-per-thread). And a platform whose
@include nests (an included file includes another, named from the top
file's folder as libconfig names it), sits in a comment, and has a setting
and a comment's start after its name: the calibrated copy, written to
another folder, has every included file copied in once, the commented ones
left alone and the rest of the line kept, and gives the same times (its
calibration read, though the platform file ends inside a comment). The
fit's date is SOURCE_DATE_EPOCH's (the same bytes twice; malformed values
refused) and -o of a piped platform is refused before the fit.
Usage: check_calibrate.py SCALEPATH OUTDIR"""
import os
import re
import subprocess
import sys

exe, outdir = sys.argv[1], sys.argv[2]
os.makedirs(outdir, exist_ok=True)


def check_reproduces(args, log, what):
    """`scalepath nccl ARGS` prints every size of LOG at its time, within 0.1%."""
    out = subprocess.run([exe, "nccl"] + args, capture_output=True, text=True, check=True).stdout
    want = {int(l.split()[0]): float(l.split()[5]) for l in open(log) if l.strip() and not l.startswith("#")}
    got = {int(l.split()[0]): float(l.split()[5]) for l in out.splitlines() if l.strip() and not l.startswith("#")}
    if set(got) != set(want):
        sys.exit(f"FAIL: {what}: sizes {sorted(got)} against the log's {sorted(want)}")
    for size, t in got.items():
        if abs(t - want[size]) > 1e-3 * want[size]:
            sys.exit(f"FAIL: {what}: {size} B: calibrated {t} us, log {want[size]} us")
    return len(want)


sweep = ["-p", "platforms/dgx-spark.cfg", "-n", "2", "-b", "8K", "-e", "256M", "-f", "4"]
sim = subprocess.run([exe, "nccl"] + sweep, capture_output=True, text=True, check=True).stdout
log = os.path.join(outdir, "measured.log")
with open(log, "w") as f:
    for line in sim.splitlines():
        if line.startswith("#") or not line.strip():
            f.write(line + "\n")
            continue
        c = line.split()
        t = 12.0 + 1.25 * float(c[5])
        c[5] = c[9] = f"{t:.2f}"
        f.write("  ".join(c) + "\n")
cal = os.path.join(outdir, "spark-calibrated.cfg")
r = subprocess.run([exe, "calibrate", "-p", "platforms/dgx-spark.cfg", "-n", "2", "--log", log, "-o", cal],
                   capture_output=True, text=True)
if r.returncode != 0:
    sys.exit(f"FAIL: calibrate exited {r.returncode}: {r.stderr}")
m = re.search(r"latency_us = ([0-9.]+), time_scale = ([0-9.]+)", r.stdout)
if not m or abs(float(m.group(1)) - 12.0) > 0.05 or abs(float(m.group(2)) - 1.25) > 0.001:
    sys.exit(f"FAIL: fit {m.groups() if m else r.stdout}")
nsizes = check_reproduces(["-p", cal] + sweep[2:], log, "calibrated Spark pair")
# A calibrated file is not calibrated again (the fit must start from the uncalibrated platform).
twice = subprocess.run([exe, "calibrate", "-p", cal, "-n", "2", "--log", log], capture_output=True, text=True)
if twice.returncode != 2 or "already calibrated" not in twice.stderr:
    sys.exit(f"FAIL: calibrating a calibrated file: exit {twice.returncode}, {twice.stderr}")
print(f"ok: fitted latency {m.group(1)} us, time scale {m.group(2)}; {nsizes} sizes reproduced")

# A log in which one thread drove 8 GPUs (nccl-tests -g 8): its times are
# the larger of 8 launches (of the DGX H100 file's nccl.launch_us) and the collective,
# here distorted as 2 us + 1.1 t. With --gpus-per-thread 8 the sizes the
# launches rule are left out of the fit, which recovers 2 and 1.1, and the
# calibrated platform reproduces every size with `nccl --gpus-per-thread 8`;
# without it, calibrate warns (the header says nGpus 8) and the fit takes
# the launches for latency.
h100 = ["-p", "platforms/dgx-h100.cfg", "-b", "8", "-e", "64M", "-f", "4"]
sim = subprocess.run([exe, "nccl"] + h100, capture_output=True, text=True, check=True).stdout
log8 = os.path.join(outdir, "measured-g8.log")
hdr = subprocess.run([exe, "nccl", "--gpus-per-thread", "8"] + h100[:2] + ["-b", "8", "-e", "8"],
                     capture_output=True, text=True, check=True).stdout
floor = 8 * float(re.search(r"8 launch\(es\) x ([0-9.]+) us", hdr).group(1))  # the platform's nccl.launch_us
with open(log8, "w") as f:
    f.write("# nThread 1 nGpus 8 minBytes 8 maxBytes 67108864 step: 4(factor) warmup iters: 5 iters: 20\n")
    for line in sim.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        c = line.split()
        t = max(floor, 2.0 + 1.1 * float(c[5]))
        c[5] = c[9] = f"{t:.2f}"
        f.write("  ".join(c) + "\n")
cal8 = os.path.join(outdir, "h100-calibrated-g8.cfg")
r = subprocess.run([exe, "calibrate", "-p", "platforms/dgx-h100.cfg", "--log", log8, "--gpus-per-thread", "8",
                    "-o", cal8], capture_output=True, text=True)
m = re.search(r"latency_us = ([0-9.]+), time_scale = ([0-9.]+)", r.stdout)
nhost = sum(1 for l in r.stdout.splitlines() if l.endswith("  host"))
if r.returncode != 0 or not m or abs(float(m.group(1)) - 2.0) > 0.05 or abs(float(m.group(2)) - 1.1) > 0.001:
    sys.exit(f"FAIL: --gpus-per-thread 8 fit: exit {r.returncode}, {m.groups() if m else r.stdout + r.stderr}")
if nhost < 3 or "warning" in r.stderr:
    sys.exit(f"FAIL: {nhost} sizes marked host; stderr {r.stderr}")
check_reproduces(["-p", cal8, "--gpus-per-thread", "8"] + h100[2:], log8, "calibrated H100, --gpus-per-thread 8")
plain = subprocess.run([exe, "calibrate", "-p", "platforms/dgx-h100.cfg", "--log", log8], capture_output=True,
                       text=True)
mp = re.search(r"latency_us = ([0-9.]+), time_scale", plain.stdout)
if plain.returncode != 0 or ":1: warning: nGpus 8: one thread drove 8 GPUs" not in plain.stderr or not mp or \
        float(mp.group(1)) < 4.0:
    sys.exit(f"FAIL: without --gpus-per-thread: exit {plain.returncode}, {plain.stderr}, {mp.groups() if mp else ''}")
print(f"ok: with nGpus 8, {nhost} sizes left to the host's launches; fitted 2 us and 1.1 back; "
      f"without the option the fit takes {mp.group(1)} us of latency")

# Includes nested and commented out; the copy is written elsewhere.
src, dst = os.path.join(outdir, "nested"), os.path.join(outdir, "elsewhere")
os.makedirs(os.path.join(src, "inc"), exist_ok=True)
os.makedirs(dst, exist_ok=True)
with open("platforms/dgx-spark.cfg") as f:
    text = f.read()
if '@include "include/gpus.cfg"' not in text:
    sys.exit("FAIL: platforms/dgx-spark.cfg no longer includes include/gpus.cfg")
# libconfig reads on after an include's closing quote (here a setting and a
# comment that opens), and nothing inside a comment.
if 'description = "' not in text:
    sys.exit("FAIL: platforms/dgx-spark.cfg has no description line")
text = "\n".join(l for l in text.splitlines() if not l.startswith('description = "'))
with open(os.path.join(src, "p.cfg"), "w") as f:
    f.write(text.replace('@include "include/gpus.cfg"',
                         '/* a comment over lines:\n@include "missing.cfg"\n*/\n'
                         '@include "inc/wrap.cfg" description = "after the include"; /* opens\n'
                         '@include "missing2.cfg" */') + "\n/* a comment libconfig lets the file end in")
with open(os.path.join(src, "inc", "wrap.cfg"), "w") as f:
    f.write('# named from the top file\'s folder, as libconfig names it\n@include "gpus.cfg"\n')
with open("platforms/include/gpus.cfg") as f, open(os.path.join(src, "gpus.cfg"), "w") as g:
    g.write(f.read())
calx = os.path.join(dst, "p-calibrated.cfg")
r = subprocess.run([exe, "calibrate", "-p", os.path.join(src, "p.cfg"), "-n", "2", "--log", log, "-o", calx],
                   capture_output=True, text=True)
if r.returncode != 0:
    sys.exit(f"FAIL: calibrate of the nested platform exited {r.returncode}: {r.stderr}")
with open(calx) as f:
    lines = f.read().splitlines()
active = [l for l in lines if l.lstrip().startswith("@include")]
copied = [l for l in lines if l.startswith("# --- ") and "copied in" in l]
if active != ['@include "missing.cfg"', '@include "missing2.cfg" */'] or len(copied) != 2 or \
        ' description = "after the include"; /* opens' not in lines:
    sys.exit(f"FAIL: the nested copy: includes left {active}, copied {copied}")
check_reproduces(["-p", calx] + sweep[2:], log, "calibrated nested platform, elsewhere")
print("ok: nested and commented includes: %d files copied in, the copy loads from another folder" % len(copied))

# An included file that ends inside a string, which libconfig continues into
# the including file: one file cannot hold it, and calibrate says so.
with open(os.path.join(src, "q.cfg"), "w") as f:
    f.write(text.replace('@include "include/gpus.cfg"',
                         '@include "gpus.cfg"\n@include "inc/open.cfg"\n over two files";'))
with open(os.path.join(src, "inc", "open.cfg"), "w") as f:
    f.write('description = "a description\n')
calq = os.path.join(dst, "q-calibrated.cfg")
ok = subprocess.run([exe, "check", os.path.join(src, "q.cfg")], capture_output=True, text=True)
r = subprocess.run([exe, "calibrate", "-p", os.path.join(src, "q.cfg"), "-n", "2", "--log", log, "-o", calq],
                   capture_output=True, text=True)
if ok.returncode != 0 or r.returncode != 2 or "open.cfg: error: ends inside a string" not in r.stderr or \
        os.path.exists(calq) or os.path.exists(calq + ".partial"):
    sys.exit(f"FAIL: a string split over files: check exit {ok.returncode} {ok.stderr}; "
             f"calibrate exit {r.returncode}: {r.stderr}")
print("ok: a string split over two files is refused, nothing written")

# The fit's date: SOURCE_DATE_EPOCH's when set, so the same inputs give the
# same bytes on any day; with -o, a value that is not seconds since 1970 up
# to 9999-12-31 is refused before anything runs.
def calibrate_env(value, out):
    env = dict(os.environ, SOURCE_DATE_EPOCH=value)
    return subprocess.run([exe, "calibrate", "-p", "platforms/dgx-spark.cfg", "-n", "2", "--log", log, "-o", out],
                          capture_output=True, text=True, env=env)


d1, d2, d3 = (os.path.join(outdir, f"dated{i}.cfg") for i in (1, 2, 3))
r1, r2, r3 = calibrate_env("0", d1), calibrate_env("0", d2), calibrate_env("1767225599", d3)
if r1.returncode or r2.returncode or r3.returncode:
    sys.exit(f"FAIL: calibrate with SOURCE_DATE_EPOCH: {r1.stderr}{r2.stderr}{r3.stderr}")
b1, b2, b3 = (open(p, "rb").read() for p in (d1, d2, d3))
if b1 != b2 or b"fitted 1970-01-01\"" not in b1 or b3 != b1.replace(b"fitted 1970-01-01", b"fitted 2025-12-31"):
    sys.exit("FAIL: SOURCE_DATE_EPOCH: the two runs differ, or the date is not the variable's")
for bad in ("yesterday", "-1", "", "12e3", " 1", "+1", "99999999999999999999999", "253402300800"):
    out = os.path.join(outdir, "undated.cfg")
    r = calibrate_env(bad, out)
    if r.returncode != 2 or f'SOURCE_DATE_EPOCH="{bad}": not a number of seconds' not in r.stderr or \
            r.stdout or os.path.exists(out) or os.path.exists(out + ".partial"):
        sys.exit(f"FAIL: SOURCE_DATE_EPOCH={bad!r}: exit {r.returncode}, {r.stderr}, wrote {os.path.exists(out)}")
last = os.path.join(outdir, "dated9999.cfg")
r = calibrate_env("253402300799", last)
if r.returncode or b'fitted 9999-12-31"' not in open(last, "rb").read():
    sys.exit(f"FAIL: SOURCE_DATE_EPOCH at 9999-12-31: {r.stderr}")
print("ok: SOURCE_DATE_EPOCH dates the fit (the same bytes twice; up to 9999-12-31); eight malformed or "
      "out-of-range values refused, nothing run")

# -o copies the platform file after reading it: from a pipe it cannot, and
# says so before the fit instead of after its table.
with open("platforms/dgx-spark.cfg") as f:
    r = subprocess.run([exe, "calibrate", "-p", "/dev/stdin", "-n", "2", "--log", log, "-o",
                        os.path.join(outdir, "piped.cfg")], input=f.read(), capture_output=True, text=True)
if r.returncode != 2 or "not a regular file (a pipe?): save it to a file first" not in r.stderr or r.stdout or \
        os.path.exists(os.path.join(outdir, "piped.cfg")):
    sys.exit(f"FAIL: calibrate -p from a pipe with -o: exit {r.returncode}, {r.stdout}{r.stderr}")
print("ok: calibrate -o of a piped platform refused before the fit")
