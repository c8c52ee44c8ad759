/**
 * Engine.load checks what it can before a frame is tracked: the threads option against the cores
 * present (its own code, ERR_THREADS), the output shapes a model declares (ERR_MODEL_IO at load,
 * not ERR_MODEL_OUTPUT at the first track()), and a directory given for a model file.
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CtEdgeError, Engine, Tracker } from '../ts/index.js';
import { repoRoot } from './helpers/data.js';
import { squareFrame } from './helpers/frames.js';
import { tinyTrackerOnnx, type TinyModelOptions } from './helpers/tiny-onnx.js';

const model = join(repoRoot, 'models', 'student-2.onnx');
let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-load-'));
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

async function tiny(name: string, options: TinyModelOptions): Promise<string> {
  const path = join(dir, `${name}.onnx`);
  await writeFile(path, tinyTrackerOnnx(options));
  return path;
}

for (const threads of [-1, 0, 1.5, 'abc', '2', Number.NaN, availableParallelism() + 1, 1000, 2 ** 31]) {
  test(`threads: ${typeof threads === 'string' ? `'${threads}'` : threads} is ERR_THREADS, naming the cores present`, async (t) => {
    await t.throwsAsync(Engine.load(model, { threads: threads as number }), { instanceOf: CtEdgeError, code: 'ERR_THREADS', message: new RegExp(`from 1 to ${availableParallelism()}`) });
  });
}

test('threads from 1 to the cores present load', async (t) => {
  for (const threads of [1, availableParallelism()]) {
    const engine = await Engine.load(model, { threads });
    t.is(engine.backend, 'onnxruntime-cpu');
    await engine.dispose();
  }
});

test('a model whose outputs are what they declare loads and tracks', async (t) => {
  const engine = await Engine.load(await tiny('good', {}));
  const tracker = new Tracker(engine);
  const frame = squareFrame(200, 150, 80, 60, 30);
  tracker.init(frame, { x: 80, y: 60, width: 30, height: 30 });
  t.is((await tracker.track(frame)).state, 'tracking');
  tracker.dispose();
  await engine.dispose();
  // Symbolic dimensions are no contradiction.
  const symbolic = await Engine.load(await tiny('symbolic', { declared: { size_map: ['batch', 2, 4, 4], offset_map: ['batch', 'c', 'h', 'w'] } }));
  await symbolic.dispose();
});

const wrong: [string, TinyModelOptions['declared']][] = [
  ['a size map with 3 channels', { size_map: [1, 3, 4, 4] }],
  ['an offset map of another size than the score map', { offset_map: [1, 2, 5, 5] }],
  ['a size map of rank 3', { size_map: [2, 4, 4] }],
];
for (const [what, declared] of wrong) {
  test(`a model that declares ${what} is ERR_MODEL_IO at load`, async (t) => {
    const path = await tiny(what.replace(/\W+/g, '-'), { declared });
    await t.throwsAsync(Engine.load(path), { instanceOf: CtEdgeError, code: 'ERR_MODEL_IO', message: /declared .*needs float32 \[1,2,4,4\]/ });
  });
}

test('a directory is not "model file not found": it says it is a directory', async (t) => {
  await t.throwsAsync(Engine.load(dir), { instanceOf: CtEdgeError, code: 'ERR_MODEL_NOT_FOUND', message: /is a directory, not a model file/ });
});

test('a path that is not a string and options that are not an object, or of the wrong types, are typed errors', async (t) => {
  await t.throwsAsync(Engine.load(42 as never), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT' });
  await t.throwsAsync(Engine.load(model, null as never), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT' });
  for (const options of [{ searchSize: Symbol('x') }, { templateSize: 1e300 }, { mean: [0, 0] }, { std: 'x' }, { outputs: { score: 3 } }, { channelOrder: 5 }, { lostThreshold: Number.NaN }]) {
    await t.throwsAsync(Engine.load(model, options as never), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT' }, String(Object.keys(options)));
  }
});
