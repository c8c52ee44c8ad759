/**
 * TrackerGroup: many targets, one inference per frame. Every target tracks exactly as a lone
 * Tracker does (boxes within 1e-4, frame by frame, on real footage) for the shipped students, a
 * two-part model, and VitTrack made batchable by import + export; VitTrack's own ONNX (batch 1
 * baked in) runs target by target with one warning. Adding, removing and re-initialising at any
 * frame, batches split at maxBatch, streams, and each bad input as a typed error that leaves the
 * other targets tracking.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CtEdgeError, Engine, Tracker, TrackerGroup, type Box, type Frame, type StreamCommand } from '../ts/index.js';
import { shareFrame } from '../ts/deploy/tracker.js';
import { readCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { writeTrackerOnnx } from '../ts/train/export-onnx.js';
import { shippedVideoFrames, spreadBoxes } from './helpers/frames.js';
import { repoRoot, vitTrackOptions } from './helpers/data.js';
import { readFile, writeFile } from 'node:fs/promises';
import { ModelProto } from '../ts/contract/onnx-schema.js';

const model = (name: string) => join(repoRoot, 'models', name);
const FRAMES = 12;

const frames = shippedVideoFrames(FRAMES);

const boxes = (frame: Frame, n: number): Box[] => spreadBoxes(frame, n, 4);

const dir = mkdtemp(join(tmpdir(), 'ct-group-'));
test.after.always(async () => rm(await dir, { recursive: true, force: true }));

/** VitTrack through import + export: its weights in ct-edge's graph, which takes a batch. */
const batchableVitTrack = (async () => {
  const { config, weights } = await readCheckpoint(join(repoRoot, 'runs', 'vittrack.safetensors'));
  const path = join(await dir, 'vittrack-batched.onnx');
  await writeTrackerOnnx(path, config, weights);
  return path;
})();

/** Each target's boxes on every frame, alone (its own Tracker) and in a group. */
async function aloneAndGrouped(engine: Engine, targets: Box[], group: TrackerGroup) {
  const fs = await frames;
  const alone: Box[][] = [];
  for (const box of targets) {
    const tracker = new Tracker(engine);
    tracker.init(fs[0], box);
    const track: Box[] = [];
    for (const f of fs.slice(1)) track.push((await tracker.track(f)).box);
    tracker.dispose();
    alone.push(track);
  }
  const ids = targets.map((box) => group.add(fs[0], box));
  const grouped: Box[][] = targets.map(() => []);
  const inferences: number[] = [];
  for (const f of fs.slice(1)) {
    const r = await group.track(f);
    inferences.push(r.inferences);
    r.targets.forEach((target, i) => {
      if (target.id !== ids[i]) throw new Error(`target ${i} came back as ${target.id}`);
      grouped[i].push(target.box);
    });
  }
  return { alone, grouped, inferences };
}

function maxBoxDifference(a: Box[][], b: Box[][]): number {
  let worst = 0;
  a.forEach((track, i) =>
    track.forEach((box, f) => {
      const other = b[i][f];
      for (const k of ['x', 'y', 'width', 'height'] as const) worst = Math.max(worst, Math.abs(box[k] - other[k]));
    }),
  );
  return worst;
}

const batchedModels: [string, () => Promise<string>][] = [
  ['student-2 (width 32)', async () => model('student-2.onnx')],
  ['vittrack-student (two parts, template cached)', async () => model('vittrack-student.onnx')],
  ['VitTrack after import + export', () => batchableVitTrack],
];

for (const [name, path] of batchedModels) {
  test(`${name}: 8 targets in one inference per frame track as 8 lone trackers (within 1e-4)`, async (t) => {
    const engine = await Engine.load(await path(), { threads: 2 });
    t.is(engine.config.batch, 'dynamic');
    t.is(engine.maxBatch, Number.POSITIVE_INFINITY);
    const group = new TrackerGroup(engine);
    t.true(group.batched);
    const { alone, grouped, inferences } = await aloneAndGrouped(engine, boxes((await frames)[0], 8), group);
    t.true(inferences.every((n) => n === 1), `inferences per frame: ${inferences.join(',')}`);
    const worst = maxBoxDifference(alone, grouped);
    t.true(worst <= 1e-4, `largest difference from a lone tracker: ${worst} px`);
    // The targets really differ (a group that returned one target eight times would fail above too).
    t.true(new Set(grouped.map((track) => JSON.stringify(track.at(-1)))).size === 8);
    group.dispose();
    await engine.dispose();
  });
}

