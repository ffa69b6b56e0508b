#!/usr/bin/env bash
# Regenerate the key tables of docs/platform-format.md from the loader's own
# tables (`scalepath check --format`). Usage: scripts/update-platform-doc.sh [SCALEPATH]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exe=${1:-$root/build/sim/scalepath}
doc=$root/docs/platform-format.md
tables=$("$exe" check --format)
/usr/bin/python3 - "$doc" "$tables" <<'PY'
import sys
path, tables = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- BEGIN scalepath check --format -->", "<!-- END scalepath check --format -->"
head, rest = text.split(begin)
_, tail = rest.split(end)
open(path, "w").write(head + begin + "\n" + tables + "\n" + end + tail)
PY
