/**
 * VitTrack's convolutional stem in TensorFlow.js: the stride-2 3x3 convolution written as matmuls
 * equals tfjs's own conv2d, and the stem trains on the wasm backend (which has no
 * Conv2DBackpropFilter, hence the matmul form).
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../ts/train/model/backend.js';
import '../ts/train/model/gradients.js';
import { conv3x3, convStem, hardSwish } from '../ts/train/model/layers.js';

test.serial('a stride-2 3x3 conv as matmuls equals tf.conv2d with padding 1', async (t) => {
  await initBackend(['cpu']);
  tf.tidy(() => {
    const x = tf.randomUniform([2, 12, 10, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomUniform([5, 3, 3, 3], -1, 1, 'float32', 2) as tf.Tensor4D; // [out, in, kh, kw]
    const b = tf.randomUniform([5], -1, 1, 'float32', 3) as tf.Tensor1D;
    const ours = conv3x3(x, w, b, 2);
    const reference = tf.add(tf.conv2d(x, tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]), b);
    t.deepEqual(ours.shape, [2, 6, 5, 5]);
    t.true(tf.max(tf.abs(tf.sub(ours, reference))).dataSync()[0] < 1e-5);
    // PyTorch's Hardswish at a few points: 0 below -3, x above 3, x(x+3)/6 between.
    t.deepEqual([...hardSwish(tf.tensor1d([-4, -1.5, 0, 1.5, 4])).dataSync()].map((v) => Number(v.toFixed(4)) + 0), [0, -0.375, 0, 1.125, 4]);
  });
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
