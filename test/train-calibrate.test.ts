/** Box-size calibration: the shift it solves is exact, lands in the network, and fixes a biased tracker's boxes. */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { command as calibrate } from '../ts/cli/commands/calibrate.js';
import { oneStepCheck } from '../ts/deploy/eval/one-step.js';
import { initBackend } from '../ts/train/model/backend.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { writeTrackerOnnx } from '../ts/train/export-onnx.js';
import { Engine } from '../ts/deploy/engine.js';
import { CtEdgeError } from '../ts/contract/errors.js';
import { calibrateBoxSize, SIZE_BIAS } from '../ts/train/calibrate.js';
import { trainingPairs } from '../ts/train/data-source.js';
import { heldOutClips } from '../ts/train/data/generator.js';
import type { PairBatchSource } from '../ts/train/objectives.js';

const teacherPath = new URL('../models/teacher.safetensors', import.meta.url).pathname;
const TRACKER_CROPS = { centerJitter: 0, scaleJitter: 0, brightnessJitter: 0, grayscaleProbability: 0 };

async function teacher(): Promise<TrackerNet> {
  await initBackend();
  const { config, weights } = await readCheckpoint(teacherPath);
  return TrackerNet.fromWeights(config, weights, teacherPath);
}

function addToSizeBias(net: TrackerNet, delta: number): void {
  const bias = net.variable(SIZE_BIAS);
  tf.tidy(() => bias.assign(tf.add(bias, delta)));
}

test('the shift is solved exactly and lands in the network: a second pass finds nothing left, an added bias comes back out, a saturated head is refused', async (t) => {
  const net = await teacher();
  try {
    const data = trainingPairs(net.config, { seed: 5, sampling: TRACKER_CROPS });
    const first = await calibrateBoxSize(net, data, { pairs: 48, batchSize: 16 });
    t.is(first.pairs, 48);
    t.true(first.measured > 24, `the teacher's peak lay on the target in only ${first.measured} of 48 pairs`);
    for (const c of [0, 1]) {
      t.true(Math.abs(first.after[c] - 1) < 1e-6);
      t.true(Math.abs(first.before[c] - 1) < 0.3, `before ${first.before[c]}`);
    }

    // the same pairs again: the network now predicts unbiased sizes on them
    const second = await calibrateBoxSize(net, data, { pairs: 48, batchSize: 16 });
    t.is(second.measured, first.measured);
    for (const c of [0, 1]) {
      t.true(Math.abs(second.shift[c]) < 1e-4, `shift ${second.shift[c]}`);
      t.true(Math.abs(second.before[c] - 1) < 1e-4, `before ${second.before[c]}`);
    }

    // a size bias of +0.4 changes no score map, so the same pairs are measured and -0.4 is solved
    addToSizeBias(net, 0.4);
    const third = await calibrateBoxSize(net, data, { pairs: 48, batchSize: 16 });
    t.is(third.measured, first.measured);
    for (const c of [0, 1]) {
      t.true(Math.abs(third.shift[c] + 0.4) < 1e-4, `shift ${third.shift[c]}`);
      t.true(third.before[c] > 1.2, `before ${third.before[c]}`);
    }

    // a size head saturated at its clamp: no bias shift within range brings it back
    addToSizeBias(net, 20);
    const saturated = Array.from(net.variable(SIZE_BIAS).dataSync());
    await t.throwsAsync(calibrateBoxSize(net, data, { pairs: 16 }), { instanceOf: CtEdgeError, code: 'ERR_CALIBRATION', message: /more than a bias shift of 8 logits/ });
    t.deepEqual(Array.from(net.variable(SIZE_BIAS).dataSync()), saturated, 'a refused calibration changes nothing');
  } finally {
    net.dispose();
  }
});

