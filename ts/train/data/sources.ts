/**
 * Where training pairs come from: generated clips, sequences from the dataset readers (GOT-10k,
 * LaSOT, TrackingNet, OTB) and COCO still images. Each source draws a template frame and a later
 * search frame of one target, OSTrack's "causal" way: both visible, at most `maxGap` frames apart.
 */
import type { CocoDataset } from '../../deploy/datasets/coco.js';
import type { Sequence } from '../../deploy/datasets/common.js';
import { readImage } from '../../deploy/io/images.js';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box, Frame } from '../../contract/types.js';
import { readTracks } from './pseudo-label.js';
import { createClip, trainingClipSeed, type ClipOptions, type SyntheticClip } from './generator.js';
import type { Rng } from './random.js';

export interface FramePair {
  template: Frame;
  templateBox: Box;
  search: Frame;
  searchBox: Box;
  /** False where the boxes only place the crops (a teacher's track, not a label). Default true. */
  labelled?: boolean;
}

export interface PairSource {
  /** Shown in logs and carried by each sample. */
  name: string;
  /**
   * Draws one pair using only `rng` and `index` (the sample's place in the training stream), so the
   * same two give the same pair.
   */
  drawPair(rng: Rng, index: number): Promise<FramePair>;
}

/** OSTrack's MAX_SAMPLE_INTERVAL. */
export const DEFAULT_MAX_GAP = 200;

/**
 * A visible template frame that has a visible frame after it, then a visible search frame at most
 * `maxGap` later; the gap widens by 5 until one exists, as OSTrack's sampler does.
 */
export function pickFramePair(rng: Rng, visible: readonly boolean[], maxGap: number): [number, number] {
  const shown = visible.flatMap((v, i) => (v ? [i] : []));
  if (shown.length < 2) throw new CtEdgeError('ERR_DATASET', 'a sequence needs at least two frames with a visible target to make a pair');
  const template = shown[rng.int(shown.length - 1)];
  for (let gap = maxGap; ; gap += 5) {
    const candidates = shown.filter((i) => i > template && i <= template + gap);
    if (candidates.length > 0) return [template, rng.pick(candidates)];
  }
}

export interface SyntheticSourceOptions {
  seed: number;
  clip?: ClipOptions;
  maxGap?: number;
  /** Clips alive at once; a batch mixes clips from this pool (default 32). */
  poolSize?: number;
  /** Samples drawn per clip on average before the pool moves on to new clips (default 8). */
  reuse?: number;
}

/**
 * Generated clips, an endless stream of new ones. Planning a clip costs far more than rendering two
 * of its frames, so sample `index` draws from a pool of `poolSize` clips that is replaced every
 * `poolSize * reuse` samples; which clip a sample gets depends only on the seed and the index.
 */
export function syntheticSource(options: SyntheticSourceOptions): PairSource {
  const poolSize = options.poolSize ?? 32;
  const reuse = options.reuse ?? 8;
  const maxGap = options.maxGap ?? DEFAULT_MAX_GAP;
  const cache = new Map<number, SyntheticClip>();
  const clipFor = (k: number) => {
    let clip = cache.get(k);
    if (!clip) {
      clip = createClip(trainingClipSeed(options.seed, k), options.clip);
      // Room for the current pool and the previous one (a batch can straddle the boundary).
      if (cache.size >= 2 * poolSize) cache.delete(cache.keys().next().value!);
      cache.set(k, clip);
    }
    return clip;
  };
  return {
    name: 'synthetic',
    async drawPair(rng, index) {
      const generation = Math.floor(index / (poolSize * reuse));
      const clip = clipFor(generation * poolSize + rng.int(poolSize));
      const [t, s] = pickFramePair(rng, clip.visible, maxGap);
      return { template: clip.renderFrame(t), templateBox: clip.boxes[t], search: clip.renderFrame(s), searchBox: clip.boxes[s] };
    },
  };
}

/** Sequences from ts/deploy/datasets (openDataset(...).sequences); sequences with under two visible frames are left out. */
export function sequenceSource(name: string, sequences: readonly Sequence[], options: { maxGap?: number } = {}): PairSource {
  const maxGap = options.maxGap ?? DEFAULT_MAX_GAP;
  const usable = sequences.filter((s) => s.groundTruth.filter(Boolean).length >= 2);
  if (usable.length === 0) throw new CtEdgeError('ERR_DATASET', `source ${name}: no sequence has two or more frames with a visible target`);
  return {
    name,
    async drawPair(rng) {
      const sequence = rng.pick(usable);
      const [t, s] = pickFramePair(
        rng,
        sequence.groundTruth.map((b) => b !== null),
        maxGap,
      );
      const [template, search] = await Promise.all([readImage(sequence.framePaths[t]), readImage(sequence.framePaths[s])]);
      return { template, templateBox: sequence.groundTruth[t]!, search, searchBox: sequence.groundTruth[s]! };
    },
  };
}

/** COCO objects: the template and the search frame are the same image. */
export function cocoSource(coco: CocoDataset, name = 'coco'): PairSource {
  return {
    name,
    async drawPair(rng) {
      const object = rng.pick(coco.objects);
      const image = await readImage(object.imagePath);
      return { template: image, templateBox: object.box, search: image, searchBox: object.box };
    },
  };
}

/**
 * Tracks a teacher followed through unlabeled footage (written by ts/train/data/pseudo-label.ts):
 * pairs within one track, their boxes the teacher's, so `labelled: false`.
 */
export async function trackSource(file: string, options: { maxGap?: number } = {}): Promise<PairSource> {
  const tracks = await readTracks(file);
  const maxGap = options.maxGap ?? DEFAULT_MAX_GAP;
  return {
    name: file,
    async drawPair(rng) {
      const track = rng.pick(tracks);
      const [t, s] = pickFramePair(rng, track.frames.map(() => true), maxGap);
      const [template, search] = await Promise.all([readImage(track.frames[t]), readImage(track.frames[s])]);
      return { template, templateBox: track.boxes[t], search, searchBox: track.boxes[s], labelled: false };
    },
  };
}
