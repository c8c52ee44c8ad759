/**
 * VitTrack's convolutional stem in TensorFlow.js: the 3x3 convolution and the gradients it carries
 * equal tfjs's own conv2d and its gradients, and the stem trains on the wasm backend (which has no
 * Conv2DBackpropFilter, hence conv3x3's own filter gradient).
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../ts/train/model/backend.js';
import '../ts/train/model/gradients.js';
import { conv3x3, convStem, hardSwish } from '../ts/train/model/layers.js';

for (const [stride, h, w] of [[2, 12, 10], [2, 9, 7], [1, 6, 5]] as const) {
  test.serial(`conv3x3 (stride ${stride}, ${h}x${w}) and its gradients equal tf.conv2d's with padding 1`, async (t) => {
    await initBackend(['cpu']); // the cpu backend has every convolution gradient kernel to compare with
    tf.tidy(() => {
      const x = tf.randomUniform([2, h, w, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
      const weight = tf.randomUniform([5, 3, 3, 3], -1, 1, 'float32', 2) as tf.Tensor4D; // [out, in, kh, kw]
      const b = tf.randomUniform([5], -1, 1, 'float32', 3) as tf.Tensor1D;
      const probe = tf.randomUniform([2, Math.ceil(h / stride), Math.ceil(w / stride), 5], -1, 1, 'float32', 4);
      const reference = (xx: tf.Tensor4D, ww: tf.Tensor4D): tf.Tensor4D => tf.add(tf.conv2d(xx, tf.transpose(ww, [2, 3, 1, 0]) as tf.Tensor4D, stride, [[0, 0], [1, 1], [1, 1], [0, 0]]), b);
      const ours = (xx: tf.Tensor4D, ww: tf.Tensor4D) => conv3x3(xx, ww, b, stride);
      t.deepEqual(ours(x, weight).shape, reference(x, weight).shape);
      t.true(tf.max(tf.abs(tf.sub(ours(x, weight), reference(x, weight)))).dataSync()[0] < 1e-5);
      // A loss that weighs every output differently, so each gradient entry is checked.
      const loss = (f: typeof ours) => tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(f(xx as tf.Tensor4D, ww as tf.Tensor4D), probe)));
      const [dxOurs, dwOurs] = loss(ours)([x, weight]);
      const [dxRef, dwRef] = loss(reference)([x, weight]);
      t.true(tf.max(tf.abs(tf.sub(dxOurs, dxRef))).dataSync()[0] < 1e-4, 'input gradient');
      t.true(tf.max(tf.abs(tf.sub(dwOurs, dwRef))).dataSync()[0] < 1e-4, 'filter gradient');
    });
  });
}

test.serial('on wasm (XNNPACK convolutions, dilated for the filter gradient) conv3x3 gives the cpu backend\'s value and gradients', async (t) => {
  for (const [stride, h, w] of [[2, 9, 7], [2, 16, 12], [1, 6, 5]] as const) {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(Array.from({ length: 2 * h * w * 3 }, (_, i) => Math.sin(i * 0.7)), [2, h, w, 3]);
        const weight = tf.tensor4d(Array.from({ length: 5 * 3 * 9 }, (_, i) => Math.cos(i * 0.3)), [5, 3, 3, 3]);
        const b = tf.tensor1d([0.1, -0.2, 0.3, 0, 0.5]);
        const probe = tf.tensor4d(Array.from({ length: 2 * Math.ceil(h / stride) * Math.ceil(w / stride) * 5 }, (_, i) => Math.sin(i * 1.3)), [2, Math.ceil(h / stride), Math.ceil(w / stride), 5]);
        const f = (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv3x3(xx as tf.Tensor4D, ww as tf.Tensor4D, b, stride), probe));
        return [conv3x3(x, weight, b, stride), ...tf.grads(f)([x, weight])].map((r) => [...r.dataSync()]);
      });
    await initBackend(['wasm']);
    const wasm = run();
    await initBackend(['cpu']);
    const cpu = run();
    wasm.forEach((values, k) => t.true(values.every((v, i) => Math.abs(v - cpu[k][i]) < 1e-3 * (1 + Math.abs(cpu[k][i]))), `stride ${stride} ${h}x${w}: ${['value', 'input gradient', 'filter gradient'][k]}`));
  }
});

test.serial('HardSwish is PyTorch\'s', async (t) => {
  await initBackend(['cpu']);
  // 0 below -3, x above 3, x(x+3)/6 between.
  t.deepEqual([...hardSwish(tf.tensor1d([-4, -1.5, 0, 1.5, 4])).dataSync()].map((v) => Number(v.toFixed(4)) + 0), [0, -0.375, 0, 1.125, 4]);
});

test.serial('the stem trains on wasm: finite, non-zero gradients for every stem weight', async (t) => {
  t.is(await initBackend(['wasm']), 'wasm');
  const layers = [6, 12].map((out, i) => ({
    weight: tf.variable(tf.randomUniform([out, i === 0 ? 3 : 6, 3, 3], -0.5, 0.5, 'float32', 10 + i)) as tf.Variable<tf.Rank.R4>,
    bias: tf.variable(tf.zeros([out])) as tf.Variable<tf.Rank.R1>,
  }));
  const image = tf.randomUniform([2, 3, 16, 16], -2, 2, 'float32', 4) as tf.Tensor4D;
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(convStem(image, layers))) as tf.Scalar);
  t.deepEqual(convStem(image, layers).shape, [2, 16, 12]);
  for (const v of layers.flatMap((l) => [l.weight, l.bias])) {
    const g = grads[v.name].dataSync();
    t.true(g.every(Number.isFinite) && g.some((x) => x !== 0), v.name);
  }
  t.true(Number.isFinite(value.dataSync()[0]));
  tf.dispose([value, image, ...Object.values(grads), ...layers.flatMap((l) => [l.weight, l.bias])]);
});
