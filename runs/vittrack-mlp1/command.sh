#!/usr/bin/env bash
# The 3-block asymmetric student with MLP ratio 1 (runs/README.md), from the checkout
# (the same as `npx ct-edge compress ...` once installed). Add --resume to continue.
exec node --import tsx ts/cli/main.ts compress --teacher runs/vittrack.safetensors --blocks 3 --stages 1,1,1 --attention asymmetric --mlp-ratio 1 \
  --steps 4200 --batch 16 --lr 5e-4 --lr-schedule cosine --warmup 150 --ema 0.999 --clip-norm 300 \
  --workers 2 --checkpoint-every 100 --seed 7 \
  --data 'regions:../shared/data/unlabeled/*.avi@3' --data 'regions:stills:../traindata/photos@3' \
  --data '../shared/data/unlabeled/*.avi@1' --data synthetic@1 -o runs/vittrack-mlp1/student.safetensors "$@"
