/**
 * A stream's control (StreamOptions.control): commands applied between frames, each answered once.
 * A stand-in tracker records its inits; the real Tracker checks that a box it refuses leaves the
 * track going.
 */
import test from 'ava';
import { join } from 'node:path';
import { CtEdgeError, Engine, Tracker, type Box, type Frame } from '../ts/index.js';
import { trackStream, type StreamCommand, type StreamControl, type StreamTracker } from '../ts/deploy/stream.js';
import { repoRoot } from './helpers/data.js';

const tinyFrame = (): Frame => ({ data: new Uint8Array(8 * 8 * 3), width: 8, height: 8, format: 'rgb' });
const boxA: Box = { x: 1, y: 1, width: 4, height: 4 };
const boxB: Box = { x: 2, y: 3, width: 3, height: 2 };

function recordingTracker(): StreamTracker & { inits: Box[]; tracked: number } {
  const t = {
    inits: [] as Box[],
    tracked: 0,
    init: (_frame: Frame, b: Box) => void t.inits.push(b),
    track: async () => {
      t.tracked += 1;
      return { box: boxA, score: 0.9, state: 'tracking' as const, frameIndex: t.tracked, timings: { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, totalMs: 0 } };
    },
  };
  return t;
}

/** A control whose `pending` commands the test fills; every outcome recorded. */
function scriptedControl(): StreamControl & { outcomes: string[]; pending: StreamCommand[] } {
  const c = {
    outcomes: [] as string[],
    pending: [] as StreamCommand[],
    nextCommand: () => c.pending.shift(),
    commandDone: (command: StreamCommand, outcome: { frame: number } | { error: CtEdgeError }) =>
      void c.outcomes.push(`${command.command}:${'error' in outcome ? outcome.error.code : `frame ${outcome.frame}`}`),
  };
  return c;
}

async function run(tracker: StreamTracker, script: Record<number, StreamCommand[]>, frames: number, initBox?: Box) {
  const control = scriptedControl();
  const states: string[] = [];
  async function* source() {
    for (let i = 0; i < frames; i++) {
      control.pending.push(...(script[i] ?? []));
      yield tinyFrame();
    }
  }
  for await (const r of trackStream(tracker, source(), { control, ...(initBox ? { initBox } : {}) })) states.push(r.initial ? 'init' : r.state);
  return { states, outcomes: control.outcomes };
}

test('with a control and no initBox the stream starts idle, and init, stop and reset apply on their frame', async (t) => {
  const tracker = recordingTracker();
  const { states, outcomes } = await run(tracker, { 2: [{ command: 'init', box: boxA }], 4: [{ command: 'stop' }], 6: [{ command: 'reset' }], 8: [{ command: 'init', box: boxB }] }, 10);
  t.deepEqual(states, ['idle', 'idle', 'init', 'tracking', 'idle', 'idle', 'init', 'tracking', 'init', 'tracking']);
  t.deepEqual(outcomes, ['init:frame 2', 'stop:frame 4', 'reset:frame 6', 'init:frame 8']);
  t.deepEqual(tracker.inits, [boxA, boxA, boxB], 'reset re-initialises at the last init box');
  t.is(tracker.tracked, 3);
});

test('a reset before any init is refused with a typed answer, and the stream goes on idle', async (t) => {
  const tracker = recordingTracker();
  const { states, outcomes } = await run(tracker, { 1: [{ command: 'reset' }] }, 3);
  t.deepEqual(states, ['idle', 'idle', 'idle']);
  t.deepEqual(outcomes, ['reset:ERR_NOT_INITIALIZED']);
  t.deepEqual(tracker.inits, []);
});

test('initBox and a control: the first frame inits, a later reset returns to initBox', async (t) => {
  const tracker = recordingTracker();
  const { states } = await run(tracker, { 2: [{ command: 'init', box: boxB }, { command: 'reset' }] }, 4, boxA);
  t.deepEqual(states, ['init', 'tracking', 'init', 'tracking']);
  t.deepEqual(tracker.inits, [boxA, boxB, boxB], 'two commands on one frame apply in order: the reset goes to the newest init box');
});

test('an init and a stop on the same frame leave that frame idle', async (t) => {
  const tracker = recordingTracker();
  const { states, outcomes } = await run(tracker, { 1: [{ command: 'init', box: boxA }, { command: 'stop' }] }, 3);
  t.deepEqual(states, ['idle', 'idle', 'idle']);
  t.deepEqual(outcomes, ['init:frame 1', 'stop:frame 1']);
});

test('without a control, a stream with no initBox is still an error', async (t) => {
  const stream = trackStream(recordingTracker(), [tinyFrame()]);
  await t.throwsAsync(() => stream.next(), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT' });
});

test('boxes the real tracker refuses (outside the frame, a search window too large) are answered with their errors, and tracking goes on from the old target', async (t) => {
  const engine = await Engine.load(join(repoRoot, 'models', 'vittrack-student.onnx'), { threads: 1 });
  t.teardown(() => engine.dispose());
  const frame = (): Frame => {
    const data = new Uint8Array(160 * 120 * 3).fill(40);
    for (let y = 30; y < 54; y++) for (let x = 20; x < 44; x++) data.set([220, 30, 30], (y * 160 + x) * 3);
    return { data, width: 160, height: 120, format: 'rgb' };
  };
  const tracker = new Tracker(engine);
  const control = scriptedControl();
  const results: { state: string; box: Box }[] = [];
  async function* source() {
    for (let i = 0; i < 5; i++) {
      if (i === 2) control.pending.push({ command: 'init', box: { x: 500, y: 500, width: 20, height: 20 } });
      // inside the frame and within the box limits, but its search window (4x) is too large for any crop:
      // refused at init, not on the next frame, where it would end the stream
      if (i === 3) control.pending.push({ command: 'init', box: { x: 0, y: 0, width: 268435456, height: 268435456 } });
      yield frame();
    }
  }
  for await (const r of trackStream(tracker, source(), { control, initBox: { x: 20, y: 30, width: 24, height: 24 } })) results.push({ state: r.state, box: r.box });
  t.deepEqual(control.outcomes, ['init:ERR_BOX_OUTSIDE', 'init:ERR_BOX_INVALID']);
  t.deepEqual(results.map((r) => r.state).slice(2), ['tracking', 'tracking', 'tracking']);
  for (const r of results.slice(3)) t.true(Math.abs(r.box.x - 20) < 8 && Math.abs(r.box.y - 30) < 8, `still on the square: ${JSON.stringify(r.box)}`);
});

test('a lone tracker\'s stream refuses a command for a target other than 0, and applies target 0', async (t) => {
  const tracker = recordingTracker();
  const { states, outcomes } = await run(tracker, { 1: [{ command: 'init', box: boxB, target: 2 }], 2: [{ command: 'init', box: boxB, target: 0 }] }, 4, boxA);
  t.deepEqual(outcomes, ['init:ERR_COMMAND', 'init:frame 2']);
  t.deepEqual(states, ['init', 'tracking', 'init', 'tracking']);
  t.deepEqual(tracker.inits, [boxA, boxB]);
});
