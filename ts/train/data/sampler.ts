/**
 * OSTrack's training pairs: a template crop (factor 2, centred on the target) and a search crop
 * (factor 4 around a jittered box) from one sequence, with joint grayscale and horizontal flip and a
 * brightness jitter per crop. Crops go through the runtime's native cropToTensor (same window
 * arithmetic, padding and bilinear resize as the Tracker), so training sees the pixels deployment
 * sees. Sample `i` is a pure function of (seed, i): batches can be re-drawn after a resume.
 */
import { loadNative, type NativeAddon } from '../../deploy/native.js';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box, Frame } from '../../contract/types.js';
import { OSTRACK_DEFAULTS } from '../../contract/model-config.js';
import { hashSeed, Rng } from './random.js';
import type { PairSource } from './sources.js';

export interface SamplerOptions {
  seed: number;
  templateSize?: number;
  searchSize?: number;
  templateFactor?: number;
  searchFactor?: number;
  /** Search-box centre jitter, in units of the jittered box's sqrt(w*h) (OSTrack: 3). */
  centerJitter?: number;
  /** Search-box size jitter: w,h *= exp(N(0,1) * this) (OSTrack: 0.25). */
  scaleJitter?: number;
  /** OSTrack keeps the template unjittered (0 and 0). */
  templateCenterJitter?: number;
  templateScaleJitter?: number;
  grayscaleProbability?: number;
  flipProbability?: number;
  /** Each crop's pixels are multiplied by U[1 - this, 1 + this] and clipped (OSTrack: 0.2). */
  brightnessJitter?: number;
  mean?: readonly number[];
  std?: readonly number[];
  channelOrder?: 'rgb' | 'bgr';
  /**
   * 'ostrack' (default): the augmentation above. 'strong' adds, per crop, colour (per-channel
   * gain, contrast, saturation), blur, sensor noise and, on search crops, an occluding patch
   * (STRONG_AUGMENTATION). Its numbers come from a stream of their own, so switching it changes
   * pixels, never which pairs a step draws. Meant for distillation, where the teacher labels the
   * augmented crop itself and no label goes stale.
   */
  augment?: 'ostrack' | 'strong';
}

/** Strengths of `augment: 'strong'` (probabilities per crop; ranges drawn uniformly). */
export const STRONG_AUGMENTATION = {
  gain: [0.8, 1.2],
  contrast: [0.7, 1.3],
  saturation: [0.6, 1.4],
  blurProbability: 0.2,
  noiseProbability: 0.3,
  noiseSigma: [0.005, 0.04],
  occlusionProbability: 0.3,
  /** Patch side as a share of the crop side. */
  occlusionSide: [0.1, 0.3],
} as const;

export interface WeightedSource {
  source: PairSource;
  /** Relative share of samples (OSTrack's DATASETS_RATIO). */
  weight: number;
}

export interface TrainingSample {
  /** [3, templateSize, templateSize], normalised, in `channelOrder`. */
  template: Float32Array;
  /** [3, searchSize, searchSize]. */
  search: Float32Array;
  /**
   * The target in the search crop as cx, cy, w, h divided by the crop side: in [0, 1] where it lies
   * inside the crop (a large target can reach past it; the loss clamps, as OSTrack's does).
   */
  box: Float32Array;
  /** The target in the template crop, same convention. */
  templateBox: Float32Array;
  source: string;
  /** False where the box is a teacher's track, not a label. */
  labelled: boolean;
}

export interface Batch {
  size: number;
  /** [N, 3, templateSize, templateSize] */
  template: Float32Array;
  /** [N, 3, searchSize, searchSize] */
  search: Float32Array;
  /** [N, 4] cx, cy, w, h in the search crop */
  boxes: Float32Array;
  /** [N, 4] */
  templateBoxes: Float32Array;
  /** [N] 1 where the box is a label, 0 where it only placed the crops (a teacher's track). */
  labelled: Uint8Array;
}

