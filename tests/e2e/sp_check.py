"""What the e2e check scripts share: fail with a message, run a command
that must succeed, an HDF5 string as text. (Imported by scripts in this folder, which Python puts
on the module path when it runs them.)"""
import subprocess
import sys


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd):
    """The command's stdout; a failure (non-zero exit) ends the check."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        fail("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.stdout


def s(v):
    """An HDF5 string (bytes) or any value as text."""
    return v.decode() if isinstance(v, bytes) else str(v)
