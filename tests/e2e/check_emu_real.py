#!/usr/bin/env python3
"""A probe program's output under `scalepath emulate` against the real
libraries' (tests/data/emu/*.expected, taken on a real GPU by
bench/emulate_real.sh): every line the same.

    check_emu_real.py SCALEPATH PROGRAM.so EXPECTED

The program runs on one DGX Spark (one GPU, as on the machine the expected
output was taken on); its lines are what it printed before the emulator's
own report (`# scalepath ...`). Lines of EXPECTED starting with `#` are its
header."""
import difflib
import subprocess
import sys


def main(argv):
    exe, prog, expected = argv
    p = subprocess.run([exe, "emulate", "-p", "platforms/dgx-spark.cfg", "-n", "1", prog],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout + p.stderr)
        print(f"FAIL: exit {p.returncode}")
        return 1
    got = []
    for line in p.stdout.splitlines():
        if line.startswith("# scalepath"):
            break
        got.append(line)
    want = [line for line in open(expected).read().splitlines() if not line.startswith("#")]
    if got != want:
        sys.stdout.writelines(difflib.unified_diff([w + "\n" for w in want], [g + "\n" for g in got],
                                                   "real libraries", "emulator"))
        print(f"FAIL: {sum(1 for a, b in zip(want, got) if a != b) + abs(len(want) - len(got))} line(s) differ")
        return 1
    print(f"ok: {len(got)} lines as the real libraries gave them")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