test.serial("VitTrack's own ONNX (batch 1 baked in) runs target by target, says so once, and tracks as lone trackers", async (t) => {
  const engine = await Engine.load(model('vittrack.onnx'), { ...vitTrackOptions, threads: 2 });
  t.is(engine.config.batch, 'fixed');
  t.is(engine.maxBatch, 1);
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  const group = new TrackerGroup(engine);
  t.false(group.batched);
  const { alone, grouped, inferences } = await aloneAndGrouped(engine, boxes((await frames)[0], 3), group);
  group.add((await frames)[0], boxes((await frames)[0], 4)[3]);
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  t.is(maxBoxDifference(alone, grouped), 0);
  t.true(inferences.every((n) => n === 3));
  const ours = warnings.filter((w) => (w as { code?: string }).code === 'CT_EDGE_GROUP_UNBATCHED' && /baked in/.test(w.message));
  t.is(ours.length, 1, 'one warning, however many targets join');
  t.regex(ours[0].message, /one inference each: .*vittrack\.onnx has batch 1 baked in \(ct-edge export writes models that take a batch; .*ct-edge import it, then export\)/);
  group.dispose();
  await engine.dispose();
});

test('targets join, leave and re-init at any frame; past maxBatch a frame takes several inferences, each target still as alone', async (t) => {
  const fs = await frames;
  const engine = await Engine.load(model('student-2.onnx'), { threads: 1 });
  const group = new TrackerGroup(engine, { maxBatch: 2 });
  const lone = new Map<number, Tracker>();
  const start = (id: number, f: Frame, box: Box) => {
    const tracker = lone.get(id) ?? new Tracker(engine);
    tracker.init(f, box);
    lone.set(id, tracker);
  };
  const all = boxes(fs[0], 6);
  for (const box of all.slice(0, 3)) start(group.add(fs[0], box), fs[0], box);
  t.deepEqual(group.ids, [1, 2, 3]);
  for (let i = 1; i < fs.length; i++) {
    if (i === 3) {
      group.remove(2);
      lone.get(2)!.dispose();
      lone.delete(2);
    }
    if (i === 5) for (const box of all.slice(3)) start(group.add(fs[i], box), fs[i], box);
    if (i === 7) {
      group.reinit(1, fs[i], all[5]);
      start(1, fs[i], all[5]);
    }
    if ([3, 5, 7].includes(i)) continue; // the frames targets changed on are init frames for them
    const r = await group.track(fs[i]);
    t.deepEqual(r.targets.map((x) => x.id), [...lone.keys()]);
    t.is(r.inferences, Math.ceil(lone.size / 2), `frame ${i}: ${lone.size} targets in batches of 2`);
    for (const target of r.targets) {
      const alone = await lone.get(target.id)!.track(fs[i]);
      for (const k of ['x', 'y', 'width', 'height'] as const) t.true(Math.abs(alone.box[k] - target.box[k]) <= 1e-4, `frame ${i}, target ${target.id}, ${k}`);
      t.is(target.state, alone.state);
      t.true(Math.abs(alone.score - target.score) <= 1e-5);
    }
  }
  t.deepEqual(group.ids, [1, 3, 4, 5, 6]);
  for (const tracker of lone.values()) tracker.dispose();
  group.dispose();
  await engine.dispose();
});

