/**
 * Bad input gets a CtEdgeError with a stable code, never a crash or garbage. On the VitTrack copy
 * shipped in models/, so that these tests always run (no shared data needed).
 */
import test from 'ava';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CtEdgeError, Engine, Tracker, type ErrorCode, type Frame } from '../ts/index.js';
import { iou } from '../ts/deploy/eval/metrics.js';
import { convertFrame, squareFrame } from './helpers/frames.js';
import { repoRoot, vitTrackOptions } from './helpers/data.js';

const vitTrackPath = join(repoRoot, 'models', 'vittrack.onnx');
const code = (c: ErrorCode) => ({ instanceOf: CtEdgeError, code: c });

const frame = squareFrame(320, 240, 140, 100, 40);
const box = { x: 140, y: 100, width: 40, height: 40 };

let engine: Engine | undefined;
test.before(async () => {
  engine = await Engine.load(vitTrackPath, { ...vitTrackOptions, threads: 1 });
});
test.after.always(async () => engine?.dispose());

const badFrames: [string, Frame, ErrorCode][] = [
  ['a buffer shorter than width*height*channels', { ...frame, data: new Uint8Array(320 * 240 * 3 - 1) }, 'ERR_FRAME_BUFFER'],
  ['an unknown pixel format', { ...frame, format: 'yuyv' as never }, 'ERR_FRAME_FORMAT'],
  ['odd NV12 sizes', { data: new Uint8Array(321 * 241 * 2), width: 321, height: 241, format: 'nv12' }, 'ERR_FRAME_SIZE'],
  ['a zero width', { ...frame, width: 0 }, 'ERR_FRAME_SIZE'],
  ['a fractional height', { ...frame, height: 239.5 }, 'ERR_INVALID_ARGUMENT'],
  ['a stride shorter than a row', { ...frame, stride: 100 }, 'ERR_FRAME_STRIDE'],
  ['data that is not bytes', { ...frame, data: new Float32Array(320 * 240 * 3) as never }, 'ERR_FRAME_DATA'],
];

for (const [what, bad, expected] of badFrames) {
  test(`init and track reject ${what} with ${expected}`, async (t) => {
    const tracker = new Tracker(engine!);
    t.throws(() => tracker.init(bad, box), code(expected));
    tracker.init(frame, box);
    await t.throwsAsync(tracker.track(bad), code(expected));
    // the tracker is still usable after a rejected frame
    t.is((await tracker.track(frame)).state, 'tracking');
    tracker.dispose();
  });
}

const badBoxes: [string, unknown, ErrorCode][] = [
  ['a zero-width box', { ...box, width: 0 }, 'ERR_BOX_INVALID'],
  ['a negative height', { ...box, height: -5 }, 'ERR_BOX_INVALID'],
  ['a NaN coordinate', { ...box, x: Number.NaN }, 'ERR_BOX_INVALID'],
  ['an infinite size', { ...box, width: Number.POSITIVE_INFINITY }, 'ERR_BOX_INVALID'],
  ['a box wholly outside the frame', { x: 400, y: 10, width: 20, height: 20 }, 'ERR_BOX_OUTSIDE'],
  ['a box left of the frame', { x: -30, y: 10, width: 30, height: 20 }, 'ERR_BOX_OUTSIDE'],
  ['a missing field', { x: 1, y: 2, width: 3 }, 'ERR_BOX_INVALID'],
];

for (const [what, bad, expected] of badBoxes) {
  test(`init rejects ${what} with ${expected}`, (t) => {
    const tracker = new Tracker(engine!);
    t.throws(() => tracker.init(frame, bad as never), code(expected));
    tracker.dispose();
  });
}

test(`a box partly outside the frame is valid, and follows the part of the target inside it`, async (t) => {
  const corner = squareFrame(320, 240, 0, 0, 30); // a 30 px square in the top-left corner
  const tracker = new Tracker(engine!);
  tracker.init(corner, { x: -10, y: -10, width: 40, height: 40 });
  const r = await tracker.track(corner);
  t.is(r.state, 'tracking');
  t.true(iou(r.box, { x: 0, y: 0, width: 30, height: 30 }) > 0.5, JSON.stringify(r.box));
  tracker.dispose();
});

test(`track before init is ERR_NOT_INITIALIZED`, async (t) => {
  const tracker = new Tracker(engine!);
  await t.throwsAsync(tracker.track(frame), code('ERR_NOT_INITIALIZED'));
  tracker.dispose();
});

