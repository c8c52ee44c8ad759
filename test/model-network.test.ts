/**
 * The TensorFlow.js network on the wasm backend: shapes, the split forward API that compression
 * uses, BatchNorm modes, and gradients reaching every trainable convolution (wasm has no
 * Conv2DBackpropFilter, so this proves conv3x3's own filter gradient).
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_ORDER, backendInfo, backendName, initBackend } from '../ts/train/model/backend.js';
import { geometry, netConfig, PRESETS } from '../ts/train/model/config.js';
import { attention, batchNorm, conv3x3, matMulTransposeB } from '../ts/train/model/layers.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { paramSpecs } from '../ts/train/model/params.js';

const config = netConfig('tiny');
const { featureSize: f, templateTokens, searchTokens } = geometry(config);

test.before(async () => {
  await initBackend(['wasm']);
});

const inputs = (batch: number, seed: number) => ({
  template: tf.randomNormal([batch, 3, config.templateSize, config.templateSize], 0, 1, 'float32', seed) as tf.Tensor4D,
  search: tf.randomNormal([batch, 3, config.searchSize, config.searchSize], 0, 1, 'float32', seed + 1) as tf.Tensor4D,
});

test('the chosen backend is reported, with the reasons the ones before it were skipped', async (t) => {
  t.is(backendName(), 'wasm');
  t.is(tf.getBackend(), 'wasm');
  t.is(await initBackend(), 'wasm', 'later calls keep the first choice');
  // The full order: tfjs-node-gpu and tfjs-node cannot install on CI, so wasm wins there.
  const name = await initBackend(BACKEND_ORDER);
  const info = backendInfo()!;
  t.is(info.name, name);
  t.deepEqual(info.skipped.map((reason) => reason.split(':')[0]), BACKEND_ORDER.slice(0, BACKEND_ORDER.indexOf(name)));
  t.log(`backend ${name}; skipped: ${info.skipped.join('; ') || 'none'}`);
  await initBackend(['wasm']);
});

test.serial('calls made at the same time run one after another, in call order', async (t) => {
  // unordered, the plain call would answer 'wasm' (the choice standing when it was made)
  t.deepEqual(await Promise.all([initBackend(['cpu']), initBackend(), initBackend(['wasm'])]), ['cpu', 'cpu', 'wasm']);
  t.is(tf.getBackend(), 'wasm');
});

test('presets: OSTrack-256 geometry and the 80-token tiny model', (t) => {
  const o = PRESETS['ostrack-256'];
  t.deepEqual([o.dim, o.depth, o.heads, o.templateSize, o.searchSize], [768, 12, 12, 128, 256]);
  t.deepEqual(geometry(o), { templateTokens: 64, searchTokens: 256, featureSize: 16 });
  t.is(templateTokens + searchTokens, 80);
  t.throws(() => netConfig('tiny', { heads: 3 }), { message: /not divisible by heads/ });
  const names = paramSpecs(o).map((s) => s.name);
  for (const name of ['patch_embed.proj.weight', 'pos_embed_z', 'pos_embed_x', 'blocks.11.attn.qkv.bias', 'norm.weight', 'box_head.conv1_ctr.0.weight', 'box_head.conv4_size.1.running_var', 'box_head.conv5_offset.weight']) {
    t.true(names.includes(name), name);
  }
  const shape = (name: string) => paramSpecs(o).find((s) => s.name === name)!.shape;
  t.deepEqual(shape('blocks.0.attn.qkv.weight'), [2304, 768]);
  t.deepEqual(shape('box_head.conv1_ctr.0.weight'), [256, 768, 3, 3]);
  t.deepEqual(shape('box_head.conv4_ctr.0.weight'), [32, 64, 3, 3]);
  t.deepEqual(shape('box_head.conv5_size.weight'), [2, 32, 1, 1]);
});

test('forward gives NCHW maps in range and every block output', (t) => {
  const net = TrackerNet.random(config, 3);
  tf.tidy(() => {
    const { template, search } = inputs(2, 1);
    const out = net.forward(template, search);
    t.deepEqual(out.score.shape, [2, 1, f, f]);
    t.deepEqual(out.size.shape, [2, 2, f, f]);
    t.deepEqual(out.offset.shape, [2, 2, f, f]);
    t.is(out.features.length, config.depth);
    for (const feature of out.features) t.deepEqual(feature.shape, [2, templateTokens + searchTokens, config.dim]);
    const score = out.score.dataSync();
    t.true(score.every((v) => v >= 1e-4 && v <= 1 - 1e-4));
  });
  t.throws(() => tf.tidy(() => net.embed(inputs(1, 1).search, inputs(1, 1).search)), { message: /template must be \[B,3,64,64\]/ });
  net.dispose();
});

test('blocks of two networks can be mixed (stage replacement)', (t) => {
  const teacher = TrackerNet.random(config, 1);
  const student = TrackerNet.random(netConfig('tiny', { depth: 2 }), 2);
  tf.tidy(() => {
    const { template, search } = inputs(1, 5);
    const tokens = teacher.embed(template, search);
    // Stage 1 runs the teacher's blocks 0..2, stage 2 the student's block 1.
    const mixed = teacher.runBlocks(tokens, [...teacher.blocks.slice(0, 3), student.blocks[1]]);
    t.is(mixed.features.length, 4);
    const byHand = student.blocks[1].apply(teacher.blocks[2].apply(teacher.blocks[1].apply(teacher.blocks[0].apply(tokens))));
    t.true(tf.max(tf.abs(tf.sub(mixed.tokens, byHand))).dataSync()[0] < 1e-6);
    const maps = student.head(mixed.tokens);
    t.deepEqual(maps.score.shape, [1, 1, f, f]);
    // The full forward is embed -> own blocks -> head.
    const own = teacher.forward(template, search);
    const split = teacher.head(teacher.runBlocks(tokens).tokens);
    t.true(tf.max(tf.abs(tf.sub(own.offset, split.offset))).dataSync()[0] < 1e-6);
  });
  teacher.dispose();
  student.dispose();
});

test('BatchNorm: training uses batch statistics and moves the running ones; inference uses the running ones', (t) => {
  const net = TrackerNet.random(config, 4);
  const mean = net.variable('box_head.conv1_ctr.1.running_mean');
  const variance = net.variable('box_head.conv2_size.1.running_var');
  const before = [mean.dataSync().slice(), variance.dataSync().slice()];
  const { template, search } = inputs(2, 9);
  const evalA = tf.tidy(() => net.forward(template, search).score.dataSync());
  t.deepEqual([mean.dataSync(), variance.dataSync()], before, 'inference leaves the statistics alone');
  tf.tidy(() => {
    net.forward(template, search, { training: true });
  });
  t.notDeepEqual(mean.dataSync(), before[0]);
  t.notDeepEqual(variance.dataSync(), before[1]);
  const evalB = tf.tidy(() => net.forward(template, search).score.dataSync());
  t.notDeepEqual(evalA, evalB, 'inference follows the updated running statistics');
  net.dispose();
});

test('matMulTransposeB: the value and both gradients of a b^T as tfjs computes them', (t) => {
  // It exists for speed (no transpose flag reaches the wasm matmul), so it must not change results.
  const a = tf.randomNormal([7, 5], 0, 1, 'float32', 31) as tf.Tensor2D;
  const b = tf.randomNormal([3, 5], 0, 1, 'float32', 32) as tf.Tensor2D;
  const dy = tf.randomNormal([7, 3], 0, 1, 'float32', 33) as tf.Tensor2D;
  const loss = (f: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D, y as tf.Tensor2D), dy));
  const ours = tf.grads(loss(matMulTransposeB))([a, b]);
  const reference = tf.grads(loss((x, y) => tf.matMul(x, y, false, true)))([a, b]);
  const close = (x: tf.Tensor, y: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0]);
  t.true(close(matMulTransposeB(a, b), tf.matMul(a, b, false, true)) < 1e-5);
  t.deepEqual(ours.map((g) => g.shape), [[7, 5], [3, 5]]);
  t.true(close(ours[0], reference[0]) < 1e-5, 'gradient for a');
  t.true(close(ours[1], reference[1]) < 1e-5, 'gradient for b');
  tf.dispose([a, b, dy, ...ours, ...reference]);
});

test('attention: the per-matrix form (wasm) gives the batched form\'s value and gradients', (t) => {
  const [q, k, v] = [41, 42, 43].map((seed) => tf.randomNormal([2, 3, 6, 4], 0, 1, 'float32', seed) as tf.Tensor4D);
  const dy = tf.randomNormal([2, 3, 6, 4], 0, 1, 'float32', 44);
  const run = (perMatrix: boolean) => {
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(attention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, perMatrix), dy));
    return [attention(q, k, v, perMatrix), ...tf.grads(f)([q, k, v])];
  };
  const [ours, reference] = [run(true), run(false)];
  ours.forEach((x, i) => t.true(tf.tidy(() => tf.max(tf.abs(tf.sub(x, reference[i]))).dataSync()[0]) < 1e-5, ['value', 'dq', 'dk', 'dv'][i]));
  tf.dispose([q, k, v, dy, ...ours, ...reference]);
});

test('gradients reach every trainable parameter on wasm, convolutions included', (t) => {
  const net = TrackerNet.random(config, 5);
  const { template, search } = inputs(2, 11);
  const target = tf.randomUniform([2, 1, f, f], 0, 1, 'float32', 13);
  const trainable = net.trainableVariables();
  const started = performance.now();
  const { value, grads } = tf.variableGrads(() => {
    const out = net.forward(template, search, { training: true });
    const l1 = tf.add(tf.mean(tf.abs(tf.sub(out.score, target))), tf.add(tf.mean(out.size), tf.mean(tf.square(out.offset))));
    return tf.add(l1, tf.mul(tf.mean(tf.square(out.features[2])), 0.1)) as tf.Scalar;
  }, trainable);
  t.log(`tiny model, batch 2, forward + backward on wasm: ${(performance.now() - started).toFixed(0)} ms`);
  t.true(Number.isFinite(value.dataSync()[0]));
  const nameOf = new Map([...net.variables].map(([name, v]) => [v.name, name]));
  t.is(Object.keys(grads).length, trainable.length);
  const zero: string[] = [];
  for (const [id, g] of Object.entries(grads)) {
    const norm = tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]);
    if (!(norm > 0) || !Number.isFinite(norm)) zero.push(`${nameOf.get(id)} (${norm})`);
  }
  t.deepEqual(zero, [], 'parameters without a gradient');
  for (const name of ['patch_embed.proj.weight', 'box_head.conv1_ctr.0.weight', 'box_head.conv4_offset.0.weight', 'box_head.conv5_size.weight']) {
    t.truthy(grads[net.variable(name).name], name);
  }
  t.false(net.variable('box_head.conv1_ctr.1.running_mean').trainable);
  tf.dispose([value, ...Object.values(grads), template, search, target]);
  net.dispose();
});

test('gradients agree with finite differences through every smooth layer', (t) => {
  // ReLU kinks make finite differences of the whole network noisy in float32, so this checks the
  // smooth path: patch embedding, a block (LayerNorm, attention, GELU), a head conv with
  // training-mode BatchNorm, and the clamped sigmoid. The ReLU gradient is the trivial step.
  const net = TrackerNet.random(config, 6);
  const { template, search } = inputs(2, 21);
  const weights = tf.randomNormal([2, f, f, config.headChannels], 0, 1, 'float32', 23);
  const v = (name: string) => net.variable(name) as tf.Tensor;
  const loss = () =>
    tf.tidy(() => {
      const tokens = net.blocks[0].apply(net.embed(template, search));
      const map = tf.reshape(tf.slice(tokens, [0, templateTokens, 0], [2, searchTokens, config.dim]), [2, f, f, config.dim]) as tf.Tensor4D;
      const p = 'box_head.conv1_ctr.';
      const bn = { weight: v(`${p}1.weight`) as tf.Tensor1D, bias: v(`${p}1.bias`) as tf.Tensor1D, runningMean: net.variable(`${p}1.running_mean`) as tf.Variable<tf.Rank.R1>, runningVar: net.variable(`${p}1.running_var`) as tf.Variable<tf.Rank.R1> };
      const y = batchNorm(conv3x3(map, v(`${p}0.weight`) as tf.Tensor4D, v(`${p}0.bias`) as tf.Tensor1D), bn, true);
      const score = tf.clipByValue(tf.sigmoid(y), 1e-4, 1 - 1e-4);
      return tf.add(tf.sum(tf.mul(tf.log(score), weights)), tf.mean(tf.square(tokens))) as tf.Scalar;
    });
  const names = ['patch_embed.proj.weight', 'pos_embed_x', 'blocks.0.norm1.weight', 'blocks.0.attn.qkv.weight', 'blocks.0.attn.qkv.bias', 'blocks.0.attn.proj.weight', 'blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc2.bias', 'box_head.conv1_ctr.0.weight', 'box_head.conv1_ctr.1.weight', 'box_head.conv1_ctr.1.bias'];
  const { grads } = tf.variableGrads(loss, names.map((n) => net.variable(n)));
  const eps = 1e-2;
  for (const [i, name] of names.entries()) {
    const variable = net.variable(name);
    const direction = tf.tidy(() => {
      const d = tf.randomNormal(variable.shape, 0, 1, 'float32', 100 + i);
      return tf.div(d, tf.norm(d)); // a unit step, the same size for every parameter
    });
    const original = tf.clone(variable);
    const lossAt = (sign: number) => {
      tf.tidy(() => variable.assign(tf.add(original, tf.mul(direction, sign * eps))));
      return tf.tidy(() => loss().dataSync()[0]);
    };
    const numeric = (lossAt(1) - lossAt(-1)) / (2 * eps);
    variable.assign(original);
    const analytic = tf.tidy(() => tf.sum(tf.mul(grads[variable.name], direction)).dataSync()[0]);
    t.true(Math.abs(numeric - analytic) <= 1e-2 * Math.max(1, Math.abs(analytic)), `${name}: finite difference ${numeric}, gradient ${analytic}`);
    tf.dispose([direction, original]);
  }
  tf.dispose([template, search, weights, ...Object.values(grads)]);
  net.dispose();
});