test("'lost' is per target: a target whose score falls below its threshold is lost while the others track", async (t) => {
  const fs = await frames;
  const engine = await Engine.load(model('student-2.onnx'), { threads: 1 });
  // A threshold no score reaches for one group, none for the other: the same targets, lost or not.
  const lostGroup = new TrackerGroup(engine, { lostThreshold: 2 });
  const keptGroup = new TrackerGroup(engine, { lostThreshold: -1 });
  const [a, b] = boxes(fs[0], 2);
  lostGroup.add(fs[0], a);
  keptGroup.add(fs[0], b);
  const lostBox = (await lostGroup.track(fs[1])).targets[0];
  t.is(lostBox.state, 'lost');
  t.deepEqual(lostBox.box, a, 'a lost target keeps its last box');
  t.is((await keptGroup.track(fs[1])).targets[0].state, 'tracking');
  lostGroup.dispose();
  keptGroup.dispose();
  await engine.dispose();
});

test('group.stream() adds initBoxes on the first frame, then tracks every frame as track() does; real-time mode drops frames', async (t) => {
  const fs = await frames;
  const engine = await Engine.load(model('vittrack-student.onnx'), { threads: 1 });
  const init = boxes(fs[0], 3);
  const reference = new TrackerGroup(engine);
  for (const box of init) reference.add(fs[0], box);
  const expected = [];
  for (const f of fs.slice(1)) expected.push((await reference.track(f)).targets);
  reference.dispose();

  const group = new TrackerGroup(engine);
  const results = [];
  for await (const r of group.stream(fs, { initBoxes: init })) results.push(r);
  t.is(results.length, fs.length);
  t.true(results[0].initial);
  t.deepEqual(results[0].targets.map((x) => x.box), init);
  t.deepEqual(results.slice(1).map((r) => r.targets), expected);
  t.true(results.every((r, i) => r.index === i && r.dropped === 0));
  group.dispose();

  // Real time: a source that delivers every frame at once, read while the group is busy.
  async function* burst() {
    for (const f of fs) yield f;
  }
  const live = new TrackerGroup(engine);
  let last;
  for await (const r of live.stream(burst(), { initBoxes: init, realtime: true })) last = r;
  t.true(last!.dropped > 0, 'frames that came while the group was busy are dropped');
  live.dispose();
  await engine.dispose();
});

test('bad input is a typed error, and the other targets keep tracking', async (t) => {
  const fs = await frames;
  const engine = await Engine.load(model('student-2.onnx'), { threads: 1 });
  const group = new TrackerGroup(engine);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return error instanceof CtEdgeError ? error.code : `untyped: ${String(error)}`;
    }
    return 'no error';
  };
  const rejects = async (p: Promise<unknown>) => p.then(() => 'no error', (e) => (e instanceof CtEdgeError ? e.code : `untyped: ${String(e)}`));

  t.is(await rejects(group.track(fs[0])), 'ERR_NOT_INITIALIZED');
  const [a, b] = boxes(fs[0], 2);
  const first = group.add(fs[0], a);
  const second = group.add(fs[0], b);
  t.is(code(() => group.add(fs[0], { x: fs[0].width + 50, y: 10, width: 20, height: 20 })), 'ERR_BOX_OUTSIDE');
  t.is(code(() => group.add(fs[0], { x: 1, y: 1, width: -3, height: 20 })), 'ERR_BOX_INVALID');
  t.is(group.size, 2, 'a refused box adds nothing');
  t.is(code(() => group.remove(99)), 'ERR_TARGET_UNKNOWN');
  t.is(code(() => group.reinit(99, fs[0], a)), 'ERR_TARGET_UNKNOWN');
  t.is(code(() => group.remove('1' as never)), 'ERR_TARGET_UNKNOWN');
  t.is(code(() => group.reinit(first, fs[0], { x: -500, y: -500, width: 10, height: 10 })), 'ERR_BOX_OUTSIDE');
  // A frame of another size mid-stream, to track() and to add().
  const small: Frame = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48, format: 'rgb' };
  t.is(await rejects(group.track(small)), 'ERR_FRAME_SIZE');
  t.is(code(() => group.add(small, { x: 1, y: 1, width: 10, height: 10 })), 'ERR_FRAME_SIZE');
  t.is(await rejects(group.track({ ...fs[1], data: new Uint8Array(10) })), 'ERR_FRAME_BUFFER');
  // ... and the group tracks on, both targets as lone trackers would have from the start.
  const r = await group.track(fs[1]);
  t.deepEqual(r.targets.map((x) => x.id), [first, second]);
  const lone = new Tracker(engine);
  lone.init(fs[0], a);
  t.deepEqual((await lone.track(fs[1])).box, r.targets[0].box);
  lone.dispose();
  for (const options of [{ maxBatch: 0 }, { maxBatch: 1.5 }, { maxBatch: 'eight' }, { lostThreshold: 'x' }, null]) {
    t.is(code(() => new TrackerGroup(engine, options as never)), 'ERR_INVALID_ARGUMENT', JSON.stringify(options));
  }
  t.is(code(() => group.stream(fs, { initBoxes: 'no' as never })), 'ERR_INVALID_ARGUMENT');
  group.dispose();
  t.is(await rejects(group.track(fs[2])), 'ERR_DISPOSED');
  t.is(code(() => group.add(fs[0], a)), 'ERR_DISPOSED');
  await engine.dispose();
});

