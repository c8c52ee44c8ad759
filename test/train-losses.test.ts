/** OSTrack's losses and AdamW against values computed by hand. */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { AdamW, clipGradNorm } from '../ts/train/adamw.js';
import { boxLosses, decodeAtPeak, focalLoss, gaussianHeatmaps, gaussianRadius, giouLoss } from '../ts/train/losses.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const close = (a: number, b: number, tol = 1e-5) => Math.abs(a - b) <= tol;

test('gaussianRadius follows CenterNet/OSTrack (min of three roots, (b+sqrt)/2 form)', (t) => {
  // w = h = 4: r1 = 7.630, r2 = 14.694, r3 = (-11.2 + sqrt(125.44 + 53.76)) / 2 = 1.0935
  t.true(close(gaussianRadius(4, 4), (-11.2 + Math.sqrt(179.2)) / 2));
});

test('gaussianHeatmaps: peak 1 at round(centre * F), radius from the box, sigma = (2r+1)/6', (t) => {
  const F = 16;
  // box centred at (0.5, 0.25) -> cell (8, 4); w = h = 0.25 -> 4 cells -> radius 1, sigma 0.5
  const map = gaussianHeatmaps(Float32Array.of(0.375, 0.125, 0.25, 0.25), 1, F);
  t.is(map[4 * F + 8], 1);
  t.true(close(map[4 * F + 9], Math.exp(-1 / (2 * 0.25))));
  t.true(close(map[5 * F + 9], Math.exp(-2 / (2 * 0.25))));
  t.is(map[4 * F + 10], 0); // outside radius 1
  t.is(map.filter((v) => v === 1).length, 1);
  // a centre at exactly x.5 cells rounds to even, as torch.round: 0.15625*16 = 2.5 -> 2
  const half = gaussianHeatmaps(Float32Array.of(0.03125, 0.03125, 0.25, 0.25), 1, F);
  t.is(half[2 * F + 2], 1);
});

test('focalLoss matches the hand-computed CenterNet loss', (t) => {
  const pred = tf.tensor4d([0.8, 0.3, 0.1, 0.2], [1, 1, 2, 2]);
  const target = tf.tensor4d([1, 0.5, 0, 0], [1, 1, 2, 2]);
  const expected = -(Math.log(0.8) * 0.04 + Math.log(0.7) * 0.09 * 0.0625 + Math.log(0.9) * 0.01 + Math.log(0.8) * 0.04);
  t.true(close(focalLoss(pred, target).dataSync()[0], expected));
  // no positive: the negative term alone, not a division by zero
  const noPositive = tf.tensor4d([0.5, 0, 0, 0], [1, 1, 2, 2]);
  t.true(close(focalLoss(pred, noPositive).dataSync()[0], -(Math.log(0.2) * 0.64 * 0.0625 + Math.log(0.7) * 0.09 + Math.log(0.9) * 0.01 + Math.log(0.8) * 0.04)));
});

test('giouLoss: overlapping, identical and disjoint boxes', (t) => {
  const a = tf.tensor2d([[0, 0, 2, 2], [0, 0, 1, 1], [0, 0, 1, 1]]);
  const b = tf.tensor2d([[1, 1, 3, 3], [0, 0, 1, 1], [2, 0, 3, 1]]);
  const { iou } = giouLoss(a, b);
  const per = [1 - (1 / 7 - 2 / 9), 0, 1 - (0 - 1 / 3)];
  t.true(close(giouLoss(a, b).loss.dataSync()[0], per.reduce((x, y) => x + y) / 3));
  t.deepEqual(Array.from(iou.dataSync()).map((v) => Number(v.toFixed(5))), [Number((1 / 7).toFixed(5)), 1, 0]);
});

