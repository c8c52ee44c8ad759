#!/usr/bin/env bash
# Copies a run's resume checkpoint to snapshots/step-N.safetensors whenever it reaches one of the
# given steps (the learning curve's log-spaced points), while the run trains:
#   runs/snapshot-steps.sh runs/vittrack-mlp1/student 300 600 1200 ...
set -euo pipefail
base=$1; shift
dir=$(dirname "$base")/snapshots
mkdir -p "$dir"
step_of() {
  python3 - "$1" <<'PY'
import json, struct, sys
with open(sys.argv[1], 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    print(json.loads(f.read(n))['__metadata__']['ct_edge.train.step'])
PY
}
while :; do
  if [ -f "$base.resume.safetensors" ]; then
    step=$(step_of "$base.resume.safetensors" 2>/dev/null || echo 0)
    for want in "$@"; do
      if [ "$step" = "$want" ] && [ ! -f "$dir/step-$want.safetensors" ]; then
        cp "$base.resume.safetensors" "$dir/step-$want.safetensors"
        echo "snapshot step $want"
      fi
    done
  fi
  sleep 20
done