test('a group stream takes commands by target: init adds (its id in the outcome) or re-inits, stop removes, reset restarts; unknown targets are refused', async (t) => {
  const fs = await frames;
  const engine = await Engine.load(model('student-2.onnx'), { threads: 1 });
  const [a, b, c] = boxes(fs[0], 3);
  const script: Record<number, StreamCommand[]> = {
    1: [{ command: 'init', box: a }, { command: 'init', box: b }],
    3: [{ command: 'init', box: c, target: 1 }, { command: 'stop', target: 9 }],
    5: [{ command: 'stop', target: 2 }, { command: 'reset', target: 1 }],
    7: [{ command: 'stop' }],
    8: [{ command: 'reset' }],
  };
  const outcomes: string[] = [];
  const pending: StreamCommand[] = [];
  const control = {
    nextCommand: () => pending.shift(),
    commandDone: (cmd: StreamCommand, outcome: { frame: number; target?: number } | { error: CtEdgeError }) =>
      void outcomes.push(`${cmd.command}${cmd.target === undefined ? '' : ` ${cmd.target}`}: ${'error' in outcome ? outcome.error.code : `frame ${outcome.frame}${outcome.target === undefined ? '' : `, target ${outcome.target}`}`}`),
  };
  async function* source() {
    for (let i = 0; i < 10; i++) {
      pending.push(...(script[i] ?? []));
      yield fs[i];
    }
  }
  const group = new TrackerGroup(engine);
  const seen: string[] = [];
  for await (const r of group.stream(source(), { control })) {
    seen.push(r.targets.map((x) => `${x.id}${x.score === 1 ? '*' : ''}`).join(',') || '-');
  }
  t.deepEqual(outcomes, [
    'init: frame 1, target 1',
    'init: frame 1, target 2',
    'init 1: frame 3, target 1',
    'stop 9: ERR_TARGET_UNKNOWN',
    'stop 2: frame 5',
    'reset 1: frame 5, target 1',
    'stop: frame 7',
    'reset: ERR_NOT_INITIALIZED',
  ]);
  // '*': (re)initialised on that frame (its init box, not tracked); '-': no targets.
  t.deepEqual(seen, ['-', '1*,2*', '1,2', '1*,2', '1,2', '1*', '1', '-', '-', '-']);
  group.dispose();
  await engine.dispose();
});

test('a track() already called keeps the targets of its call: a target removed, added or re-initialised meanwhile changes only later frames', async (t) => {
  const fs = await frames;
  const engine = await Engine.load(model('vittrack-student.onnx'), { threads: 1 });
  const [a, b, c] = boxes(fs[0], 3);
  const lone = (box: Box, init: Frame) => {
    const tracker = new Tracker(engine);
    tracker.init(init, box);
    return tracker;
  };
  const group = new TrackerGroup(engine);
  const one = group.add(fs[0], a);
  const two = group.add(fs[0], b);
  const pending = group.track(fs[1]);
  group.remove(one);
  group.reinit(two, fs[1], c);
  const three = group.add(fs[1], a);
  const first = await pending;
  t.deepEqual(first.targets.map((x) => x.id), [one, two], 'the call made before the changes tracks the targets it had');
  const [loneA, loneB] = [lone(a, fs[0]), lone(b, fs[0])];
  t.deepEqual(first.targets.map((x) => x.box), [(await loneA.track(fs[1])).box, (await loneB.track(fs[1])).box], 'and as they were');
  const second = await group.track(fs[2]);
  t.deepEqual(second.targets.map((x) => x.id), [two, three]);
  const [loneC, loneA2] = [lone(c, fs[1]), lone(a, fs[1])];
  t.deepEqual(second.targets.map((x) => x.box), [(await loneC.track(fs[2])).box, (await loneA2.track(fs[2])).box], 'the re-initialised and the added target start from their new boxes');
  for (const tracker of [loneA, loneB, loneC, loneA2]) tracker.dispose();
  group.dispose();
  await engine.dispose();
});