test('decodeAtPeak reads size and offset at the argmax, and boxLosses compares with xywh targets', (t) => {
  const F = 4;
  const score = tf.buffer([1, 1, F, F]);
  score.set(0.9, 0, 0, 1, 2); // y = 1, x = 2
  const size = tf.buffer([1, 2, F, F]);
  size.set(0.5, 0, 0, 1, 2);
  size.set(0.25, 0, 1, 1, 2);
  const offset = tf.buffer([1, 2, F, F]);
  offset.set(0.5, 0, 0, 1, 2);
  offset.set(0.25, 0, 1, 1, 2);
  const boxes = decodeAtPeak(score.toTensor() as tf.Tensor4D, size.toTensor() as tf.Tensor4D, offset.toTensor() as tf.Tensor4D);
  t.deepEqual(Array.from(boxes.dataSync()), [0.625, 0.3125, 0.5, 0.25]);
  // the same box as x, y, w, h: zero loss
  const { giou, l1 } = boxLosses(boxes, tf.tensor2d([[0.375, 0.1875, 0.5, 0.25]]));
  t.true(close(giou.dataSync()[0], 0) && close(l1.dataSync()[0], 0));
});

test('gradients of the box loss reach size and offset maps at the peak only', (t) => {
  const F = 4;
  const score = tf.tensor4d(Array.from({ length: F * F }, (_, i) => (i === 6 ? 0.9 : 0.1)), [1, 1, F, F]);
  const g = tf.grads((size: tf.Tensor, offset: tf.Tensor) => {
    const b = decodeAtPeak(score, size as tf.Tensor4D, offset as tf.Tensor4D);
    return boxLosses(b, tf.tensor2d([[0.45, 0.2, 0.1, 0.1]])).l1; // smaller than the predicted box
  })([tf.fill([1, 2, F, F], 0.2), tf.zeros([1, 2, F, F])]);
  const sizeGrad = g[0].dataSync();
  t.not(sizeGrad[6], 0);
  t.is(Array.from(sizeGrad).filter((v) => v !== 0).length, 2); // w and h at cell 6
});

test('AdamW takes torch.optim.AdamW steps (decoupled weight decay)', (t) => {
  const p = tf.variable(tf.scalar(1));
  const opt = new AdamW({ learningRate: 0.1, weightDecay: 0.01 });
  opt.apply({ p }, { p: tf.scalar(0.5) });
  // p <- p(1 - lr*wd) - lr * mhat / (sqrt(vhat) + eps), with mhat = 0.5, vhat = 0.25
  t.true(close(p.dataSync()[0], 0.999 - 0.1 * (0.5 / (0.5 + 1e-8))));
  opt.apply({ p }, { p: tf.scalar(-0.5) });
  // m = 0.9*0.05 - 0.05 = -0.005, v = 0.999*0.00025 + 0.00025; corrected by 1-0.9^2, 1-0.999^2
  const m = -0.005 / (1 - 0.81);
  const v = (0.999 * 0.00025 + 0.00025) / (1 - 0.999 ** 2);
  t.true(close(p.dataSync()[0], (0.999 - 0.1 * (0.5 / (0.5 + 1e-8))) * 0.999 - 0.1 * (m / (Math.sqrt(v) + 1e-8))));
  t.is(opt.step, 2);
});

test('AdamW state round-trips for resume', (t) => {
  const a = tf.variable(tf.tensor1d([1, 2]));
  const b = tf.variable(tf.tensor1d([1, 2]));
  const first = new AdamW({ learningRate: 0.01 });
  first.apply({ a }, { a: tf.tensor1d([0.3, -0.2]) });
  const resumed = new AdamW({ learningRate: 0.01 });
  resumed.loadState(first.step, first.stateTensors());
  b.assign(a);
  first.apply({ a }, { a: tf.tensor1d([0.1, 0.4]) });
  resumed.apply({ a: b }, { a: tf.tensor1d([0.1, 0.4]) });
  t.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
});

test('clipGradNorm scales to the max norm and reports the norm before', (t) => {
  const grads: Record<string, tf.Tensor> = { a: tf.tensor1d([3]), b: tf.tensor1d([4]) };
  t.true(close(clipGradNorm(grads, 1), 5));
  t.true(close(grads.a.dataSync()[0], 0.6) && close(grads.b.dataSync()[0], 0.8));
  const small: Record<string, tf.Tensor> = { a: tf.tensor1d([0.03]) };
  clipGradNorm(small, 0.1);
  t.true(close(small.a.dataSync()[0], 0.03));
});
