/** The trainer's view of the pair sampler: batch `step` as tensors-to-be, reproducible by step. */
import type { TrackerNetConfig } from './model/config.js';
import { OSTRACK_DEFAULTS } from '../contract/model-config.js';
import { PairSampler, type SamplerOptions } from './data/sampler.js';
import { syntheticSource } from './data/sources.js';
import type { ClipDifficulty, ClipOptions } from './data/generator.js';
import { hashSeed } from './data/random.js';
import type { PairBatchSource } from './objectives.js';

export interface SyntheticDataOptions {
  seed: number;
  clip?: ClipOptions;
  /** Shares of each clip difficulty in the stream (default: all of clip.difficulty, moderate). */
  mix?: Partial<Record<ClipDifficulty, number>>;
  /** Overrides of the sampler's OSTrack defaults (jitter, augmentation); the crop geometry is the network's. */
  sampling?: Partial<Omit<SamplerOptions, 'seed' | 'templateSize' | 'searchSize' | 'templateFactor' | 'searchFactor' | 'channelOrder'>>;
  /** Pairs drawn per generated clip on average (default 8: planning a clip costs more than a pair). */
  clipReuse?: number;
}

/** Pairs from generated clips, cropped for `net`'s template and search sizes. */
export function syntheticPairs(net: TrackerNetConfig, o: SyntheticDataOptions): PairBatchSource {
  const mix = Object.entries(o.mix ?? { [o.clip?.difficulty ?? 'moderate']: 1 }) as [ClipDifficulty, number][];
  const sources = mix.map(([difficulty, weight], i) => ({
    // the first source keeps the run's own seed, so a single-difficulty run does not depend on the mix
    source: syntheticSource({ seed: i === 0 ? o.seed : hashSeed(o.seed, i), clip: { ...o.clip, difficulty }, reuse: o.clipReuse }),
    weight,
  }));
  const sampler = new PairSampler(sources, {
    seed: o.seed,
    templateSize: net.templateSize,
    searchSize: net.searchSize,
    templateFactor: net.templateFactor,
    searchFactor: net.searchFactor,
    channelOrder: net.channelOrder ?? OSTRACK_DEFAULTS.channelOrder,
    ...o.sampling,
  });
  return {
    async batch(step, count, part) {
      const b = await sampler.batch(step, count, part?.from, part?.to);
      // the sampler gives (cx, cy, w, h); the losses take (x, y, w, h) like OSTrack's ground truth
      const boxes = new Float32Array(b.boxes.length);
      for (let i = 0; i < b.size; i++) {
        const [cx, cy, w, h] = b.boxes.subarray(i * 4, i * 4 + 4);
        boxes.set([cx - w / 2, cy - h / 2, w, h], i * 4);
      }
      return { count: b.size, template: b.template, search: b.search, boxes };
    },
    describe: () => ({ kind: 'synthetic', seed: o.seed, clip: o.clip ?? {}, mix: Object.fromEntries(mix) }),
  };
}
