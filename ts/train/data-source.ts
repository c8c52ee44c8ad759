/** The trainer's view of the pair sampler: batch `step` as tensors-to-be, reproducible by step. */
import type { TrackerNetConfig } from './model/config.js';
import { OSTRACK_DEFAULTS } from '../contract/model-config.js';
import { CtEdgeError } from '../contract/errors.js';
import { openCoco } from '../deploy/datasets/coco.js';
import { openDataset, type DatasetFormat } from '../deploy/datasets/dataset.js';
import { PairSampler, type SamplerOptions, type WeightedSource } from './data/sampler.js';
import { cocoSource, sequenceSource, syntheticSource, trackSource } from './data/sources.js';
import { compositeSource } from './data/composite.js';
import { regionSource } from './data/regions.js';
import type { ClipDifficulty, ClipOptions } from './data/generator.js';
import { hashSeed } from './data/random.js';
import type { PairBatchSource } from './objectives.js';

/**
 * One stream of training pairs, as plain data (worker threads rebuild the same sources from it):
 * generated clips; a labelled dataset folder; or tracks the teacher followed through unlabeled
 * footage (ts/train/data/pseudo-label.ts), whose boxes only place the crops: the objective takes
 * its targets from the teacher on each crop.
 */
export type DataSourceSpec =
  | { kind: 'synthetic'; weight: number; mix?: Partial<Record<ClipDifficulty, number>> }
  | { kind: 'dataset'; weight: number; root: string; format: DatasetFormat }
  | { kind: 'coco'; weight: number; annotations: string; images?: string }
  /** The teacher's tracks of unlabeled footage (ts/train/data/pseudo-label.ts); `name` says which footage. */
  | { kind: 'tracks'; weight: number; file: string; name?: string }
  /**
   * Unlabeled videos or image folders, before the teacher tracked them into a 'tracks' source;
   * `stills`: unrelated still images, each its own one-frame clip (template and search from it).
   */
  | { kind: 'footage'; weight: number; inputs: string[]; stills?: boolean; regions?: boolean }
  /** Random regions of real frames (ts/train/data/regions.ts): each clip a list of frame paths. */
  | { kind: 'regions'; weight: number; name: string; clips: string[][] }
  /** Cut-out objects over photographs, labelled (ts/train/data/composite.ts). */
  | { kind: 'composite'; weight: number; name: string; objects: string[]; backgrounds: string[] };

/**
 * A source as a run's description holds it: what it reads, never where a cache keeps it (the
 * footage's content is checked apart, by hash: LoopOptions.inputs), so a cache can move.
 */
function describeSource(spec: DataSourceSpec): Record<string, unknown> {
  if (spec.kind === 'regions') return { kind: spec.kind, weight: spec.weight, name: spec.name, frames: spec.clips.reduce((n, c) => n + c.length, 0) };
  if (spec.kind === 'tracks' && spec.name !== undefined) return { kind: spec.kind, weight: spec.weight, name: spec.name };
  if (spec.kind === 'composite') return { kind: spec.kind, weight: spec.weight, name: spec.name, objects: spec.objects.length, backgrounds: spec.backgrounds.length };
  return spec;
}

export interface TrainingDataOptions {
  seed: number;
  clip?: ClipOptions;
  /** Shares of each clip difficulty in the stream (default: all of clip.difficulty, moderate). */
  mix?: Partial<Record<ClipDifficulty, number>>;
  /** Where pairs come from, with shares; default generated clips of `mix`. */
  sources?: DataSourceSpec[];
  /** Overrides of the sampler's OSTrack defaults (jitter, augmentation); the crop geometry is the network's. */
  sampling?: Partial<Omit<SamplerOptions, 'seed' | 'templateSize' | 'searchSize' | 'templateFactor' | 'searchFactor' | 'channelOrder'>>;
  /** Pairs drawn per generated clip on average (default 8: planning a clip costs more than a pair). */
  clipReuse?: number;
}

