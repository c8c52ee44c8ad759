#!/usr/bin/env bash
# The ablation at 300 steps behind docs/BENCHMARKS.md ("Ablations at equal steps"): the long run's
# command (runs/README.md) with one change per variant, each stopped after its step-300 checkpoint
# (10% of that schedule), exported, then every student beside VitTrack on the validation sets
# (photo clips and the unlabeled videos' held-out tails), with VitTrack's lost rule and without it.
# The full method's seed 7 is the long run's own snapshot (runs/vittrack-asym/snapshots/step-300),
# boxes-only and joint attention are earlier runs at the same step (BENCHMARKS.md names them).
#
#   runs/ablation-300.sh [OUT_DIR]       default /tmp/ablation-300; a rerun skips finished variants
#
# Needs, from the repository root: runs/vittrack.safetensors, ../shared/data/unlabeled, the Debian
# photographs in ../traindata/photos and ../traindata/photos-val with its clips in
# ../traindata/val-clips (runs/README.md), tuxpaint-stamps-default. About 11 minutes a variant on
# one worker; two variants at a time on the two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/ablation-300}"
mkdir -p "$out"
ct() { node --import tsx ts/cli/main.ts "$@"; }
u=../shared/data/unlabeled
base=(--teacher runs/vittrack.safetensors --blocks 2 --stages 1,2 --attention asymmetric --steps 3000 --batch 16 --lr 5e-4
  --lr-schedule cosine --warmup 150 --ema 0.999 --clip-norm 300 --workers 1 --checkpoint-every 100)
footage_regions=(--data "regions:$u/*.avi@3")
stills_regions=(--data 'regions:stills:../traindata/photos@3')
rest=(--data "$u/*.avi@1" --data synthetic@1)

# step N of a resume checkpoint (safetensors metadata ct_edge.train.step), 0 when there is none
step_of() {
  node -e 'const fs=require("fs");try{const b=fs.readFileSync(process.argv[1]);const n=Number(b.readBigUInt64LE(0));console.log(JSON.parse(b.subarray(8,8+n)).__metadata__["ct_edge.train.step"])}catch{console.log(0)}' "$1"
}

# variant NAME ARGS...: compress until the step-300 checkpoint, keep it, stop the run (Ctrl-C twice)
variant() {
  local name=$1; shift
  [[ -f "$out/$name-300.safetensors" ]] && return
  ct compress "$@" -o "$out/$name.safetensors" --force >"$out/$name.out" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if (($(step_of "$out/$name.resume.safetensors") >= 300)); then
      cp "$out/$name.resume.safetensors" "$out/$name-300.safetensors"
      kill -INT "$pid"; sleep 2; kill -INT "$pid" 2>/dev/null || true
      break
    fi
    sleep 10
  done
  wait "$pid" || true
  [[ -f "$out/$name-300.safetensors" ]] || { tail -5 "$out/$name.out" >&2; exit 1; }
}

variant seed8 "${base[@]}" --seed 8 "${footage_regions[@]}" "${stills_regions[@]}" "${rest[@]}" &
variant seed9 "${base[@]}" --seed 9 "${footage_regions[@]}" "${stills_regions[@]}" "${rest[@]}"
wait
variant nomimic "${base[@]}" --seed 7 --no-mimic "${footage_regions[@]}" "${stills_regions[@]}" "${rest[@]}" &
variant nostills "${base[@]}" --seed 7 "${footage_regions[@]}" "${rest[@]}"
wait
variant nofootregions "${base[@]}" --seed 7 "${stills_regions[@]}" "${rest[@]}" &
variant composite "${base[@]}" --seed 7 "${footage_regions[@]}" "${stills_regions[@]}" "${rest[@]}" \
  --data composite:/usr/share/tuxpaint/stamps,../traindata/photos@1
wait
variant narrowstats "${base[@]}" --seed 7 --dim 32 --narrow-start stats "${footage_regions[@]}" "${stills_regions[@]}" "${rest[@]}" &
variant narrowcut "${base[@]}" --seed 7 --dim 32 --narrow-start cut "${footage_regions[@]}" "${stills_regions[@]}" "${rest[@]}"
wait

ct export runs/vittrack-asym/snapshots/step-300.safetensors -o "$out/seed7-300.onnx" >/dev/null
models=(--model models/vittrack.onnx --model "$out/seed7-300.onnx")
for v in seed8 seed9 nomimic nostills nofootregions composite narrowstats narrowcut; do
  ct export "$out/$v-300.safetensors" -o "$out/$v-300.onnx" >/dev/null
  models+=(--model "$out/$v-300.onnx")
done
for rule in on off; do
  lost=(); [[ $rule == off ]] && lost=(--lost-threshold 0)
  ct compare "${models[@]}" "${lost[@]}" --held-out 1 --targets 2 ../traindata/val-clips/* >"$out/photos-lost-$rule.md"
  ct compare "${models[@]}" "${lost[@]}" --targets 4 "$u"/*.avi >"$out/tails-lost-$rule.md"
done
grep -h '^|' "$out"/*-lost-*.md
