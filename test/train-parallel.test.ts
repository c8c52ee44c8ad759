/**
 * Data-parallel teacher training (ts/train/parallel.ts): the workers' gradients are exactly the
 * share-weighted mean of each batch part's gradients, BatchNorm statistics come back averaged, and
 * a worker that cannot start, or a stopped pool, is a typed error rather than a hang.
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { initBackend } from '../ts/model/backend.js';
import { netConfig } from '../ts/model/config.js';
import { TrackerNet } from '../ts/model/network.js';
import { CtEdgeError } from '../ts/runtime/errors.js';
import { syntheticPairs, type SyntheticDataOptions } from '../ts/train/data-source.js';
import { localGradients } from '../ts/train/loop.js';
import { teacherObjective, type BatchPart } from '../ts/train/objectives.js';
import { defaultTrainingWorkers, parallelTeacherObjective, splitBatch } from '../ts/train/parallel.js';

const config = netConfig('tiny', { depth: 1 });
const data: SyntheticDataOptions = { seed: 5, clip: { width: 96, height: 96 } };

/** Gradients and BatchNorm statistics of one batch part, computed on this thread from `weights`. */
async function partOnThisThread(weights: ReturnType<TrackerNet['weights']>, part: BatchPart, step: number, batchSize: number) {
  const net = TrackerNet.fromWeights(config, weights, 'test');
  const source = syntheticPairs(config, data);
  const objective = teacherObjective(net, { batch: (s, count) => source.batch(s, count, part), describe: source.describe }, batchSize);
  const { terms, grads } = await localGradients(objective, step);
  const values = Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, g.dataSync() as Float32Array]));
  const stats = Object.fromEntries([...net.variables].filter(([, v]) => !v.trainable).map(([name, v]) => [name, v.dataSync() as Float32Array]));
  objective.dispose();
  net.dispose();
  return { terms, grads: values, stats };
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
  t.true(defaultTrainingWorkers('wasm', 64) >= 1);
});

test('two workers return the share-weighted mean of the two parts\' gradients and BatchNorm statistics', async (t) => {
  t.timeout(5 * 60_000);
  await initBackend(['wasm']);
  const net = TrackerNet.random(config, 3);
  const start = net.weights();
  const batchSize = 5; // parts of 2 and 3 pairs: the mean must weight them 2/5 and 3/5
  const parallel = await parallelTeacherObjective(net, { data, batchSize, workers: 2, backend: 'wasm' });
  try {
    const step = 3;
    const { terms, grads } = await parallel.gradients(step);
    const parts = splitBatch(batchSize, 2);
    const local = await Promise.all(parts.map((p) => partOnThisThread(start, p, step, batchSize)));
    const shares = parts.map((p) => (p.to - p.from) / batchSize);
    const weighted = (pick: (r: (typeof local)[number]) => ArrayLike<number>) =>
      Float64Array.from(pick(local[0]), (_, k) => shares[0] * pick(local[0])[k] + shares[1] * pick(local[1])[k]);

    assertClose(t, [terms.total, terms.giou, terms.l1, terms.focal], weighted((r) => [r.terms.total, r.terms.giou, r.terms.l1, r.terms.focal]), 'loss terms');
    t.deepEqual(Object.keys(grads).sort(), [...parallel.trainable.keys()].sort());
    for (const name of parallel.trainable.keys()) assertClose(t, grads[name].dataSync(), weighted((r) => r.grads[name]), name);
    const statNames = Object.keys(local[0].stats);
    t.true(statNames.length > 0, 'the head has BatchNorm statistics');
    for (const name of statNames) assertClose(t, net.variable(name).dataSync(), weighted((r) => r.stats[name]), name);
    for (const g of Object.values(grads)) g.dispose();
    t.like(parallel.describe(), { kind: 'teacher', batchSize, workers: 2 });
  } finally {
    await parallel.dispose();
    net.dispose();
  }
  await t.throwsAsync(parallel.gradients(4), { instanceOf: CtEdgeError, code: 'ERR_DISPOSED' }, 'a stopped pool answers at once');
});

test('more workers than pairs is refused before any thread starts', async (t) => {
  const net = TrackerNet.random(config, 1);
  await t.throwsAsync(parallelTeacherObjective(net, { data, batchSize: 2, workers: 3, backend: 'wasm' }), {
    instanceOf: CtEdgeError,
    code: 'ERR_INVALID_ARGUMENT',
    message: /from 1 to the batch size \(2\)/,
  });
  net.dispose();
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
  const net = TrackerNet.random(config, 1);
  const error = await t.throwsAsync(parallelTeacherObjective(net, { data, batchSize: 4, workers: 2, backend: 'tfjs-node-gpu' }), {
    instanceOf: CtEdgeError,
    code: 'ERR_BACKEND_UNAVAILABLE',
  });
  t.regex(error!.message, /training worker \d: no TensorFlow\.js backend could start \(tfjs-node-gpu: /);
  net.dispose();
});
