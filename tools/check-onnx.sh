#!/usr/bin/env bash
# Maintainer check (CI runs it): the ONNX that ct-edge writes passes onnx.checker.check_model with
# full_check=True. Exports checkpoints with `ct-edge export` (the command test/export-onnx.test.ts
# exports its model with) into a temporary folder and checks them; with no arguments, every
# models/*.safetensors, and the shipped models/*.onnx too. Needs a python3 with the onnx package:
# `sudo apt-get install python3-onnx` or `pip install onnx` (PYTHON=/path/to/python picks one).
#
#   tools/check-onnx.sh [checkpoint.safetensors ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python=""
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$candidate" -c 'import onnx' 2>/dev/null; then python="$candidate"; break; fi
done
if [[ -z "$python" ]]; then
  echo "no python3 with the onnx package: sudo apt-get install python3-onnx, or pip install onnx (PYTHON=/path/to/python picks one)" >&2
  exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
checkpoints=("$@")
[[ $# -gt 0 ]] || checkpoints=(models/*.safetensors)
files=()
for checkpoint in "${checkpoints[@]}"; do
  out="$tmp/$(basename "${checkpoint%.safetensors}").onnx"
  node --import tsx ts/cli/main.ts export "$checkpoint" -o "$out" >/dev/null
  files+=("$checkpoint=$out")
done
if [[ $# -eq 0 ]]; then
  for shipped in models/*.onnx; do files+=("$shipped=$shipped"); done
fi

"$python" - "${files[@]}" <<'PY'
import sys
import onnx

failed = False
for arg in sys.argv[1:]:
    source, path = arg.split("=", 1)
    what = f"export of {source}" if source != path else source
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        print(f"ok   {what}")
    except Exception as error:  # the checker's own errors, and files onnx cannot load
        print(f"FAIL {what}: {error}", file=sys.stderr)
        failed = True
print(f"onnx {onnx.__version__} ({sys.executable})")
sys.exit(1 if failed else 0)
PY
