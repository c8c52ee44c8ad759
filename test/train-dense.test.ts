/**
 * What label-free compression added: asymmetric attention (the template part depends on the
 * template alone), dense response distillation, random regions of real images as pairs, and the
 * optimisation settings (warm-up + cosine, decay on matrices only, a moving average of the weights).
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../ts/train/model/backend.js';
import { geometry, netConfig, validateNetConfig } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { compressionObjective, DEFAULT_SCHEDULE, studentConfig, type CompressOptions } from '../ts/train/compress.js';
import { denseDistillation } from '../ts/train/losses.js';
import { decays, learningRateAt, trainLoop } from '../ts/train/loop.js';
import { parseDataSource } from '../ts/train/data/data-spec.js';
import { randomRegion, regionClips, regionSource, REGION_AREA } from '../ts/train/data/regions.js';
import { Rng } from '../ts/train/data/random.js';
import { PairSampler, strongAugmentation } from '../ts/train/data/sampler.js';
import { syntheticSource } from '../ts/train/data/sources.js';
import { CtEdgeError } from '../ts/index.js';
import { randomBatches } from './helpers/batches.js';

test.before(async () => {
  await initBackend(['wasm', 'cpu']);
});

const config = netConfig('tiny', { depth: 2, attention: 'asymmetric' });
const { templateTokens: nz } = geometry(config);

test('asymmetric attention: template tokens never see the search region, search tokens see both', (t) => {
  const net = TrackerNet.random(config, 5);
  const joint = TrackerNet.fromWeights({ ...config, attention: undefined }, net.weights(), 'the same weights');
  const template = tf.randomNormal([1, 3, config.templateSize, config.templateSize], 0, 1, 'float32', 1) as tf.Tensor4D;
  const [searchA, searchB] = [2, 3].map((s) => tf.randomNormal([1, 3, config.searchSize, config.searchSize], 0, 1, 'float32', s) as tf.Tensor4D);
  const tokens = (n: TrackerNet, search: tf.Tensor4D) => n.runBlocks(n.embed(template, search)).tokens;
  const part = (x: tf.Tensor3D, from: number, size: number) => tf.slice(x, [0, from, 0], [1, size, config.dim]);
  const [a, b] = [tokens(net, searchA), tokens(net, searchB)];
  const n = a.shape[1];
  t.true(tf.max(tf.abs(tf.sub(part(a, 0, nz), part(b, 0, nz)))).dataSync()[0] < 1e-6, 'another search region leaves the template tokens as they were');
  t.true(tf.max(tf.abs(tf.sub(part(a, nz, n - nz), part(b, nz, n - nz)))).dataSync()[0] > 1e-3, 'the search tokens change with it');
  // The template tokens are what the blocks make of the template tokens alone (a joint net on them).
  const alone = joint.blocks.reduce((x, block) => {
    // a joint block over the template tokens only is the asymmetric template path
    return block.apply(x);
  }, part(net.embed(template, searchA), 0, nz) as tf.Tensor3D);
  t.true(tf.max(tf.abs(tf.sub(alone, part(a, 0, nz)))).dataSync()[0] < 1e-5);
  t.true(tf.max(tf.abs(tf.sub(tokens(joint, searchA), tokens(joint, searchB)))).dataSync()[0] > 1e-3, 'joint attention mixes the two (the teacher stays joint)');
  net.dispose();
  joint.dispose();
});

test('the attention kind is a checked config value, and a student takes it from the options', (t) => {
  t.throws(() => validateNetConfig({ ...config, attention: 'sideways' }), { instanceOf: CtEdgeError, message: /attention must be 'joint' or 'asymmetric'/ });
  const teacher = netConfig('tiny', { depth: 4 });
  t.is(studentConfig(teacher, { studentBlocks: 2, attention: 'asymmetric' }).attention, 'asymmetric');
  t.is(studentConfig(teacher, { studentBlocks: 2 }).attention, undefined, 'default: the teacher\'s (joint)');
});

test('dense distillation: zero against itself, positive against another head, gradient at every cell', (t) => {
  // peaks at distinct cells inside the map, boxes well inside the crop (targets are clamped to it)
  const maps = (seed: number) => ({
    score: tf.clipByValue(tf.sigmoid(tf.add(tf.randomNormal([2, 1, 8, 8], 0, 1, 'float32', seed), tf.reshape(tf.oneHot([27 + seed, 36], 64), [2, 1, 8, 8]).mul(6))), 1e-4, 1 - 1e-4) as tf.Tensor4D,
    size: tf.randomUniform([2, 2, 8, 8], 0.05, 0.2, 'float32', seed + 1) as tf.Tensor4D,
    offset: tf.randomUniform([2, 2, 8, 8], 0, 1, 'float32', seed + 2) as tf.Tensor4D,
  });
  const teacher = maps(1);
  const self = denseDistillation(teacher, teacher);
  for (const k of ['score', 'size', 'offset'] as const) t.true(Math.abs(self[k].dataSync()[0]) < 1e-4, `${k} term is 0 at a perfect match`);
  t.true(self.box.dataSync()[0] < 1e-4, 'the box at the teacher\'s peak matches');
  const other = maps(10);
  const d = denseDistillation(other, teacher);
  for (const k of ['score', 'size', 'offset', 'box'] as const) t.true(d[k].dataSync()[0] > 1e-3, `${k} term is positive for another head`);
  const g = tf.grad((s: tf.Tensor) => denseDistillation({ ...other, score: s as tf.Tensor4D }, teacher).score)(other.score);
  t.is(Array.from(g.dataSync()).filter((v) => v === 0).length, 0, 'every cell of the score map gets a gradient (not just the peak)');
});

const options = (o: Partial<CompressOptions> = {}): CompressOptions => ({
  studentBlocks: 1,
  init: 'last',
  schedule: DEFAULT_SCHEDULE,
  guidance: true,
  mimic: true,
  replacement: true,
  batchSize: 2,
  steps: 10,
  seed: 3,
  ...o,
});

test('a dense, asymmetric compression lowers the dense term; without labels it has no ground-truth term', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-dense-'));
  const teacher = TrackerNet.random(netConfig('tiny', { depth: 2 }), 4);
  const objective = compressionObjective(teacher, randomBatches(teacher.config, 5, true), options({ distill: 'dense', groundTruth: false, attention: 'asymmetric', steps: 25 }));
  t.is(objective.student.config.attention, 'asymmetric');
  const log = await trainLoop(objective, {
    steps: 25, learningRate: 3e-3, weightDecay: 1e-4, clipNorm: 100, lrDropAt: 1, lrDropFactor: 1, checkpointEvery: 100, lrSchedule: 'cosine', warmupSteps: 3,
    checkpointPath: join(dir, 'c.safetensors'), logPath: join(dir, 'l.jsonl'), plotPath: join(dir, 'p.png'), resume: false, label: 'dense',
  });
  t.deepEqual(Object.keys(log[0].losses).sort(), ['dense', 'denseBox', 'denseOffset', 'denseScore', 'denseSize', 'guidance', 'mimic', 'total'].sort(), 'no gt, giou, l1 or focal terms');
  t.true(objective.describe().groundTruth === false && objective.describe().distill === 'dense');
  const mean = (from: number, to: number) => log.slice(from, to).reduce((a, e) => a + e.losses.dense, 0) / (to - from);
  t.log(`dense ${mean(0, 3).toFixed(3)} -> ${mean(22, 25).toFixed(3)}`);
  t.true(mean(22, 25) < mean(0, 3) * 0.9);
  objective.dispose();
  teacher.dispose();
  await rm(dir, { recursive: true });
});

test('learning rate: linear warm-up, then cosine to 0; the step schedule as before', (t) => {
  const o = { steps: 110, learningRate: 1, lrDropAt: 0.8, lrDropFactor: 0.1, lrSchedule: 'cosine' as const, warmupSteps: 10 };
  t.is(learningRateAt(5, o), 0.5);
  t.is(learningRateAt(10, o), 1);
  t.true(Math.abs(learningRateAt(60, o) - 0.5) < 1e-12, 'half-way through the decay');
  t.true(learningRateAt(110, o) < 1e-12);
  t.is(learningRateAt(88, { ...o, lrSchedule: undefined }), 1);
  t.is(learningRateAt(89, { ...o, lrSchedule: undefined }), 0.1);
});

test('weight decay: on weight matrices only when asked; never on norms, biases or position embeddings then', (t) => {
  const o = { decayOnlyMatrices: true };
  t.true(decays('blocks.0.attn.qkv.weight', [96, 32], o));
  t.true(decays('box_head.conv1_ctr.0.weight', [32, 32, 3, 3], o));
  t.false(decays('blocks.0.norm1.weight', [32], o));
  t.false(decays('blocks.0.attn.qkv.bias', [96], o));
  t.false(decays('pos_embed_z', [1, 16, 32], o));
  t.true(decays('pos_embed_z', [1, 16, 32], {}), 'default: every tensor, as before');
});

test('the moving average of the weights is what a run hands back, and it is exactly that average', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-ema-'));
  const net = TrackerNet.random(netConfig('tiny', { depth: 1 }), 2);
  const w = net.variable('pos_embed_z');
  const trajectory: Float32Array[] = [];
  const objective = {
    trainable: new Map([['pos_embed_z', w]]),
    state: new Map([['pos_embed_z', w]]),
    describe: () => ({ kind: 'ema-test' }),
    async prepare() {},
    losses: () => ({ total: tf.sum(tf.square(tf.sub(w, 1))) as tf.Scalar }),
  };
  const steps = 6;
  await trainLoop(objective, {
    steps, learningRate: 0.1, weightDecay: 0, clipNorm: 1e9, lrDropAt: 1, lrDropFactor: 1, checkpointEvery: 100, emaDecay: 0.5,
    checkpointPath: join(dir, 'c.safetensors'), logPath: join(dir, 'l.jsonl'), plotPath: join(dir, 'p.png'), resume: false, label: 'ema',
    onProgress: () => trajectory.push(w.dataSync().slice() as Float32Array),
  });
  // trajectory[0] is the start, trajectory[k] the weights after step k
  let ema = trajectory[0];
  for (let step = 1; step <= steps; step++) {
    const d = Math.min(0.5, (1 + step) / (10 + step));
    ema = ema.map((v, i) => v * d + trajectory[step][i] * (1 - d));
  }
  const final = w.dataSync();
  t.true(ema.every((v, i) => Math.abs(v - final[i]) < 1e-5));
  t.true(Math.abs(final[0] - trajectory[steps][0]) > 1e-4, 'and not the last step\'s weights');
  net.dispose();
  await rm(dir, { recursive: true });
});

test('random regions: inside the frame, 1-25% of its area, unlabeled, the search frame at most 30 later', async (t) => {
  const rng = new Rng(4);
  for (let i = 0; i < 500; i++) {
    const b = randomRegion(rng, 320, 240);
    t.true(b.x >= 0 && b.y >= 0 && b.x + b.width <= 320 + 1e-9 && b.y + b.height <= 240 + 1e-9);
    const share = (b.width * b.height) / (320 * 240);
    t.true(share >= REGION_AREA[0] * 0.99 && share <= REGION_AREA[1] * 1.01, `area share ${share}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'ct-regions-'));
  const images = await Promise.all([0, 1, 2].map(async (k) => {
    const path = join(dir, `${k}.png`);
    await sharp({ create: { width: 64 + k, height: 48, channels: 3, background: { r: 40 * k, g: 90, b: 200 } } }).png().toFile(path);
    return path;
  }));
  const clips = await regionClips(images, true, join(dir, 'cache'));
  t.deepEqual(clips, images.map((p) => [p]), 'still images are clips of one frame, read where they are');
  const source = regionSource('test', [images]);
  for (let i = 0; i < 20; i++) {
    const pair = await source.drawPair(new Rng(i), i);
    t.false(pair.labelled);
    t.deepEqual(pair.templateBox, pair.searchBox, 'the box only places both crops');
  }
  t.throws(() => regionSource('empty', [[]]), { instanceOf: CtEdgeError, code: 'ERR_DATASET', message: /regions:empty/ });
  await rm(dir, { recursive: true });
});

test('--data regions: takes footage or stills, and names what is wrong otherwise', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-regions-spec-'));
  await sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } }).png().toFile(join(dir, 'a.png'));
  const spec = await parseDataSource(`regions:stills:${dir}@2`);
  t.like(spec, { kind: 'footage', weight: 2, stills: true, regions: true });
  await t.throwsAsync(parseDataSource('regions:synthetic'), { instanceOf: CtEdgeError, message: /regions: takes unlabeled videos/ });
  await t.throwsAsync(parseDataSource('regions:stills:/usr/share/doc/no-such-package/examples'), { instanceOf: CtEdgeError, message: /regions:stills:.*no such folder/ });
  await t.throwsAsync(parseDataSource('stills:/usr/share/tuxpaint/stamps/no-such-theme'), { instanceOf: CtEdgeError, message: /no such folder; it comes with a Debian package: sudo apt-get install tuxpaint-stamps-default/ });
  await rm(dir, { recursive: true });
});

test('strong augmentation changes the pixels of a pair, never which pair or where its target is', async (t) => {
  const source = syntheticSource({ seed: 3 });
  const base = { seed: 9, templateSize: 64, searchSize: 128 };
  const plain = new PairSampler([{ source, weight: 1 }], base);
  const strong = new PairSampler([{ source, weight: 1 }], { ...base, augment: 'strong' });
  let occludedOrChanged = 0;
  for (const index of [0, 1, 2, 3, 4, 5]) {
    const [a, b, again] = [await plain.sample(index), await strong.sample(index), await strong.sample(index)];
    t.deepEqual(b.box, a.box, 'the same target box');
    t.deepEqual(b.templateBox, a.templateBox);
    t.deepEqual(again.search, b.search, 'a pure function of (seed, index)');
    const differs = a.search.some((v, i) => Math.abs(v - b.search[i]) > 1e-3);
    if (differs) occludedOrChanged++;
    // still the normalisation of pixels in [0, 1]
    const [lo, hi] = [(0 - 0.485) / 0.229 - 1e-4, (1 - 0.406) / 0.225 + 1e-4];
    t.true(b.search.every((v) => v >= lo && v <= hi));
  }
  t.is(occludedOrChanged, 6, 'colour alone changes every crop');
  const raw = new Float32Array(3 * 16 * 16).fill(0.5);
  strongAugmentation(raw, 16, new Rng(1), true);
  t.true(raw.every((v) => v >= 0 && v <= 1), 'clamped to [0, 1]');
});
