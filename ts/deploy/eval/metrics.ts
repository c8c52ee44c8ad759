/**
 * One-pass evaluation (OPE) metrics as the OTB toolkit, LaSOT's toolkit and pytracking define them.
 *
 * - Success: share of frames whose IoU is strictly greater than each threshold in 0, 0.05, ..., 1
 *   (21 points; OTB's `errCoverage > threshold` and pytracking's `iou > t`, so the point at 1.0
 *   is always 0 and the point at 0 counts every frame with any overlap). AUC = mean of the curve.
 * - Precision: share of frames whose centre error is <= each threshold 0..50 px; the score is the
 *   point at 20 px.
 * - Normalised precision (LaSOT): centre error with both centres divided by the ground-truth
 *   width and height, <= each threshold 0, 0.01, ..., 0.5; the score is the point at 0.2.
 * - Frames whose ground truth is null (absent target, invalid box) are left out of both the count
 *   and the denominator, as pytracking does with `exclude_invalid_frames` and GOT-10k always does.
 * - Over a dataset, curves are averaged over sequences (each sequence weighs the same), as all
 *   three toolkits do; the overall scores are read off the averaged curves.
 */
import { CtEdgeError } from '../../contract/errors.js';
import type { Box } from '../../contract/types.js';

const steps = (count: number, step: number) => Array.from({ length: count }, (_, i) => Number((i * step).toFixed(10)));

/** IoU thresholds of the success curve: 0, 0.05, ..., 1. */
export const SUCCESS_THRESHOLDS: readonly number[] = steps(21, 0.05);
/** Centre-error thresholds of the precision curve in pixels: 0..50. */
export const PRECISION_THRESHOLDS: readonly number[] = steps(51, 1);
/** Normalised centre-error thresholds: 0, 0.01, ..., 0.5. */
export const NORM_PRECISION_THRESHOLDS: readonly number[] = steps(51, 0.01);
export const PRECISION_AT_PX = 20;
export const NORM_PRECISION_AT = 0.2;

/** Intersection over union of two boxes; 0 when either is empty. */
export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const ih = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/** Distance between the box centres in pixels. */
export function centerError(a: Box, b: Box): number {
  return Math.hypot(a.x + a.width / 2 - (b.x + b.width / 2), a.y + a.height / 2 - (b.y + b.height / 2));
}

/** Centre distance with both centres scaled by the ground truth's width and height (LaSOT). */
export function normalizedCenterError(prediction: Box, groundTruth: Box): number {
  const dx = (prediction.x + prediction.width / 2 - (groundTruth.x + groundTruth.width / 2)) / groundTruth.width;
  const dy = (prediction.y + prediction.height / 2 - (groundTruth.y + groundTruth.height / 2)) / groundTruth.height;
  return Math.hypot(dx, dy);
}

export interface Curves {
  /** Success rate at each of SUCCESS_THRESHOLDS. */
  successCurve: number[];
  /** Precision at each of PRECISION_THRESHOLDS. */
  precisionCurve: number[];
  /** Normalised precision at each of NORM_PRECISION_THRESHOLDS. */
  normPrecisionCurve: number[];
}

export interface Scores {
  /** Area under the success curve (mean of its 21 points), 0..1. */
  auc: number;
  /** Precision at 20 px, 0..1. */
  precision: number;
  /** Normalised precision at 0.2, 0..1. */
  normPrecision: number;
}

export interface SequenceMetrics extends Curves, Scores {
  /** Frames with a valid ground-truth box, the denominator of every rate. */
  validFrames: number;
}

const share = (values: readonly number[], thresholds: readonly number[], pass: (v: number, t: number) => boolean, n: number) =>
  thresholds.map((t) => (n === 0 ? 0 : values.filter((v) => pass(v, t)).length / n));

export function scoresOf(c: Curves): Scores {
  return {
    auc: c.successCurve.reduce((s, v) => s + v, 0) / c.successCurve.length,
    precision: c.precisionCurve[PRECISION_THRESHOLDS.indexOf(PRECISION_AT_PX)],
    normPrecision: c.normPrecisionCurve[NORM_PRECISION_THRESHOLDS.indexOf(NORM_PRECISION_AT)],
  };
}

/**
 * Metrics of one sequence. `predictions[i]` is the tracker's box for frame i; by the OTB/LaSOT
 * convention frame 0 holds the initialisation box, so it counts as a (perfect) frame.
 */
export function sequenceMetrics(predictions: readonly Box[], groundTruth: readonly (Box | null)[]): SequenceMetrics {
  if (predictions.length !== groundTruth.length) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `${predictions.length} predictions for ${groundTruth.length} ground-truth boxes: give one prediction per frame`);
  }
  const ious: number[] = [];
  const centres: number[] = [];
  const normCentres: number[] = [];
  groundTruth.forEach((gt, i) => {
    if (!gt) return;
    ious.push(iou(predictions[i], gt));
    centres.push(centerError(predictions[i], gt));
    normCentres.push(normalizedCenterError(predictions[i], gt));
  });
  const n = ious.length;
  const curves: Curves = {
    successCurve: share(ious, SUCCESS_THRESHOLDS, (v, t) => v > t, n),
    precisionCurve: share(centres, PRECISION_THRESHOLDS, (v, t) => v <= t, n),
    normPrecisionCurve: share(normCentres, NORM_PRECISION_THRESHOLDS, (v, t) => v <= t, n),
  };
  return { ...curves, ...scoresOf(curves), validFrames: n };
}

/** Dataset curves: the per-sequence curves averaged point by point, each sequence weighing the same. */
export function averageMetrics(sequences: readonly Curves[]): Curves & Scores {
  if (sequences.length === 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'no sequences to average: give the metrics of at least one sequence');
  const mean = (pick: (c: Curves) => number[]) =>
    pick(sequences[0]).map((_, k) => sequences.reduce((s, c) => s + pick(c)[k], 0) / sequences.length);
  const curves: Curves = {
    successCurve: mean((c) => c.successCurve),
    precisionCurve: mean((c) => c.precisionCurve),
    normPrecisionCurve: mean((c) => c.normPrecisionCurve),
  };
  return { ...curves, ...scoresOf(curves) };
}
