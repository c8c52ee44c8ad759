import test from 'ava';
import { CtEdgeError, type ErrorCode } from '../ts/contract/errors.js';
import { loadNative } from '../ts/deploy/native.js';
import type { Box, Frame } from '../ts/contract/types.js';
import { Rng } from '../ts/train/data/random.js';
import { assembleBatch, cropWindow, PairSampler, roundHalfEven, type SamplerOptions } from '../ts/train/data/sampler.js';
import { pickFramePair, syntheticSource, type PairSource } from '../ts/train/data/sources.js';
import { join } from 'node:path';
import { Engine, Tracker } from '../ts/index.js';
import { squareFrame } from './helpers/frames.js';
import { repoRoot } from './helpers/data.js';

const code = (c: ErrorCode) => ({ instanceOf: CtEdgeError, code: c });
const mean = [0.485, 0.456, 0.406];
const std = [0.229, 0.224, 0.225];

/** One fixed frame pair: a square on a patterned background. */
function fixedSource(name: string, frame: Frame, box: Box): PairSource {
  return { name, drawPair: async () => ({ template: frame, templateBox: box, search: frame, searchBox: box }) };
}

const frame = squareFrame(160, 120, 60, 40, 30);
const square = { x: 60, y: 40, width: 30, height: 30 };
const noAugment: Partial<SamplerOptions> = { grayscaleProbability: 0, flipProbability: 0, brightnessJitter: 0 };
const synthetic = () => syntheticSource({ seed: 4, clip: { width: 128, height: 96, length: 30 }, poolSize: 4 });
const smallCrops = { templateSize: 32, searchSize: 64 };

test('round half to even, as Python round() and nearbyint', (t) => {
  t.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});

test('without augmentation the crops are the runtime crop, pixel for pixel', async (t) => {
  const sampler = new PairSampler([{ source: fixedSource('fixed', frame, square), weight: 1 }], { seed: 1, ...noAugment, centerJitter: 0, scaleJitter: 0 });
  const sample = await sampler.sample(0);
  const norm = { mean, std, channelOrder: 'rgb' as const };
  const template = new Float32Array(3 * 128 * 128);
  loadNative().cropToTensor(frame, cropWindow(square, 2), 128, template, norm);
  const search = new Float32Array(3 * 256 * 256);
  loadNative().cropToTensor(frame, cropWindow(square, 4), 256, search, norm);
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  t.true(maxDiff(sample.template, template) < 1e-5);
  t.true(maxDiff(sample.search, search) < 1e-5);
  // and what a real Tracker feeds its model (the window the native tracker computes, not the sampler's):
  // init on the square, then track the same frame, whose search crop is cut around the init box
  const engine = await Engine.load(join(repoRoot, 'models', 'student-2.onnx'), { threads: 1 }); // 64/128 px crops
  try {
    const small = await new PairSampler([{ source: fixedSource('fixed', frame, square), weight: 1 }], { seed: 1, ...noAugment, centerJitter: 0, scaleJitter: 0, templateSize: 64, searchSize: 128 }).sample(0);
    await using tracker = new Tracker(engine);
    tracker.init(frame, square);
    t.true(maxDiff(small.template, tracker.inputs.template) < 1e-5, 'template crop as the tracker cuts it');
    await tracker.track(frame);
    t.true(maxDiff(small.search, tracker.inputs.search) < 1e-5, 'search crop as the tracker cuts it');
  } finally {
    await engine.dispose();
  }
  // The box centred in both crops, at 1/2 and 1/4 of the side.
  t.true(Math.abs(sample.templateBox[0] - 0.5) < 0.01 && Math.abs(sample.templateBox[2] - 0.5) < 0.01);
  t.true(Math.abs(sample.box[0] - 0.5) < 0.01 && Math.abs(sample.box[2] - 0.25) < 0.01);
});

test('the search box is jittered within OSTrack bounds, the template box stays centred', async (t) => {
  const sampler = new PairSampler([{ source: synthetic(), weight: 1 }], { seed: 2, ...noAugment, ...smallCrops });
  let offCentre = 0;
  for (let i = 0; i < 40; i++) {
    const { box, templateBox } = await sampler.sample(i);
    // Jitter moves the centre by at most 1.5 sqrt(w*h) of a box whose crop side is 4 sqrt(w*h).
    t.true(Math.abs(box[0] - 0.5) <= 0.4 && Math.abs(box[1] - 0.5) <= 0.4, `sample ${i}: ${box}`);
    t.true(Math.sqrt(box[2] * box[3]) > 0.05 && Math.sqrt(box[2] * box[3]) < 0.8);
    if (Math.abs(box[0] - 0.5) > 0.1 || Math.abs(box[1] - 0.5) > 0.1) offCentre++;
    t.true(Math.abs(templateBox[0] - 0.5) < 0.05 && Math.abs(templateBox[1] - 0.5) < 0.05);
    t.true(Math.abs(Math.sqrt(templateBox[2] * templateBox[3]) - 0.5) < 0.05);
  }
  t.true(offCentre > 10, 'most search crops are off-centre');
});