const OSTRACK = {
  templateSize: 128,
  searchSize: 256,
  templateFactor: OSTRACK_DEFAULTS.templateFactor,
  searchFactor: OSTRACK_DEFAULTS.searchFactor,
  centerJitter: 3,
  scaleJitter: 0.25,
  templateCenterJitter: 0,
  templateScaleJitter: 0,
  grayscaleProbability: 0.05,
  flipProbability: 0.5,
  brightnessJitter: 0.2,
  mean: OSTRACK_DEFAULTS.mean as readonly number[],
  std: OSTRACK_DEFAULTS.std as readonly number[],
  channelOrder: OSTRACK_DEFAULTS.channelOrder,
  augment: 'ostrack' as 'ostrack' | 'strong',
};

/** A draw that fails a validity check is replaced by the next draw of the same stream; this many tries. */
const MAX_ATTEMPTS = 20;

/** Python's round() and C's nearbyint(): halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** OSTrack's crop window for a box: side = ceil(sqrt(w*h) * factor), centred on the box. */
export function cropWindow(box: Box, factor: number): { x0: number; y0: number; side: number } {
  const side = Math.ceil(Math.sqrt(box.width * box.height) * factor);
  return {
    x0: roundHalfEven(box.x + 0.5 * box.width - 0.5 * side),
    y0: roundHalfEven(box.y + 0.5 * box.height - 0.5 * side),
    side,
  };
}

/**
 * OSTrack's _get_jittered_box: size *= exp(randn * scale), then the centre moves by up to half of
 * sqrt(w*h of the jittered box) * centre factor in each axis.
 */
export function jitterBox(rng: Rng, box: Box, centerJitter: number, scaleJitter: number): Box {
  const w = box.width * Math.exp(rng.normal() * scaleJitter);
  const h = box.height * Math.exp(rng.normal() * scaleJitter);
  const maxOffset = Math.sqrt(w * h) * centerJitter;
  const cx = box.x + 0.5 * box.width + maxOffset * (rng.next() - 0.5);
  const cy = box.y + 0.5 * box.height + maxOffset * (rng.next() - 0.5);
  return { x: cx - 0.5 * w, y: cy - 0.5 * h, width: w, height: h };
}

interface CropJob {
  frame: Frame;
  box: Box;
  factor: number;
  size: number;
  centerJitter: number;
  scaleJitter: number;
}

export class PairSampler {
  readonly options: Required<SamplerOptions>;
  private readonly sources: WeightedSource[];
  private readonly native: NativeAddon;
  private readonly raw: Float32Array;

