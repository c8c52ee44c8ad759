/** Evaluation metrics on hand-made cases and on one real sequence against an independent check. */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  averageMetrics,
  centerError,
  iou,
  normalizedCenterError,
  NORM_PRECISION_THRESHOLDS,
  PRECISION_THRESHOLDS,
  sequenceMetrics,
  SUCCESS_THRESHOLDS,
} from '../ts/deploy/eval/metrics.js';
import { percentile } from '../ts/deploy/eval/bench.js';
import { parseBoxes } from '../ts/deploy/datasets/otb.js';
import { CtEdgeError, type Box } from '../ts/index.js';
import { hasSharedData, sequencesDir, sharedDataSkipReason } from './helpers/data.js';

const box = (x: number, y: number, width: number, height: number): Box => ({ x, y, width, height });

test('thresholds: 21 IoU points 0..1, 51 pixel points 0..50, 51 normalised points 0..0.5', (t) => {
  t.is(SUCCESS_THRESHOLDS.length, 21);
  t.is(SUCCESS_THRESHOLDS[0], 0);
  t.is(SUCCESS_THRESHOLDS[10], 0.5);
  t.is(SUCCESS_THRESHOLDS[20], 1);
  t.deepEqual([PRECISION_THRESHOLDS.length, PRECISION_THRESHOLDS[20], PRECISION_THRESHOLDS[50]], [51, 20, 50]);
  t.deepEqual([NORM_PRECISION_THRESHOLDS.length, NORM_PRECISION_THRESHOLDS[20], NORM_PRECISION_THRESHOLDS[50]], [51, 0.2, 0.5]);
});

test('iou, centre error and normalised centre error of simple boxes', (t) => {
  t.is(iou(box(0, 0, 10, 10), box(0, 0, 10, 10)), 1);
  t.is(iou(box(0, 0, 10, 10), box(5, 0, 10, 10)), 50 / 150);
  t.is(iou(box(0, 0, 10, 10), box(10, 0, 10, 10)), 0);
  t.is(centerError(box(0, 0, 10, 10), box(3, 4, 10, 10)), 5);
  // Centre offset (6, 4) on a 20x8 ground truth: (0.3, 0.5) -> sqrt(0.34).
  t.is(normalizedCenterError(box(6, 4, 20, 8), box(0, 0, 20, 8)), Math.hypot(0.3, 0.5));
});

test('a perfect track: success 1 below IoU 1 and 0 at 1 (IoU > t), so AUC = 20/21', (t) => {
  const gt = [box(0, 0, 10, 10), box(2, 2, 10, 10)];
  const m = sequenceMetrics(gt, gt);
  t.deepEqual(m.successCurve, [...Array(20).fill(1), 0]);
  t.is(m.auc, 20 / 21);
  t.is(m.precision, 1);
  t.is(m.normPrecision, 1);
  t.is(m.precisionCurve[0], 1, 'centre error 0 <= 0 px counts');
});

test('success counts IoU strictly above the threshold; precision counts error at or below it', (t) => {
  // IoU exactly 0.5 (10x10 vs 10x20 inside it) and centre error exactly 5 px; frame 0 is perfect.
  const gt = [box(0, 0, 10, 10), box(0, 0, 10, 20)];
  const pred = [box(0, 0, 10, 10), box(0, 0, 10, 10)];
  const m = sequenceMetrics(pred, gt);
  t.is(m.successCurve[SUCCESS_THRESHOLDS.indexOf(0.45)], 1);
  t.is(m.successCurve[SUCCESS_THRESHOLDS.indexOf(0.5)], 0.5);
  t.is(m.precisionCurve[5], 1);
  t.is(m.precisionCurve[4], 0.5);
  // 5 px on a 20 px high box = 0.25: inside 0.25, outside 0.24.
  t.is(m.normPrecisionCurve[25], 1);
  t.is(m.normPrecisionCurve[24], 0.5);
});

test('frames without a valid ground-truth box are not scored and not counted', (t) => {
  const gt = [box(0, 0, 10, 10), null, box(0, 0, 10, 10), null];
  const far = box(100, 100, 10, 10);
  const m = sequenceMetrics([gt[0]!, far, far, far], gt);
  t.is(m.validFrames, 2);
  t.is(m.successCurve[0], 0.5);
  t.is(m.precision, 0.5);
  t.throws(() => sequenceMetrics([far], gt), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT' });
});

test('a lost track scores 0 at every threshold above 0 px', (t) => {
  const gt = [box(0, 0, 10, 10), box(0, 0, 10, 10)];
  const m = sequenceMetrics([gt[0], box(200, 200, 10, 10)], gt);
  t.is(m.successCurve[0], 0.5);
  t.is(m.auc, 10 / 21, 'frame 0 scores 20/21, frame 1 scores 0');
  t.is(m.precisionCurve[50], 0.5);
});

test('dataset curves average sequences with equal weight, whatever their length', (t) => {
  const short = sequenceMetrics([box(0, 0, 10, 10)], [box(0, 0, 10, 10)]);
  const long = sequenceMetrics(Array(9).fill(box(50, 50, 10, 10)), [box(50, 50, 10, 10), ...Array(8).fill(box(0, 0, 10, 10))]);
  const avg = averageMetrics([short, long]);
  t.is(avg.successCurve[0], (1 + 1 / 9) / 2);
  t.true(Math.abs(avg.auc - (short.auc + long.auc) / 2) < 1e-12);
  t.throws(() => averageMetrics([]), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT' });
});

test('nearest-rank percentiles', (t) => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  t.deepEqual([percentile(values, 50), percentile(values, 90), percentile(values, 99), percentile(values, 100)], [50, 90, 99, 100]);
  t.is(percentile([7], 99), 7);
});

/*
 * Real sequence: `crossing`, predictions = the ground truth of two frames earlier moved by (+3, -2)
 * px (frame 0 = the initialisation box). Expected values from a plain Python loop run once over the
 * same file (IoU > t for t = round(0.05 i, 2); errors <= t):
 *   AUC 0.4829365079365079, precision@20 1.0, precision@5 0.25833333333333336, norm precision@0.2 0.06666666666666667
 */
(hasSharedData ? test : test.skip)(`metrics on the real crossing sequence match an independent computation${hasSharedData ? '' : ` (${sharedDataSkipReason})`}`, async (t) => {
  const path = join(sequencesDir, 'crossing', 'groundtruth_rect.txt');
  const gt = parseBoxes(await readFile(path, 'utf8'), path).slice(0, 120) as Box[];
  const pred = gt.map((_, i) => (i === 0 ? gt[0] : { ...gt[Math.max(0, i - 2)], x: gt[Math.max(0, i - 2)].x + 3, y: gt[Math.max(0, i - 2)].y - 2 }));
  const m = sequenceMetrics(pred, gt);
  t.is(m.validFrames, 120);
  t.true(Math.abs(m.auc - 0.4829365079365079) < 1e-12, `AUC ${m.auc}`);
  t.is(m.precision, 1);
  t.true(Math.abs(m.precisionCurve[5] - 0.25833333333333336) < 1e-12);
  t.true(Math.abs(m.normPrecision - 0.06666666666666667) < 1e-12);
});