test('samples are a pure function of seed and index', async (t) => {
  const make = (seed: number) => new PairSampler([{ source: synthetic(), weight: 1 }], { seed, ...smallCrops });
  const a = make(5);
  const first = await a.sample(7);
  await a.sample(3);
  t.deepEqual(await a.sample(7), first);
  t.deepEqual(await make(5).sample(7), first);
  t.notDeepEqual((await make(6).sample(7)).search, first.search);
});

test('the joint flip mirrors both crops and their boxes', async (t) => {
  const make = (flipProbability: number) => new PairSampler([{ source: synthetic(), weight: 1 }], { seed: 9, ...noAugment, ...smallCrops, flipProbability });
  const plain = await make(0).sample(1);
  const flipped = await make(1).sample(1);
  for (const [key, n] of [['template', 32], ['search', 64]] as const) {
    let mismatch = 0;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) if (plain[key][c * n * n + y * n + x] !== flipped[key][c * n * n + y * n + (n - 1 - x)]) mismatch++;
    }
    t.is(mismatch, 0, key);
  }
  t.true(Math.abs(flipped.box[0] - (1 - plain.box[0])) < 1e-6);
  t.true(Math.abs(flipped.templateBox[0] - (1 - plain.templateBox[0])) < 1e-6);
  t.deepEqual([flipped.box[1], flipped.box[2], flipped.box[3]], [plain.box[1], plain.box[2], plain.box[3]]);
});

test('grayscale gives equal channels', async (t) => {
  const sampler = new PairSampler([{ source: synthetic(), weight: 1 }], { seed: 3, ...smallCrops, grayscaleProbability: 1 });
  const { search } = await sampler.sample(0);
  const plane = 64 * 64;
  for (let i = 0; i < plane; i += 97) {
    const gray = search[i] * std[0] + mean[0];
    t.true(Math.abs(search[plane + i] * std[1] + mean[1] - gray) < 1e-5);
    t.true(Math.abs(search[2 * plane + i] * std[2] + mean[2] - gray) < 1e-5);
  }
});

test('sources mix by weight, and batches are the samples stacked', async (t) => {
  const a = fixedSource('a', frame, square);
  const b = fixedSource('b', squareFrame(160, 120, 20, 30, 40), { x: 20, y: 30, width: 40, height: 40 });
  const sampler = new PairSampler([{ source: a, weight: 3 }, { source: b, weight: 1 }], { seed: 1, ...smallCrops });
  let fromA = 0;
  for (let i = 0; i < 200; i++) if ((await sampler.sample(i)).source === 'a') fromA++;
  t.true(fromA > 125 && fromA < 175, `${fromA} of 200 from the source of weight 3 of 4`);
  const batch = await sampler.batch(2, 3);
  const parts = await Promise.all([6, 7, 8].map((i) => sampler.sample(i)));
  t.deepEqual(batch, assembleBatch(parts));
  t.is(batch.template.length, 3 * 3 * 32 * 32);
  t.is(batch.search.length, 3 * 3 * 64 * 64);
  t.deepEqual(Array.from(batch.boxes.subarray(4, 8)), Array.from(parts[1].box));
});

test('a batch part is those members of the batch, and a part outside the batch is refused', async (t) => {
  const sampler = new PairSampler([{ source: synthetic(), weight: 1 }], { seed: 5, ...smallCrops });
  const part = await sampler.batch(2, 5, 1, 3);
  t.deepEqual(part, assembleBatch(await Promise.all([11, 12].map((i) => sampler.sample(i)))));
  for (const [from, to] of [[3, 3], [-1, 2], [0, 6], [1.5, 3]]) {
    await t.throwsAsync(sampler.batch(2, 5, from, to), { ...code('ERR_INVALID_ARGUMENT'), message: /a batch part must satisfy 0 <= from < to <= 5/ }, `${from}..${to}`);
  }
});

test('frame pairs: template before search, both visible, within the gap', (t) => {
  const rng = new Rng(1);
  const visible = Array.from({ length: 50 }, (_, i) => i % 7 !== 3);
  for (let k = 0; k < 200; k++) {
    const [a, b] = pickFramePair(rng, visible, 5);
    t.true(visible[a] && visible[b] && a < b && b - a <= 5);
  }
  t.throws(() => pickFramePair(rng, [true, false, false], 5), code('ERR_DATASET'));
});

test('bad sampler input is a CtEdgeError', async (t) => {
  t.throws(() => new PairSampler([], { seed: 1 }), code('ERR_INVALID_ARGUMENT'));
  t.throws(() => new PairSampler([{ source: synthetic(), weight: 0 }], { seed: 1 }), code('ERR_INVALID_ARGUMENT'));
  t.throws(() => assembleBatch([]), code('ERR_INVALID_ARGUMENT'));
  const degenerate = fixedSource('zero', frame, { x: 10, y: 10, width: 0, height: 0 });
  await t.throwsAsync(new PairSampler([{ source: degenerate, weight: 1 }], { seed: 1, ...smallCrops }).sample(0), code('ERR_DATASET'));
});