  constructor(sources: readonly WeightedSource[], options: SamplerOptions) {
    if (sources.length === 0 || sources.some((s) => !(s.weight >= 0)) || !sources.some((s) => s.weight > 0)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'the pair sampler needs at least one source, with weights >= 0 and at least one above 0');
    }
    this.sources = [...sources];
    // Keys given as undefined keep OSTrack's value instead of erasing it.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...OSTRACK, ...given, seed: options.seed };
    const { templateSize, searchSize } = this.options;
    if (!(Number.isInteger(templateSize) && Number.isInteger(searchSize) && templateSize > 0 && searchSize > 0)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `crop sizes must be positive integers, got ${templateSize} and ${searchSize}`);
    }
    this.native = loadNative();
    this.raw = new Float32Array(3 * Math.max(templateSize, searchSize) ** 2);
  }

  /** Sample `index` of the stream (any order, any number of times: same result). */
  async sample(index: number): Promise<TrainingSample> {
    const o = this.options;
    const rng = new Rng(hashSeed(o.seed, index));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { source } = this.sources[rng.weighted(this.sources.map((s) => s.weight))];
      const pair = await source.drawPair(rng, index);
      // Every draw below happens whatever the outcome, so options change values, not the stream.
      const gray = rng.next() < o.grayscaleProbability;
      const flip = rng.next() < o.flipProbability;
      const strong = o.augment === 'strong' ? new Rng(hashSeed(o.seed, index, attempt, 0x57a6)) : undefined;
      const template = this.crop(rng, { frame: pair.template, box: pair.templateBox, factor: o.templateFactor, size: o.templateSize, centerJitter: o.templateCenterJitter, scaleJitter: o.templateScaleJitter }, gray, flip, strong && { rng: strong, occlude: false });
      const search = this.crop(rng, { frame: pair.search, box: pair.searchBox, factor: o.searchFactor, size: o.searchSize, centerJitter: o.centerJitter, scaleJitter: o.scaleJitter }, gray, flip, strong && { rng: strong, occlude: true });
      if (template && search) return { template: template.pixels, templateBox: template.box, search: search.pixels, box: search.box, source: source.name, labelled: pair.labelled ?? true };
    }
    throw new CtEdgeError('ERR_DATASET', `sample ${index}: no valid pair in ${MAX_ATTEMPTS} draws (boxes too small or outside their frames?)`);
  }

  /**
   * Samples step*size .. step*size+size-1 as one batch, or only its members from..to-1 (a
   * data-parallel worker's share of the batch).
   */
  async batch(step: number, size: number, from = 0, to = size): Promise<Batch> {
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from < to && to <= size)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `a batch part must satisfy 0 <= from < to <= ${size}, got ${from}..${to}`);
    }
    // Concurrent, so that image decoding (sharp, off the main thread) overlaps; results do not
    // depend on completion order.
    return assembleBatch(await Promise.all(Array.from({ length: to - from }, (_, i) => this.sample(step * size + from + i))));
  }

  /**
   * One crop with its augmentation; undefined when OSTrack would reject it (a crop under 1 px, or
   * here also a target whose centre falls outside its crop, which would teach nothing).
   */
  private crop(rng: Rng, job: CropJob, gray: boolean, flip: boolean, strong?: { rng: Rng; occlude: boolean }): { pixels: Float32Array; box: Float32Array } | undefined {
    const o = this.options;
    const jittered = jitterBox(rng, job.box, job.centerJitter, job.scaleJitter);
    const brightness = rng.uniform(Math.max(0, 1 - o.brightnessJitter), 1 + o.brightnessJitter);
    const window = cropWindow(jittered, job.factor);
    if (!(window.side >= 1)) return undefined;
    const { box: gt } = job;
    const cx = (gt.x + 0.5 * gt.width - window.x0) / window.side;
    const cy = (gt.y + 0.5 * gt.height - window.y0) / window.side;
    if (!(cx >= 0 && cx <= 1 && cy >= 0 && cy <= 1)) return undefined;

    const n = job.size;
    const plane = n * n;
    const raw = this.raw.subarray(0, 3 * plane);
    // Raw RGB in [0, 1] (mean 0, std 1); augmentation and the real normalisation follow in one pass.
    this.native.cropToTensor(job.frame, window, n, raw, { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb' });
    if (strong) strongAugmentation(raw, n, strong.rng, strong.occlude);
    const out = new Float32Array(3 * plane);
    const bgr = o.channelOrder === 'bgr';
    const [m0, m1, m2] = o.mean;
    const [s0, s1, s2] = o.std;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const src = y * n + x;
        // A horizontal flip of the crop equals cropping the mirrored frame at the mirrored window:
        // cv::resize's half-pixel mapping is symmetric, and so is the jitter.
        const dst = y * n + (flip ? n - 1 - x : x);
        let r = raw[src];
        let g = raw[plane + src];
        let b = raw[2 * plane + src];
        if (gray) r = g = b = 0.299 * r + 0.587 * g + 0.114 * b;
        r = (Math.min(1, r * brightness) - m0) / s0;
        g = (Math.min(1, g * brightness) - m1) / s1;
        b = (Math.min(1, b * brightness) - m2) / s2;
        out[dst] = bgr ? b : r;
        out[plane + dst] = g;
        out[2 * plane + dst] = bgr ? r : b;
      }
    }
    const box = Float32Array.of(flip ? 1 - cx : cx, cy, gt.width / window.side, gt.height / window.side);
    return { pixels: out, box };
  }
}

