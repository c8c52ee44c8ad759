/**
 * Data-parallel training (ts/train/parallel.ts), for teacher training and for compression: the
 * workers' gradients are exactly the share-weighted mean of each batch part's gradients,
 * BatchNorm statistics come back averaged, the replacement draws are reported, and a worker that
 * cannot start, one that fails during a step, or a stopped pool, is a typed error rather than a
 * hang.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { initBackend } from '../ts/train/model/backend.js';
import { netConfig } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { CtEdgeError } from '../ts/contract/errors.js';
import { compressionObjective, DEFAULT_SCHEDULE, type CompressOptions } from '../ts/train/compress.js';
import { trainingPairs, type TrainingDataOptions } from '../ts/train/data-source.js';
import { localGradients, type Objective } from '../ts/train/loop.js';
import { teacherObjective, type BatchPart, type PairBatchSource } from '../ts/train/objectives.js';
import { defaultTrainingWorkers, parallelObjective, splitBatch, type ObjectiveRecipe } from '../ts/train/parallel.js';

test.before(async () => {
  await initBackend(['wasm']);
});

const config = netConfig('tiny', { depth: 2 });
const data: TrainingDataOptions = { seed: 5, clip: { width: 96, height: 96 } };
// batches of 5 split into parts of 2 and 3 pairs: the mean must weight them 2/5 and 3/5
const batchSize = 5;
// compression: a 4-block teacher into 2 blocks, so that replacement can run teacher stages
const teacherConfig = netConfig('tiny', { depth: 4 });
const teacherWeights = TrackerNet.random(teacherConfig, 11).weights();
const compressOptions: CompressOptions = { studentBlocks: 2, init: 'last', schedule: DEFAULT_SCHEDULE, guidance: true, mimic: true, replacement: true, batchSize, steps: 10, seed: 7 };

/** The objective of `kind` on this thread, its batches restricted to `part` when given. */
function localObjective(kind: ObjectiveRecipe['kind'], part?: BatchPart): { objective: Objective; recipe: ObjectiveRecipe; dispose(): void } {
  const all = trainingPairs(kind === 'teacher' ? config : teacherConfig, data);
  const source: PairBatchSource = part ? { batch: (s, count) => all.batch(s, count, part), describe: all.describe } : all;
  if (kind === 'teacher') {
    const net = TrackerNet.random(config, 3);
    const objective = teacherObjective(net, source, batchSize);
    return { objective, recipe: { kind, config, batchSize }, dispose: () => (objective.dispose(), net.dispose()) };
  }
  const teacher = TrackerNet.fromWeights(teacherConfig, teacherWeights, 'test teacher');
  const objective = compressionObjective(teacher, source, compressOptions);
  return { objective, recipe: { kind, teacher: { config: teacherConfig, weights: teacherWeights, source: 'test teacher' }, options: compressOptions }, dispose: () => (objective.dispose(), teacher.dispose()) };
}

/** Gradients, loss terms and non-trainable state of one batch part, computed on this thread from `state`. */
async function partOnThisThread(kind: ObjectiveRecipe['kind'], state: Map<string, Float32Array>, part: BatchPart, step: number) {
  const local = localObjective(kind, part);
  for (const [name, v] of local.objective.state) v.assign(tf.tensor(state.get(name)!, v.shape));
  const { terms, grads } = await localGradients(local.objective, step);
  const values = Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, g.dataSync() as Float32Array]));
  const stats = Object.fromEntries([...local.objective.state].filter(([name]) => !local.objective.trainable.has(name)).map(([name, v]) => [name, v.dataSync() as Float32Array]));
  const info = local.objective.stepInfo?.(step);
  local.dispose();
  return { terms, grads: values, stats, info };
}

function assertClose(t: import('ava').ExecutionContext, actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  t.is(actual.length, expected.length, what);
  // float32 sums in another order: compare against the largest magnitude, not element by element
  let worst = 0;
  let scale = 1e-12;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  t.true(worst / scale < 1e-5, `${what}: largest difference ${worst} against magnitude ${scale}`);
}

test('splitBatch gives contiguous near-equal parts, and the default uses a worker per core only on single-threaded backends', (t) => {
  t.deepEqual(splitBatch(8, 2), [{ from: 0, to: 4 }, { from: 4, to: 8 }]);
  t.deepEqual(splitBatch(7, 3), [{ from: 0, to: 2 }, { from: 2, to: 4 }, { from: 4, to: 7 }]);
  t.is(defaultTrainingWorkers('tfjs-node', 64), 1);
  t.is(defaultTrainingWorkers('wasm', 3), 1, 'never a part under 2 pairs');
  t.is(defaultTrainingWorkers('wasm', 64), Math.min(availableParallelism(), 32), 'one per core');
  t.is(defaultTrainingWorkers('cpu', 8), Math.min(availableParallelism(), 4));
});

