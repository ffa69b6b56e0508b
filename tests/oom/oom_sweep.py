#!/usr/bin/env python3
"""Allocation-failure sweep: run a scalepath command again and again, each
time making one of the allocations of scalepath's own code fail
(tests/oom/failalloc.c, preloaded), and check that it fails cleanly.

Usage: oom_sweep.py FAILALLOC.so MAX_RUNS [--output FILE] -- COMMAND...

A first run fails nothing: its allocation count C, its stdout and its
output FILE (if given) are the reference. Then allocation n fails, for
n = 1 .. C, every one while C <= MAX_RUNS, else the first MAX_RUNS / 2 and
the rest spread evenly over the others (deterministic). Each run must:
- end by exit, not by a signal or a hang, with a status scalepath uses
  (0-4), and the injector's report written (no abort, no _exit);
- if it exits 0 (the failure was absorbed: a fallback, a message dropped),
  print the reference stdout and write the reference FILE, byte for byte,
  unless it said "out of host memory" (an emulated program's CUDA, NCCL,
  MPI or pthread call failed, and the program went on);
- otherwise say "out of memory" on stderr, exit 1 (scalepath's status for
  it), report no hang with it (what the failure left waiting is its
  consequence: no rank, stream or emulated thread may be named as waiting
  for a message or a rank that the failure stopped), and leave neither FILE nor
  FILE.partial behind; an emulated
  program's failed call ("out of host memory") ends the run as the program
  makes it end.
Set SP_FAIL_ALLOC=n SP_FAIL_ALLOC_TRACE=1 LD_PRELOAD=FAILALLOC.so on the
command by hand to see where a failing run's allocation was made.
"""
import os
import subprocess
import sys
import tempfile


def main():
    argv = sys.argv[1:]
    if "--" not in argv or len(argv) < 4:
        sys.exit(__doc__)
    cut = argv.index("--")
    opts, cmd = argv[:cut], argv[cut + 1:]
    lib, max_runs = os.path.abspath(opts[0]), int(opts[1])
    output = opts[3] if len(opts) >= 4 and opts[2] == "--output" else None
    log = tempfile.NamedTemporaryFile(prefix="failalloc-", suffix=".log", delete=False).name

    def run(n):
        for p in ([output, output + ".partial"] if output else []):
            if os.path.exists(p):
                os.remove(p)
        if os.path.exists(log):
            os.remove(log)
        env = dict(os.environ, LD_PRELOAD=lib, SP_FAIL_ALLOC=str(n), SP_FAIL_ALLOC_LOG=log)
        try:
            p = subprocess.run(cmd, capture_output=True, env=env, timeout=120)
        except subprocess.TimeoutExpired:
            return None
        report = None
        if os.path.exists(log):
            with open(log) as f:
                count, injected = f.read().split()
                report = (int(count), int(injected))
        data = None
        if output and os.path.exists(output):
            with open(output, "rb") as f:
                data = f.read()
        partial = bool(output) and os.path.exists(output + ".partial")
        return p, report, data, partial

    ref = run(0)
    if ref is None or ref[0].returncode != 0 or ref[1] is None:
        sys.exit("FAIL: the reference run (no failure) did not succeed:\n%s"
                 % (ref[0].stderr.decode(errors="replace") if ref else "timed out"))
    total = ref[1][0]
    if total == 0:
        sys.exit("FAIL: the reference run counted no allocation: the injector is not working")
    if total <= max_runs:
        picks = list(range(1, total + 1))
    else:
        head = max_runs // 2
        rest = max_runs - head
        picks = list(range(1, head + 1))
        picks += sorted({head + 1 + (i * (total - head - 1)) // max(rest - 1, 1) for i in range(rest)})
    bad = []
    absorbed = injected = 0
    for n in picks:
        r = run(n)
        if r is None:
            bad.append((n, "hung (over 120 s)"))
            continue
        p, report, data, partial = r
        err = p.stderr.decode(errors="replace")
        tail = err.strip().splitlines()[-3:]
        if p.returncode < 0:
            bad.append((n, "killed by signal %d: %s" % (-p.returncode, tail)))
        elif p.returncode > 4:
            bad.append((n, "exit status %d: %s" % (p.returncode, tail)))
        elif report is None:
            bad.append((n, "exit %d without the injector's report (abort or _exit?): %s" % (p.returncode, tail)))
        elif not report[1]:
            continue  # fewer allocations this time: nothing failed
        injected += 1
        if p.returncode == 0 and "out of host memory" in err:
            continue  # an emulated program's call failed, said so, and the program went on
        elif p.returncode == 0:
            absorbed += 1
            if p.stdout != ref[0].stdout:
                bad.append((n, "exit 0 after a failed allocation, but stdout differs from the reference"))
            elif output and data != ref[2]:
                bad.append((n, "exit 0 after a failed allocation, but %s differs from the reference" % output))
        else:
            told = "out of host memory" in err  # an emulated program's call: the run ends as the program does
            if "out of memory" not in err and not told:
                bad.append((n, "exit %d without \"out of memory\": %s" % (p.returncode, tail)))
            elif p.returncode != 1 and not told:
                bad.append((n, "exit %d, not 1 (out of memory): %s" % (p.returncode, tail)))
            if p.returncode == 1 and ("never returned from" in err or "never finished" in err):
                bad.append((n, "out of memory, and a hang reported: %s" % tail))
            if output and (data is not None or partial):
                bad.append((n, "exit %d but left %s behind" % (p.returncode, output + (".partial" if partial else ""))))
    os.remove(log)
    if injected == 0:
        bad.append((0, "no run had an allocation fail"))
    print("%s: %d allocations, %d failed one at a time, %d absorbed (same output), %d bad"
          % (" ".join(cmd[:2]), total, len(picks), absorbed, len(bad)))
    for n, why in bad[:20]:
        print("FAIL: allocation %d: %s" % (n, why))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