/**
 * `augment: 'strong'` on a raw RGB crop [3, n, n] in [0, 1], in place: colour, then blur, noise and
 * an occluding patch (STRONG_AUGMENTATION), drawn from `rng` (the crop's own stream).
 */
export function strongAugmentation(raw: Float32Array, n: number, rng: Rng, occlude: boolean): void {
  const a = STRONG_AUGMENTATION;
  const plane = n * n;
  const gains = [0, 1, 2].map(() => rng.uniform(...a.gain));
  const contrast = rng.uniform(...a.contrast);
  const saturation = rng.uniform(...a.saturation);
  const blur = rng.next() < a.blurProbability;
  const noise = rng.next() < a.noiseProbability ? rng.uniform(...a.noiseSigma) : 0;
  const patch = { on: occlude && rng.next() < a.occlusionProbability, side: Math.round(n * rng.uniform(...a.occlusionSide)), x: rng.next(), y: rng.next(), colour: [rng.next(), rng.next(), rng.next()] };
  let mean = 0;
  for (let i = 0; i < 3 * plane; i++) mean += raw[i];
  mean /= 3 * plane;
  for (let i = 0; i < plane; i++) {
    const rgb = [raw[i] * gains[0], raw[plane + i] * gains[1], raw[2 * plane + i] * gains[2]];
    const luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
    for (let c = 0; c < 3; c++) raw[c * plane + i] = (luma + (rgb[c] - luma) * saturation - mean) * contrast + mean;
  }
  if (blur) {
    // 3x3 box blur, edges clamped
    const copy = raw.slice(0, 3 * plane);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          let sum = 0;
          for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += copy[c * plane + Math.min(n - 1, Math.max(0, y + dy)) * n + Math.min(n - 1, Math.max(0, x + dx))];
          raw[c * plane + y * n + x] = sum / 9;
        }
      }
    }
  }
  if (noise > 0) for (let i = 0; i < 3 * plane; i++) raw[i] += rng.normal() * noise;
  if (patch.on) {
    const x0 = Math.floor(patch.x * (n - patch.side));
    const y0 = Math.floor(patch.y * (n - patch.side));
    for (let c = 0; c < 3; c++) for (let y = y0; y < y0 + patch.side; y++) raw.fill(patch.colour[c], c * plane + y * n + x0, c * plane + y * n + x0 + patch.side);
  }
  for (let i = 0; i < 3 * plane; i++) raw[i] = Math.min(1, Math.max(0, raw[i]));
}

/** N samples -> contiguous NCHW tensors and [N, 4] boxes. */
export function assembleBatch(samples: readonly TrainingSample[]): Batch {
  if (samples.length === 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'a batch needs at least one sample');
  const t = samples[0].template.length;
  const s = samples[0].search.length;
  const batch: Batch = {
    size: samples.length,
    template: new Float32Array(samples.length * t),
    search: new Float32Array(samples.length * s),
    boxes: new Float32Array(samples.length * 4),
    templateBoxes: new Float32Array(samples.length * 4),
    labelled: Uint8Array.from(samples, (sample) => (sample.labelled ? 1 : 0)),
  };
  samples.forEach((sample, i) => {
    if (sample.template.length !== t || sample.search.length !== s) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `sample ${i} has crops of another size than sample 0`);
    }
    batch.template.set(sample.template, i * t);
    batch.search.set(sample.search, i * s);
    batch.boxes.set(sample.box, i * 4);
    batch.templateBoxes.set(sample.templateBox, i * 4);
  });
  return batch;
}