test.serial('a model that declares a batch but fixes it at 1 inside: the first batched frame falls back to target by target, warns once, and tracks as lone trackers', async (t) => {
  const fs = await frames;
  // VitTrack's graph (batch 1 in its reshapes) with its inputs and outputs relabelled as batched.
  const proto = ModelProto.decode(await readFile(model('vittrack.onnx'))) as unknown as { graph: { input: { type: { tensorType: { shape: { dim: object[] } } } }[]; output: { type: { tensorType: { shape: { dim: object[] } } } }[] } };
  for (const v of [...proto.graph.input, ...proto.graph.output]) v.type.tensorType.shape.dim[0] = { dimParam: 'batch' };
  const path = join(await dir, 'vittrack-false-batch.onnx');
  await writeFile(path, ModelProto.encode(proto as never).finish());
  const engine = await Engine.load(path, { ...vitTrackOptions, threads: 1 });
  t.is(engine.config.batch, 'dynamic');
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }) => void (w.code === 'CT_EDGE_GROUP_UNBATCHED' && /declares a batch/.test(w.message) && warnings.push(w.message));
  process.on('warning', onWarning);
  const group = new TrackerGroup(engine);
  t.true(group.batched);
  const { alone, grouped, inferences } = await aloneAndGrouped(engine, boxes(fs[0], 2), group);
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  t.false(group.batched);
  t.is(maxBoxDifference(alone, grouped), 0);
  t.true(inferences.every((n) => n === 2));
  t.is(warnings.length, 1);
  t.regex(warnings[0], /declares a batch, but a batch of 2 failed/);
  group.dispose();
  await engine.dispose();
});

test("shareFrame: an ordinary-memory frame's searched part is copied once (the regions' bounding box), none of it when every window misses; shared memory is read in place", async (t) => {
  const f = (await frames)[0];
  const staging: { bytes?: Uint8Array } = {};
  const { frame, origin } = shareFrame(f, [{ x: 10, y: 20, width: 30, height: 10 }, { width: 0, height: 0, x: 0, y: 0 }, { x: 50, y: 5, width: 20, height: 40 }], staging);
  t.deepEqual(origin, { x: 10, y: 5 });
  t.like(frame, { width: 60, height: 40, format: 'rgb' });
  t.true((frame.data as Uint8Array).buffer instanceof SharedArrayBuffer);
  const src = f.data as Uint8Array;
  const at = (x: number, y: number) => Array.from(src.subarray((y * f.width + x) * 3, (y * f.width + x) * 3 + 3));
  const staged = (x: number, y: number) => Array.from((frame.data as Uint8Array).subarray((y * (frame.stride ?? 60 * 3)) + x * 3, (y * (frame.stride ?? 60 * 3)) + x * 3 + 3));
  t.deepEqual(staged(0, 15), at(10, 20), 'the first region');
  t.deepEqual(staged(59, 39), at(69, 44), 'the last region');
  const missed = shareFrame(f, [{ x: 0, y: 0, width: 0, height: 0 }], staging);
  t.like(missed, { frame: { width: 1, height: 1 }, origin: { x: 0, y: 0 } });
  const inShared = { ...f, data: new Uint8Array(new SharedArrayBuffer(src.length)) };
  t.is(shareFrame(inShared, [{ x: 10, y: 20, width: 30, height: 10 }], staging).frame.data, inShared.data);
});
