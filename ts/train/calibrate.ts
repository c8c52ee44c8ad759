/**
 * Box-size calibration after training. A network trained on OSTrack's losses and jittered pairs can
 * be unbiased on such pairs and still predict boxes a few percent too large on the crops a tracker
 * cuts (centred on the last box, at exactly the search factor); the README gives our figures. One
 * frame that is harmless; in a tracking loop the next search crop is cut from the last box, so the
 * bias compounds frame after frame (tools/one-step-check.ts measures it per frame).
 *
 * The fix changes no layer: on pairs the network never trained on, read the size it predicts at
 * its score peak wherever that peak lies on the target, and shift the size head's output bias
 * (the logit before the sigmoid; one shift for width, one for height) so that the geometric mean
 * of predicted / true size becomes 1. The shifts are solved exactly on the collected logits.
 */
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { TrackerNet } from './model/network.js';
import { CtEdgeError } from '../contract/errors.js';
import type { PairBatchSource } from './objectives.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint/checkpoint.js';
import { trainingPairs, type DataSourceSpec } from './data-source.js';
import type { ClipDifficulty } from './data/generator.js';
import { hashSeed } from './data/random.js';
import { initBackend } from './model/backend.js';

/** The size head's final 1x1 conv bias: [width logit, height logit]. */
export const SIZE_BIAS = 'box_head.conv5_size.bias';

export interface SizeCalibrationOptions {
  /** Pairs to measure on (default 2048). */
  pairs?: number;
  /** Pairs per forward pass (default 32). */
  batchSize?: number;
}

export interface SizeCalibration {
  /** Pairs drawn, and those whose score peak lay on the target (the ones measured). */
  pairs: number;
  measured: number;
  /** Geometric mean of predicted / true width and height, before and after the shift. */
  before: [number, number];
  after: [number, number];
  /** What was added to the width and height logits. */
  shift: [number, number];
}

const logSigmoid = (z: number) => (z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z)));

/** Shifts beyond this are no bias but a broken or saturated size head (e^8 = 3000x). */
const MAX_SHIFT = 8;

