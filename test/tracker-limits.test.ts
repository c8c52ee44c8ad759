/**
 * Inputs at the edges of what a tracker can represent get typed errors, never an abort or
 * undefined behaviour: very wide frames (row buffers sized to the crop, not the frame width),
 * boxes too small or too large for a crop window, frames in shared memory (accepted), and calls
 * with a null engine, options or source. Every frame-reading path is checked: init, track with
 * the default off-thread crop, and track with inlinePreprocessing.
 */
import test from 'ava';
import { join } from 'node:path';
import { CtEdgeError, Engine, Tracker, type ErrorCode, type Frame } from '../ts/index.js';
import { loadNative } from '../ts/deploy/native.js';
import { repoRoot } from './helpers/data.js';
import { convertFrame, squareFrame } from './helpers/frames.js';

const code = (c: ErrorCode) => ({ instanceOf: CtEdgeError, code: c });
let engine: Engine;
test.before(async () => {
  engine = await Engine.load(join(repoRoot, 'models', 'student-2.onnx'), { threads: 1 });
});
test.after.always(async () => engine?.dispose());

const modes = [{}, { inlinePreprocessing: true }] as const;
const label = (o: object) => ('inlinePreprocessing' in o ? 'inlinePreprocessing' : 'default');

test('a 2^31-1 pixel wide frame: init and track crop it (row buffers sized to the crop, not the frame)', async (t) => {
  const wide: Frame = { data: new ArrayBuffer(2 ** 31 - 1), width: 2 ** 31 - 1, height: 1, format: 'gray' };
  for (const options of modes) {
    const tracker = new Tracker(engine, options);
    tracker.init(wide, { x: 0, y: 0, width: 1, height: 1 });
    const r = await tracker.track(wide);
    t.true(Number.isFinite(r.box.x) && Number.isFinite(r.score), label(options));
    tracker.dispose();
  }
  // A row too long for the native stride: typed error, not an overflow.
  const tracker = new Tracker(engine);
  t.throws(() => tracker.init({ ...wide, format: 'rgb' }, { x: 0, y: 0, width: 1, height: 1 }), code('ERR_FRAME_SIZE'));
  tracker.dispose();
});