test(`a frame of another size than the previous one is valid, in any format`, async (t) => {
  const tracker = new Tracker(engine!);
  tracker.init(frame, box);
  const bigger = squareFrame(640, 480, 150, 110, 40);
  for (const f of [bigger, convertFrame(bigger, 'nv12'), convertFrame(frame, 'bgra', 16), convertFrame(frame, 'gray')]) {
    const r = await tracker.track(f);
    t.true(Number.isFinite(r.box.x) && r.box.width > 0);
  }
  tracker.dispose();
});

test(`concurrent track() calls are served in order`, async (t) => {
  const tracker = new Tracker(engine!);
  tracker.init(frame, box);
  const results = await Promise.all([tracker.track(frame), tracker.track(frame), tracker.track(frame)]);
  t.deepEqual(results.map((r) => r.frameIndex), [0, 1, 2]);
  tracker.dispose();
});

test(`use after dispose is ERR_DISPOSED, for the tracker and the engine`, async (t) => {
  const own = await Engine.load(vitTrackPath, vitTrackOptions);
  const tracker = new Tracker(own);
  tracker.init(frame, box);
  tracker.dispose();
  t.throws(() => tracker.init(frame, box), code('ERR_DISPOSED'));
  await t.throwsAsync(tracker.track(frame), code('ERR_DISPOSED'));
  tracker.dispose(); // twice is harmless

  const other = new Tracker(own);
  other.init(frame, box);
  await own.dispose();
  await t.throwsAsync(other.track(frame), code('ERR_DISPOSED'));
  t.throws(() => new Tracker(own), code('ERR_DISPOSED'));
});

test(`await using disposes the tracker`, async (t) => {
  let kept: Tracker | undefined;
  {
    await using tracker = new Tracker(engine!);
    tracker.init(frame, box);
    await tracker.track(frame);
    kept = tracker;
  }
  await t.throwsAsync(kept.track(frame), code('ERR_DISPOSED'));
});

test('a missing model file is ERR_MODEL_NOT_FOUND', async (t) => {
  await t.throwsAsync(Engine.load('/nonexistent/model.onnx'), { ...code('ERR_MODEL_NOT_FOUND'), message: /not found/ });
});

test('a file that is not ONNX is ERR_MODEL_INVALID', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-'));
  const path = join(dir, 'garbage.onnx');
  await writeFile(path, 'this is not a model');
  await t.throwsAsync(Engine.load(path), code('ERR_MODEL_INVALID'));
  await rm(dir, { recursive: true });
});

test(`a truncated model is ERR_MODEL_INVALID`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-'));
  const path = join(dir, 'truncated.onnx');
  const bytes = await readFile(vitTrackPath);
  await writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await t.throwsAsync(Engine.load(path, vitTrackOptions), { ...code('ERR_MODEL_INVALID'), message: /complete/ });
  await rm(dir, { recursive: true });
});

test(`a model without the expected outputs is ERR_MODEL_IO, naming what it has`, async (t) => {
  // VitTrack's outputs are output1/2/3; without the outputs option the defaults do not exist
  await t.throwsAsync(Engine.load(vitTrackPath), { ...code('ERR_MODEL_IO'), message: /no output 'score_map'.*output1\[1,1,16,16\]/ });
  await t.throwsAsync(Engine.load(vitTrackPath, { ...vitTrackOptions, inputs: { search: 'x' } }), { ...code('ERR_MODEL_IO'), message: /no input 'x'/ });
  await t.throwsAsync(Engine.load(vitTrackPath, { ...vitTrackOptions, searchSize: 288 }), { ...code('ERR_MODEL_IO'), message: /disagrees/ });
});

test(`a TensorRT engine file without TensorRT in the build is ERR_BACKEND_UNAVAILABLE`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-'));
  const path = join(dir, 'student.engine');
  await copyFile(vitTrackPath, path);
  await t.throwsAsync(Engine.load(path), code('ERR_BACKEND_UNAVAILABLE'));
  await rm(dir, { recursive: true });
});

test(`invalid options are ERR_INVALID_ARGUMENT`, async (t) => {
  await t.throwsAsync(Engine.load(vitTrackPath, { ...vitTrackOptions, channelOrder: 'rbg' as never }), code('ERR_INVALID_ARGUMENT'));
  await t.throwsAsync(Engine.load(vitTrackPath, { ...vitTrackOptions, std: [0, 1, 1] }), code('ERR_INVALID_ARGUMENT'));
  t.throws(() => new Tracker(engine!, { lostThreshold: Number.NaN }), code('ERR_INVALID_ARGUMENT'));
});