/** The shift d with mean(log sigmoid(z + d)) = meanLogTarget; monotone in d, so bisection. */
function solveShift(logits: readonly number[], meanLogTarget: number): number {
  const excess = (d: number) => logits.reduce((a, z) => a + logSigmoid(z + d), 0) / logits.length - meanLogTarget;
  let lo = -MAX_SHIFT;
  let hi = MAX_SHIFT;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (excess(mid) > 0) hi = mid;
    else lo = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Measures `net`'s size bias on `data` (batches from step 0 on) and shifts its size-head bias to
 * remove it. `net` is changed in place; the returned figures say by how much.
 */
export async function calibrateBoxSize(net: TrackerNet, data: PairBatchSource, o: SizeCalibrationOptions = {}): Promise<SizeCalibration> {
  const pairs = o.pairs ?? 2048;
  if (!(Number.isInteger(pairs) && pairs >= 1)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `calibration needs a whole number of pairs >= 1, got ${pairs}`);
  const batchSize = Math.min(o.batchSize ?? 32, pairs);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `calibration batches need a whole number of pairs >= 1, got ${o.batchSize}`);
  const logits: [number[], number[]] = [[], []];
  const logTargets: [number[], number[]] = [[], []];
  const { templateSize: t, searchSize: s } = net.config;
  for (let step = 0, drawn = 0; drawn < pairs; step++) {
    const count = Math.min(batchSize, pairs - drawn);
    const batch = await data.batch(step, count);
    drawn += count;
    const [score, size] = tf.tidy(() => {
      const maps = net.forward(tf.tensor4d(batch.template, [count, 3, t, t]), tf.tensor4d(batch.search, [count, 3, s, s]));
      return [maps.score, maps.size];
    });
    const f = score.shape[2];
    const scores = score.dataSync();
    const sizes = size.dataSync();
    tf.dispose([score, size]);
    for (let i = 0; i < count; i++) {
      let peak = 0;
      for (let k = 1; k < f * f; k++) if (scores[i * f * f + k] > scores[i * f * f + peak]) peak = k;
      const [x, y, w, h] = batch.boxes.subarray(i * 4, i * 4 + 4);
      // the peak's cell centre must lie on the target: a peak on a distractor says nothing about size
      const px = ((peak % f) + 0.5) / f;
      const py = (Math.floor(peak / f) + 0.5) / f;
      if (px < x || px > x + w || py < y || py > y + h) continue;
      for (const c of [0, 1] as const) {
        const predicted = sizes[(i * 2 + c) * f * f + peak];
        logits[c].push(Math.log(predicted / (1 - predicted)));
        logTargets[c].push(Math.log(c === 0 ? w : h));
      }
    }
  }
  const measured = logits[0].length;
  if (measured === 0) {
    throw new CtEdgeError('ERR_CALIBRATION', `size calibration: on none of ${pairs} pairs did the score peak lie on the target; the network cannot localise yet (train it longer)`);
  }
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const ratio = (c: 0 | 1, d: number) => Math.exp(mean(logits[c].map((z) => logSigmoid(z + d))) - mean(logTargets[c]));
  const shift: [number, number] = [solveShift(logits[0], mean(logTargets[0])), solveShift(logits[1], mean(logTargets[1]))];
  if (shift.some((d) => Math.abs(d) > MAX_SHIFT - 1e-3)) {
    throw new CtEdgeError(
      'ERR_CALIBRATION',
      `size calibration: the predicted sizes are off by more than a bias shift of ${MAX_SHIFT} logits can correct (geometric mean ${ratio(0, 0).toPrecision(3)}x wide, ${ratio(1, 0).toPrecision(3)}x high); the size head is saturated or untrained, so check the checkpoint`,
    );
  }
  const bias = net.variable(SIZE_BIAS);
  tf.tidy(() => bias.assign(tf.add(bias, tf.tensor1d(shift))));
  return { pairs, measured, before: [ratio(0, 0), ratio(1, 0)], after: [ratio(0, shift[0]), ratio(1, shift[1])], shift };
}

/** Calibration clips come from their own stream: hashed with this tag, a seed never names training clips. */
const CALIBRATION_STREAM = 0xca1b;

export interface CalibrateCheckpointOptions extends SizeCalibrationOptions {
  /** Seed of the calibration clips (default 1), drawn from a stream of their own. */
  seed?: number;
  /** Generated clip difficulties and their shares: the mix the network was trained on (default moderate). */
  mix?: Partial<Record<ClipDifficulty, number>>;
  /** Labelled sources to measure on instead of generated clips (`--data`). */
  sources?: DataSourceSpec[];
}

/**
 * Reads a checkpoint, calibrates its box size on generated pairs cut as the tracker cuts them
 * (centred, exactly searchFactor, no augmentation; each from a clip of its own) and writes the
 * calibrated checkpoint to `output`, which must not be the input.
 */
export async function calibrateCheckpoint(input: string, output: string, o: CalibrateCheckpointOptions = {}): Promise<SizeCalibration> {
  if (resolve(output) === resolve(input)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `the output ${output} would overwrite the checkpoint; write the calibrated one beside it`);
  const { config, weights } = await readCheckpoint(input);
  await initBackend();
  const net = TrackerNet.fromWeights(config, weights, input);
  try {
    const data = trainingPairs(config, {
      seed: hashSeed(o.seed ?? 1, CALIBRATION_STREAM),
      mix: o.mix,
      sources: o.sources,
      sampling: { centerJitter: 0, scaleJitter: 0, brightnessJitter: 0, grayscaleProbability: 0 },
      clipReuse: 1,
    });
    const result = await calibrateBoxSize(net, data, o);
    await writeCheckpoint(output, { config, weights: net.weights() });
    return result;
  } finally {
    net.dispose();
  }
}