test('a tracker pushed to too-large boxes tracks with true-sized boxes again after calibration (one-step check)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-calibrate-'));
  const net = await teacher();
  try {
    addToSizeBias(net, 0.5);
    await writeTrackerOnnx(join(dir, 'biased.onnx'), net.config, net.weights());
    await calibrateBoxSize(net, trainingPairs(net.config, { seed: 6, sampling: TRACKER_CROPS }), { pairs: 256 });
    await writeTrackerOnnx(join(dir, 'calibrated.onnx'), net.config, net.weights());
    const clips = heldOutClips(4, 7, { length: 10 });
    const ratios = [];
    for (const name of ['biased', 'calibrated']) {
      const engine = await Engine.load(join(dir, `${name}.onnx`));
      ratios.push((await oneStepCheck(engine, clips, 1)).sizeRatio);
      await engine.dispose();
    }
    const [biased, calibrated] = ratios;
    t.log(`one-step size ratio: biased ${biased.toFixed(3)}, calibrated ${calibrated.toFixed(3)}`);
    t.true(biased > 1.25, `biased size ratio ${biased}`);
    t.true(Math.abs(Math.log(calibrated)) < 0.12, `calibrated size ratio ${calibrated}`);
  } finally {
    net.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a network whose peak never lies on the target cannot be calibrated, and says so; bad counts are refused', async (t) => {
  const net = await teacher();
  try {
    const { templateSize: ts, searchSize: ss } = net.config;
    // targets entirely outside the search crop: no peak can lie on them
    const offCrop: PairBatchSource = {
      async batch(_step, count) {
        const boxes = new Float32Array(count * 4);
        for (let i = 0; i < count; i++) boxes.set([1.5, 1.5, 0.2, 0.2], i * 4);
        return { count, template: new Float32Array(count * 3 * ts * ts), search: new Float32Array(count * 3 * ss * ss), boxes };
      },
      describe: () => ({ kind: 'test' }),
    };
    const before = net.variable(SIZE_BIAS).dataSync().slice();
    await t.throwsAsync(calibrateBoxSize(net, offCrop, { pairs: 8 }), { instanceOf: CtEdgeError, code: 'ERR_CALIBRATION', message: /none of 8 pairs.*train it longer/ });
    t.deepEqual(net.variable(SIZE_BIAS).dataSync(), before);
    await t.throwsAsync(calibrateBoxSize(net, offCrop, { pairs: 0 }), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /pairs >= 1, got 0/ });
    // a batch of 0 pairs would never finish drawing
    await t.throwsAsync(calibrateBoxSize(net, offCrop, { pairs: 8, batchSize: 0 }), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /batches need .* got 0/ });
  } finally {
    net.dispose();
  }
});

test('ct-edge calibrate writes a checkpoint that differs from its input in the size bias only', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-calibrate-cli-'));
  try {
    const output = join(dir, 'calibrated.safetensors');
    t.is(await calibrate.run([teacherPath, '-o', output, '--pairs', '32', '--seed', '3']), 0);
    const [a, b] = [await readCheckpoint(teacherPath), await readCheckpoint(output)];
    t.deepEqual(b.config, a.config);
    for (const [name, w] of a.weights) {
      if (name === SIZE_BIAS) t.notDeepEqual(b.weights.get(name)!.data, w.data);
      else t.deepEqual(b.weights.get(name)!.data, w.data, name);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const bad = (code: string, message: RegExp) => ({ instanceOf: CtEdgeError, code, message });
const cliErrors: [string, string[], ReturnType<typeof bad>][] = [
  ['no checkpoint', ['-o', '/tmp/x.safetensors'], bad('ERR_INVALID_ARGUMENT', /one checkpoint file, got none/)],
  ['no -o', [teacherPath], bad('ERR_INVALID_ARGUMENT', /-o FILE\.safetensors/)],
  ['-o the input itself', [teacherPath, '-o', teacherPath], bad('ERR_INVALID_ARGUMENT', /would overwrite the checkpoint/)],
  ['--pairs 0', [teacherPath, '-o', '/tmp/x.safetensors', '--pairs', '0'], bad('ERR_INVALID_ARGUMENT', /--pairs must be a whole number >= 1/)],
  ['a bad --clip-mix', [teacherPath, '-o', '/tmp/x.safetensors', '--clip-mix', 'tough'], bad('ERR_INVALID_ARGUMENT', /easy, moderate, hard/)],
  ['a missing checkpoint', ['/tmp/no-such-ct-checkpoint.safetensors', '-o', '/tmp/x.safetensors'], bad('ERR_CHECKPOINT', /no-such-ct-checkpoint/)],
];
for (const [what, argv, expected] of cliErrors) {
  test(`ct-edge calibrate with ${what} is refused before any work`, async (t) => {
    await t.throwsAsync(calibrate.run(argv), expected);
  });
}
