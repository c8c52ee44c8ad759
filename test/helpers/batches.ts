/** Deterministic synthetic training batches for mechanics tests (not for learning anything real). */
import type { TrackerNetConfig } from '../../ts/train/model/config.js';
import { hashSeed, Rng } from '../../ts/train/data/random.js';
import type { PairBatch, PairBatchSource } from '../../ts/train/objectives.js';

export function randomBatch(config: TrackerNetConfig, count: number, seed: number): PairBatch {
  const rng = new Rng(seed);
  const fill = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 4 - 2);
  const boxes = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) {
    const w = 0.15 + rng.next() * 0.2;
    const h = 0.15 + rng.next() * 0.2;
    boxes.set([0.5 - w / 2 + (rng.next() - 0.5) * 0.1, 0.5 - h / 2 + (rng.next() - 0.5) * 0.1, w, h], i * 4);
  }
  return {
    count,
    template: fill(count * 3 * config.templateSize ** 2),
    search: fill(count * 3 * config.searchSize ** 2),
    boxes,
  };
}

/** A different random batch per step (or the same one every step with `fixed`). */
export function randomBatches(config: TrackerNetConfig, seed: number, fixed = false): PairBatchSource {
  return {
    batch: async (step, count) => randomBatch(config, count, fixed ? seed : hashSeed(seed, step)),
    describe: () => ({ kind: 'random', seed, fixed }),
  };
}
