/**
 * Two engines of one model side by side on the same crops (a TensorRT engine against its ONNX
 * model on onnxruntime): `ct-edge build-engine --verify`. The TensorRT tracker hands back decoded
 * results, not raw maps, so what is compared is the peak score and the box.
 */
import { openDataset } from '../datasets/dataset.js';
import { readImage } from '../io/images.js';
import type { Engine } from '../engine.js';
import { CtEdgeError } from '../../contract/errors.js';
import { Tracker } from '../tracker.js';
import type { Box, Frame } from '../../contract/types.js';
import { iou } from './metrics.js';

/** One comparison: both trackers start from `box` in `frame`, then track `next` (so they crop the same regions). */
export interface VerifySample {
  frame: Frame;
  box: Box;
  next: Frame;
}

export interface Agreement {
  set: string;
  samples: number;
  /** Largest and mean |difference| of the windowed peak score, the value the lost rule reads. */
  maxScoreDiff: number;
  meanScoreDiff: number;
  /** Largest difference of a box coordinate (x, y, width or height), pixels. */
  maxBoxDiffPx: number;
  /** Samples whose two boxes overlap with IoU > 0.9. */
  boxesAgree: number;
}

/**
 * Runs `engine` and `reference` on the same samples. The TensorRT tracker hands back decoded
 * results, not the raw maps, so the outputs compared are the peak score and the box.
 */
export async function compareEngines(set: string, engine: Engine, reference: Engine, samples: Iterable<VerifySample> | AsyncIterable<VerifySample>): Promise<Agreement> {
  const a = new Tracker(engine);
  const b = new Tracker(reference);
  const stats: Agreement = { set, samples: 0, maxScoreDiff: 0, meanScoreDiff: 0, maxBoxDiffPx: 0, boxesAgree: 0 };
  try {
    for await (const s of samples) {
      a.init(s.frame, s.box);
      b.init(s.frame, s.box);
      const [ra, rb] = [await a.track(s.next), await b.track(s.next)];
      const scoreDiff = Math.abs(ra.score - rb.score);
      const boxDiff = Math.max(...(['x', 'y', 'width', 'height'] as const).map((k) => Math.abs(ra.box[k] - rb.box[k])));
      stats.samples += 1;
      stats.maxScoreDiff = Math.max(stats.maxScoreDiff, scoreDiff);
      stats.meanScoreDiff += scoreDiff;
      stats.maxBoxDiffPx = Math.max(stats.maxBoxDiffPx, boxDiff);
      if (iou(ra.box, rb.box) > 0.9) stats.boxesAgree += 1;
    }
  } finally {
    a.dispose();
    b.dispose();
  }
  if (stats.samples > 0) stats.meanScoreDiff /= stats.samples;
  return stats;
}

/** Deterministic random frames (20 px cells of random colour) and random boxes. */
export function* randomSamples(count: number, width = 640, height = 480, seed = 1): Generator<VerifySample> {
  let state = seed >>> 0;
  const random = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const cell = 20;
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(width * height * 3);
    const cols = Math.ceil(width / cell);
    const colours = Array.from({ length: cols * Math.ceil(height / cell) * 3 }, () => Math.floor(random() * 256));
    for (let y = 0, o = 0; y < height; y++) {
      for (let x = 0; x < width; x++, o += 3) {
        const c = (Math.floor(y / cell) * cols + Math.floor(x / cell)) * 3;
        data[o] = colours[c];
        data[o + 1] = colours[c + 1];
        data[o + 2] = colours[c + 2];
      }
    }
    const w = 24 + Math.floor(random() * 136);
    const h = 24 + Math.floor(random() * 136);
    const box = { x: Math.floor(random() * (width - w)), y: Math.floor(random() * (height - h)), width: w, height: h };
    const frame: Frame = { data, width, height, format: 'rgb' };
    yield { frame, box, next: frame };
  }
}

/** Pairs (frame i with its ground truth, frame i+1) spread evenly over an OTB sequence. */
export async function* sequenceSamples(dir: string, count: number): AsyncGenerator<VerifySample> {
  const sequence = (await openDataset(dir, 'otb')).sequences[0];
  if (!sequence) throw new CtEdgeError('ERR_DATASET', `no readable sequence in ${dir}`);
  const starts = sequence.groundTruth.flatMap((box, i) => (box && i + 1 < sequence.framePaths.length ? [i] : []));
  const step = Math.max(1, starts.length / count);
  for (let k = 0; k < Math.min(count, starts.length); k++) {
    const i = starts[Math.floor(k * step)];
    yield { frame: await readImage(sequence.framePaths[i]), box: sequence.groundTruth[i]!, next: await readImage(sequence.framePaths[i + 1]) };
  }
}