for (const kind of ['teacher', 'compress'] as const) {
  test(`${kind}: two workers return the share-weighted mean of the two parts' gradients and BatchNorm statistics`, async (t) => {
    t.timeout(5 * 60_000);
    const main = localObjective(kind);
    const start = new Map([...main.objective.state].map(([name, v]) => [name, Float32Array.from(v.dataSync() as Float32Array)]));
    const parallel = await parallelObjective(main.objective, main.recipe, { data, workers: 2, backend: 'wasm' });
    try {
      const step = 3;
      const { terms, grads } = await parallel.gradients(step);
      const parts = splitBatch(batchSize, 2);
      const local = await Promise.all(parts.map((p) => partOnThisThread(kind, start, p, step)));
      const shares = parts.map((p) => (p.to - p.from) / batchSize);
      const weighted = (pick: (r: (typeof local)[number]) => ArrayLike<number>) =>
        Float64Array.from(pick(local[0]), (_, k) => shares[0] * pick(local[0])[k] + shares[1] * pick(local[1])[k]);

      const names = Object.keys(local[0].terms).sort();
      t.deepEqual(Object.keys(terms).sort(), names);
      assertClose(t, names.map((n) => terms[n]), weighted((r) => names.map((n) => r.terms[n])), 'loss terms');
      // every trainable variable the step used has a gradient (a student block whose stage the
      // teacher ran has none, as on one thread)
      const used = Object.keys(local[0].grads).sort();
      t.deepEqual(Object.keys(grads).sort(), used);
      t.true(used.every((name) => parallel.trainable.has(name)));
      for (const name of used) assertClose(t, grads[name].dataSync(), weighted((r) => r.grads[name]), name);
      const statNames = Object.keys(local[0].stats);
      t.true(statNames.length > 0, 'the head has BatchNorm statistics');
      for (const name of statNames) assertClose(t, main.objective.state.get(name)!.dataSync(), weighted((r) => r.stats[name]), name);
      t.deepEqual(parallel.stepInfo?.(step) ?? {}, local[0].info ?? {}, 'the step information (replacement rate, draws) of the replicas');
      t.log(`step info ${JSON.stringify(parallel.stepInfo?.(step))}, ${used.length} of ${parallel.trainable.size} trainable variables used`);
      for (const g of Object.values(grads)) g.dispose();
      t.like(parallel.describe(), { ...main.objective.describe(), workers: 2 });
    } finally {
      await parallel.dispose();
      main.dispose();
    }
    await t.throwsAsync(parallel.gradients(4), { instanceOf: CtEdgeError, code: 'ERR_DISPOSED' }, 'a stopped pool answers at once');
  });
}

test('more workers than pairs is refused before any thread starts', async (t) => {
  const main = localObjective('teacher');
  await t.throwsAsync(parallelObjective(main.objective, main.recipe, { data, workers: 6, backend: 'wasm' }), {
    instanceOf: CtEdgeError,
    code: 'ERR_INVALID_ARGUMENT',
    message: /from 1 to the batch size \(5\)/,
  });
  main.dispose();
});

test('a worker that fails during a step rejects that step with its typed error, and the pool still stops cleanly', async (t) => {
  // Clips of one frame pass every check made before the first step; each worker finds out when
  // it samples its first batch, which is a failure inside a step, not at start.
  const broken: TrainingDataOptions = { ...data, clip: { ...data.clip, length: 1 } };
  const net = TrackerNet.random(config, 3);
  const local = teacherObjective(net, trainingPairs(config, broken), batchSize);
  const parallel = await parallelObjective(local, { kind: 'teacher', config, batchSize }, { data: broken, workers: 2, backend: 'wasm' });
  try {
    await t.throwsAsync(parallel.gradients(1), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /^training worker \d: a clip needs at least 2 frames, got 1$/ });
  } finally {
    await parallel.dispose();
    local.dispose();
    net.dispose();
  }
  await t.throwsAsync(parallel.gradients(2), { instanceOf: CtEdgeError, code: 'ERR_DISPOSED' });
});

/** Whether tfjs-node-gpu is absent (as here: its install needs a download), so that a worker asked for it fails. */
function gpuBackendMissing(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
    return false;
  } catch {
    return true;
  }
}

(gpuBackendMissing() ? test : test.skip)('a worker whose backend cannot start is a typed error naming the worker', async (t) => {
  const main = localObjective('teacher');
  const error = await t.throwsAsync(parallelObjective(main.objective, main.recipe, { data, workers: 2, backend: 'tfjs-node-gpu' }), {
    instanceOf: CtEdgeError,
    code: 'ERR_BACKEND_UNAVAILABLE',
  });
  t.regex(error!.message, /training worker \d: no TensorFlow\.js backend could start \(tfjs-node-gpu: /);
  main.dispose();
});
