/**
 * Inference runs on the engine's own thread, never on the main thread: onnxruntime-node's
 * session.run is synchronous (its promise only defers it with setImmediate), so a session on the
 * main thread held the event loop for a whole inference per frame. The thread must not keep a
 * finished program alive, and must keep one alive while a track() is still running.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Engine, Tracker } from '../ts/index.js';
import { repoRoot } from './helpers/data.js';
import { squareFrame } from './helpers/frames.js';

const model = join(repoRoot, 'models', 'student-2.onnx');

test('no onnxruntime session is created or run on the main thread', async (t) => {
  const calls = { create: 0, run: 0 };
  // The main thread's onnxruntime-node (the inference thread loads a module instance of its own).
  const Session = ort.InferenceSession as unknown as { create: (...a: unknown[]) => Promise<unknown>; prototype: { run: (...a: unknown[]) => Promise<unknown> } };
  const { create } = Session;
  const { run } = Session.prototype;
  Session.create = (...args) => {
    calls.create += 1;
    return create.apply(Session, args);
  };
  Session.prototype.run = function (this: unknown, ...args) {
    calls.run += 1;
    return run.apply(this, args);
  };
  try {
    const engine = await Engine.load(model, { threads: 1 });
    const frame = squareFrame(320, 240, 140, 100, 40);
    for (const options of [{}, { inlinePreprocessing: true }]) {
      const tracker = new Tracker(engine, options);
      tracker.init(frame, { x: 140, y: 100, width: 40, height: 40 });
      for (let i = 0; i < 5; i++) t.is((await tracker.track(frame)).frameIndex, i);
      tracker.dispose();
    }
    const { templateSize, searchSize } = engine.config;
    const binding = engine.bind(new Float32Array(3 * templateSize ** 2), new Float32Array(3 * searchSize ** 2));
    const maps = await binding.run();
    t.is(maps.score.length, engine.config.featureSize ** 2);
    await engine.dispose();
  } finally {
    Session.create = create;
    Session.prototype.run = run;
  }
  t.deepEqual(calls, { create: 0, run: 0 });
});

const script = (body: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { Engine, Tracker } from './ts/index.js';\n${body}`], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });

test('an engine left undisposed does not keep the process alive; a pending track() does', (t) => {
  const idle = script(`await Engine.load('${model}'); console.log('loaded');`);
  t.is(idle.status, 0, idle.stderr);
  t.is(idle.stdout.trim(), 'loaded');
  const pending = script(`
const engine = await Engine.load('${model}', { threads: 1 });
const tracker = new Tracker(engine);
const frame = { data: new Uint8Array(320 * 240 * 3), width: 320, height: 240, format: 'rgb' };
tracker.init(frame, { x: 100, y: 100, width: 40, height: 40 });
tracker.track(frame).then((r) => console.log('tracked', r.frameIndex));`);
  t.is(pending.status, 0, pending.stderr);
  t.is(pending.stdout.trim(), 'tracked 0');
});