/** Generated clips of `mix`, one weighted source per difficulty. */
function syntheticSources(o: TrainingDataOptions, mix: Partial<Record<ClipDifficulty, number>> | undefined, weight: number, stream: number): WeightedSource[] {
  const entries = Object.entries(mix ?? { [o.clip?.difficulty ?? 'moderate']: 1 }) as [ClipDifficulty, number][];
  const total = entries.reduce((a, [, w]) => a + w, 0);
  return entries.map(([difficulty, w], i) => ({
    // the first source keeps the run's own seed, so a single-difficulty run does not depend on the mix
    source: syntheticSource({ seed: i === 0 && stream === 0 ? o.seed : hashSeed(o.seed, i, stream), clip: { ...o.clip, difficulty }, reuse: o.clipReuse }),
    weight: (weight * w) / total,
  }));
}

async function openSources(o: TrainingDataOptions): Promise<WeightedSource[]> {
  const specs = o.sources ?? [{ kind: 'synthetic', weight: 1, mix: o.mix }];
  const sources: WeightedSource[] = [];
  for (const [k, spec] of specs.entries()) {
    if (!(spec.weight > 0)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `data source ${k + 1} has share ${spec.weight}; shares must be positive`);
    switch (spec.kind) {
      case 'synthetic':
        sources.push(...syntheticSources(o, spec.mix ?? o.mix, spec.weight, k));
        break;
      case 'dataset':
        sources.push({ source: sequenceSource(spec.root, (await openDataset(spec.root, spec.format)).sequences), weight: spec.weight });
        break;
      case 'coco':
        sources.push({ source: cocoSource(await openCoco(spec.annotations, spec.images), spec.annotations), weight: spec.weight });
        break;
      case 'tracks':
        sources.push({ source: await trackSource(spec.file), weight: spec.weight });
        break;
      case 'regions':
        sources.push({ source: regionSource(spec.name, spec.clips), weight: spec.weight });
        break;
      case 'composite':
        sources.push({ source: compositeSource(spec.name, spec.objects, spec.backgrounds), weight: spec.weight });
        break;
      case 'footage':
        throw new CtEdgeError('ERR_INVALID_ARGUMENT', `unlabeled footage (${spec.inputs.join(', ')}) trains only through a teacher: compress it (compressTracker tracks it first)`);
    }
  }
  return sources;
}

/** Whether any source's boxes are not labels (the objective must take its targets from a teacher). */
export const hasUnlabeledData = (o: TrainingDataOptions): boolean => (o.sources ?? []).some((s) => s.kind === 'tracks' || s.kind === 'footage' || s.kind === 'regions');

/** Pairs from `o`'s sources, cropped for `net`'s template and search sizes and channel order. */
export function trainingPairs(net: TrackerNetConfig, o: TrainingDataOptions): PairBatchSource {
  let sampler: Promise<PairSampler> | undefined;
  const open = () =>
    (sampler ??= openSources(o).then(
      (sources) =>
        new PairSampler(sources, {
          seed: o.seed,
          templateSize: net.templateSize,
          searchSize: net.searchSize,
          templateFactor: net.templateFactor,
          searchFactor: net.searchFactor,
          channelOrder: net.channelOrder ?? OSTRACK_DEFAULTS.channelOrder,
          ...o.sampling,
        }),
    ));
  return {
    async batch(step, count, part) {
      const b = await (await open()).batch(step, count, part?.from, part?.to);
      // the sampler gives (cx, cy, w, h); the losses take (x, y, w, h) like OSTrack's ground truth
      const boxes = new Float32Array(b.boxes.length);
      for (let i = 0; i < b.size; i++) {
        const [cx, cy, w, h] = b.boxes.subarray(i * 4, i * 4 + 4);
        boxes.set([cx - w / 2, cy - h / 2, w, h], i * 4);
      }
      return { count: b.size, template: b.template, search: b.search, boxes, labelled: b.labelled };
    },
    describe: () =>
      o.sources
        ? { kind: 'pairs', seed: o.seed, clip: o.clip ?? {}, sources: o.sources.map(describeSource), ...(o.sampling && { sampling: o.sampling }) }
        : { kind: 'synthetic', seed: o.seed, clip: o.clip ?? {}, mix: o.mix ?? { [o.clip?.difficulty ?? 'moderate']: 1 } },
  };
}