test('native entries refuse sizes they could not allocate with typed errors, not std::bad_alloc', (t) => {
  const addon = loadNative();
  const config = { templateSize: 1 << 15, searchSize: 16, featureSize: 1, templateFactor: 2, searchFactor: 4, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb', boxMapping: 'ostrack', lostThreshold: 0.2 } as const;
  // The config asks for a 3 x 32768^2 template; the tensors given do not fit it: a typed error.
  t.throws(() => new addon.NativeTracker(config, new Float32Array(3), new Float32Array(3 * 16 * 16)), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => addon.hannWindow(1e9), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => addon.hannWindow('x' as never), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => addon.cropToTensor(squareFrame(8, 8, 0, 0, 2), { x0: 0, y0: 0, side: 4 }, 1e9, new Float32Array(3), { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb' }), {
    code: 'ERR_INVALID_ARGUMENT',
  });
});

const frame = squareFrame(320, 240, 140, 100, 40);
const badBoxes: [string, object][] = [
  ['1e-300 wide', { x: 10, y: 10, width: 1e-300, height: 20 }],
  ['1e-300 high', { x: 10, y: 10, width: 20, height: 1e-300 }],
  ['1e300 wide', { x: 10, y: 10, width: 1e300, height: 20 }],
  ['1e300 in both sizes', { x: 0, y: 0, width: 1e300, height: 1e300 }],
  ['at x = -1e300', { x: -1e300, y: 10, width: 1e300, height: 20 }],
  ['at x = 2^40 with a 2^41 size', { x: -(2 ** 40), y: 0, width: 2 ** 41, height: 2 ** 41 }],
];
for (const [what, box] of badBoxes) {
  test(`a box ${what} is ERR_BOX_INVALID`, (t) => {
    const tracker = new Tracker(engine);
    t.throws(() => tracker.init(frame, box as never), { ...code('ERR_BOX_INVALID'), message: /box/ });
    tracker.dispose();
  });
}

test('the smallest and largest boxes a crop represents still track: a whole box near where it was', async (t) => {
  for (const box of [{ x: 150, y: 110, width: 1e-3, height: 1e-3 }, { x: -1e6, y: -1e6, width: 2e6, height: 2e6 }]) {
    const tracker = new Tracker(engine);
    tracker.init(frame, box);
    const r = await tracker.track(frame);
    const { x, y, width, height } = r.box;
    t.true([x, y, width, height].every(Number.isFinite) && width > 0 && height > 0, JSON.stringify(r.box));
    // the next box's centre lies in the search region cut around the last one (4x its side)
    const side = 4 * Math.sqrt(Math.max(1, box.width * box.height));
    t.true(Math.abs(x + width / 2 - (box.x + box.width / 2)) <= side && Math.abs(y + height / 2 - (box.y + box.height / 2)) <= side, JSON.stringify(r.box));
    if (r.state === 'lost') t.true(Math.abs(x + width / 2 - (box.x + box.width / 2)) < 1, 'a lost target keeps its last box');
    tracker.dispose();
  }
});

test('frames in shared memory are accepted and track exactly as frames in ordinary memory', async (t) => {
  const box = { x: 140, y: 100, width: 40, height: 40 };
  const moved = squareFrame(320, 240, 146, 104, 40);
  for (const format of ['rgb', 'bgra', 'gray', 'nv12'] as const) {
    const ordinary = convertFrame(moved, format, format === 'bgra' ? 12 : 0);
    const data = new Uint8Array(new SharedArrayBuffer((ordinary.data as Uint8Array).byteLength));
    data.set(ordinary.data as Uint8Array);
    const shared: Frame = { ...ordinary, data };
    const results = [];
    for (const options of modes) {
      for (const f of [ordinary, shared]) {
        const tracker = new Tracker(engine, options);
        tracker.init(convertFrame(frame, format), box);
        results.push((await tracker.track(f)).box);
        tracker.dispose();
      }
    }
    for (const r of results.slice(1)) t.deepEqual(r, results[0], format);
  }
});

test('a SharedArrayBuffer itself as frame.data is a typed error that says to wrap it', (t) => {
  const tracker = new Tracker(engine);
  t.throws(() => tracker.init({ ...frame, data: new SharedArrayBuffer(320 * 240 * 3) as never }, { x: 1, y: 1, width: 9, height: 9 }), {
    ...code('ERR_FRAME_DATA'),
    message: /new Uint8Array\(sharedArrayBuffer\)/,
  });
  tracker.dispose();
});

test('a null engine, null options and a null source are typed errors; an array of frames is a source', async (t) => {
  t.throws(() => new Tracker(null as never), code('ERR_INVALID_ARGUMENT'));
  t.throws(() => new Tracker(engine, null as never), code('ERR_INVALID_ARGUMENT'));
  const tracker = new Tracker(engine);
  t.throws(() => tracker.stream(null as never), code('ERR_INVALID_ARGUMENT'));
  t.throws(() => tracker.stream(42 as never), code('ERR_INVALID_ARGUMENT'));
  t.throws(() => tracker.stream([frame], null as never), code('ERR_INVALID_ARGUMENT'));
  const frames = [frame, squareFrame(320, 240, 144, 102, 40), squareFrame(320, 240, 148, 104, 40)];
  const seen = [];
  for await (const r of tracker.stream(frames, { initBox: { x: 140, y: 100, width: 40, height: 40 } })) seen.push([r.index, r.initial, r.frame === frames[r.index]]);
  t.deepEqual(seen, [[0, true, true], [1, false, true], [2, false, true]]);
  // Any iterable: a generator of frames too.
  function* gen() {
    yield frame;
    yield frame;
  }
  let n = 0;
  for await (const r of tracker.stream(gen(), { initBox: { x: 140, y: 100, width: 40, height: 40 } })) n += r.initial ? 0 : 1;
  t.is(n, 1);
  tracker.dispose();
});

test('the crop made on the inference thread from a copied region equals the crop of the whole frame', async (t) => {
  const big = squareFrame(333, 250, 150, 100, 50);
  const boxes = [
    { x: 150, y: 100, width: 50, height: 50 }, // inside
    { x: -20, y: -15, width: 40, height: 30 }, // over the top-left corner
    { x: 310, y: 230, width: 40, height: 40 }, // over the bottom-right corner
    { x: 1, y: 1, width: 331, height: 248 }, // a window larger than the frame
  ];
  for (const format of ['rgb', 'bgra', 'gray', 'nv12'] as const) {
    const f = convertFrame(format === 'nv12' ? squareFrame(334, 250, 150, 100, 50) : big, format, format === 'rgb' ? 0 : 8);
    for (const box of boxes) {
      const crops = [];
      for (const options of modes) {
        const tracker = new Tracker(engine, options);
        const inputs = tracker.inputs; // from now on the thread copies its crops back here
        tracker.init(f, box);
        await tracker.track(f);
        crops.push(Float32Array.from(inputs.search));
        tracker.dispose();
      }
      t.deepEqual(crops[0], crops[1], `${format} ${JSON.stringify(box)}`);
    }
  }
});

test('copyRegion + the shifted window reproduce the whole-frame crop, for windows that miss the frame too', (t) => {
  const addon = loadNative();
  const norm = { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3], channelOrder: 'bgr' } as const;
  const rgb = squareFrame(64, 48, 20, 10, 12);
  for (const format of ['rgb', 'rgba', 'gray', 'nv12'] as const) {
    const f = convertFrame(rgb, format, 4);
    for (const window of [{ x0: 5, y0: 7, side: 30 }, { x0: -9, y0: 31, side: 40 }, { x0: 100, y0: 3, side: 20 }, { x0: -50, y0: -50, side: 20 }, { x0: 3, y0: 60, side: 9 }]) {
      const whole = new Float32Array(3 * 32 * 32);
      addon.cropToTensor(f, window, 32, whole, norm);
      const x = Math.max(0, window.x0), y = Math.max(0, window.y0);
      const w = Math.min(f.width, window.x0 + window.side) - x, h = Math.min(f.height, window.y0 + window.side) - y;
      let region = w > 0 && h > 0 ? { x, y, width: w, height: h } : { x: 0, y: 0, width: 0, height: 0 };
      if (format === 'nv12' && region.width > 0) {
        const ex = region.x & ~1, ey = region.y & ~1;
        region = { x: ex, y: ey, width: ((region.x + region.width + 1) & ~1) - ex, height: ((region.y + region.height + 1) & ~1) - ey };
      }
      const dst = new Uint8Array(64 * 48 * 4 * 2);
      const staged = addon.copyRegion(f, region, dst);
      const part = new Float32Array(3 * 32 * 32);
      addon.cropToTensor({ data: dst, ...staged, format }, { x0: window.x0 - region.x, y0: window.y0 - region.y, side: window.side }, 32, part, norm);
      t.deepEqual(part, whole, `${format} ${JSON.stringify(window)}`);
    }
  }
  t.throws(() => addon.copyRegion(rgb, { x: 60, y: 0, width: 10, height: 4 }, new Uint8Array(1000)), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => addon.copyRegion(rgb, { x: 0, y: 0, width: 10, height: 10 }, new Uint8Array(10)), { code: 'ERR_INVALID_ARGUMENT' });
});
