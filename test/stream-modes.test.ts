/**
 * trackStream and TrackTransform with a stand-in tracker: every-frame mode reads nothing ahead beyond
 * the stream buffers; real-time mode drops and counts frames when the tracker is slow. The real-time
 * tests order events, not times: their tracker finishes a frame only once the source has produced
 * five more, so they drop frames however loaded the machine is.
 */
import test from 'ava';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CtEdgeError, type Box, type Frame } from '../ts/index.js';
import { trackStream, TrackTransform, type SourceFrame, type StreamResult, type StreamTracker } from '../ts/deploy/stream.js';

const box: Box = { x: 1, y: 1, width: 4, height: 4 };
const tinyFrame = (): Frame => ({ data: new Uint8Array(8 * 8 * 3), width: 8, height: 8, format: 'rgb' });

function fakeTracker(delayMs: number): StreamTracker & { inits: Box[] } {
  const inits: Box[] = [];
  let frameIndex = -1;
  return {
    inits,
    init: (_frame, b) => void inits.push(b),
    track: async () => {
      await sleep(delayMs);
      frameIndex += 1;
      return { box, score: 0.9, state: 'tracking', frameIndex, timings: { preprocessMs: 0, inferenceMs: delayMs, postprocessMs: 0, totalMs: delayMs } };
    },
  };
}

/** A tracker that finishes each frame once `produced()` has grown by `frames` (or `done()`): slow by events, not by time. */
function gatedTracker(produced: () => number, done: () => boolean, frames: number): StreamTracker {
  let frameIndex = -1;
  return {
    init: () => undefined,
    track: async () => {
      const until = produced() + frames;
      // a bound in turns of the event loop, not time: a stream that stops pulling its source fails the test instead of hanging it
      for (let turn = 0; produced() < until && !done() && turn < 10_000; turn++) await new Promise((resolve) => setImmediate(resolve));
      frameIndex += 1;
      return { box, score: 0.9, state: 'tracking', frameIndex, timings: { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, totalMs: 0 } };
    },
  };
}

/** `total` frames, one every `intervalMs` (0: one per turn of the event loop); `produced` counts those handed out. */
function countingSource(total: number, intervalMs = 0) {
  const stats = { produced: 0, finished: false };
  async function* frames(): AsyncGenerator<SourceFrame> {
    try {
      for (let index = 0; index < total; index++) {
        await (intervalMs > 0 ? sleep(intervalMs) : new Promise((resolve) => setImmediate(resolve)));
        stats.produced += 1;
        yield { frame: tinyFrame(), timestampMs: index * intervalMs, index };
      }
    } finally {
      stats.finished = true;
    }
  }
  return { stats, source: frames() };
}

test('every-frame trackStream tracks each frame and reads at most one ahead', async (t) => {
  const { stats, source } = countingSource(20);
  const tracker = fakeTracker(1);
  const results: StreamResult[] = [];
  let maxAhead = 0;
  for await (const r of trackStream(tracker, source, { initBox: box })) {
    results.push(r);
    maxAhead = Math.max(maxAhead, stats.produced - results.length);
    await sleep(3);
  }
  t.deepEqual(
    results.map((r) => r.index),
    [...Array(20).keys()],
  );
  t.true(results[0].initial);
  t.is(results[0].score, 1);
  t.deepEqual(tracker.inits, [box]);
  t.true(results.slice(1).every((r) => !r.initial && r.timings !== undefined && r.dropped === 0));
  t.true(maxAhead <= 1, `read ${maxAhead} frames ahead`);
});

test('the init callback picks the box from the first frame; without a box the stream fails clearly', async (t) => {
  const tracker = fakeTracker(0);
  let seen: number | undefined;
  const { source } = countingSource(3);
  for await (const r of trackStream(tracker, source, { init: (first) => ((seen = first.index), box) })) t.truthy(r);
  t.is(seen, 0);
  const { source: again, stats } = countingSource(3);
  const error = await t.throwsAsync(async () => {
    for await (const r of trackStream(tracker, again, {})) t.truthy(r);
  });
  t.true(error instanceof CtEdgeError && error.code === 'ERR_INVALID_ARGUMENT', String(error));
  t.true(stats.finished, 'the source was returned');
});

test('TrackTransform passes back-pressure to the writer instead of buffering frames', async (t) => {
  const { stats, source } = countingSource(60);
  let consumed = 0;
  let maxAhead = 0;
  const slowReader = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(_r: StreamResult, _e, callback) {
      consumed += 1;
      maxAhead = Math.max(maxAhead, stats.produced - consumed);
      setTimeout(callback, 4);
    },
  });
  await pipeline(Readable.from(source), new TrackTransform(fakeTracker(0), { initBox: box }), slowReader);
  t.is(consumed, 60);
  // Each stage holds a frame or two (source, transform in/out, reader): a handful, not the 60.
  t.true(maxAhead <= 8, `${maxAhead} frames read ahead of the reader`);
});

test('real-time trackStream tracks the newest frame and counts the ones it dropped', async (t) => {
  const { stats, source } = countingSource(60);
  const results: StreamResult[] = [];
  for await (const r of trackStream(gatedTracker(() => stats.produced, () => stats.finished, 5), source, { initBox: box, realtime: true })) results.push(r);
  const dropped = results.at(-1)!.dropped;
  // five frames arrive while each is tracked: the four before the newest are dropped
  t.true(dropped >= 40, `dropped ${dropped}`);
  t.is(results.length + dropped, 60, 'every frame is either tracked or counted as dropped');
  t.is(results.at(-1)!.index, 59, 'the last frame is tracked');
  t.true(results.every((r, i) => i === 0 || (r.index > results[i - 1].index && r.dropped >= results[i - 1].dropped)));
});

test('real-time TrackTransform accepts writes at once and drops frames while the tracker is busy', async (t) => {
  let written = 0;
  let ended = false;
  const transform = new TrackTransform(gatedTracker(() => written, () => ended, 5), { initBox: box, realtime: true });
  const results: StreamResult[] = [];
  transform.on('data', (r: StreamResult) => results.push(r));
  for (let index = 0; index < 60; index++) {
    t.true(transform.write({ frame: tinyFrame(), timestampMs: index * 2, index }), 'a real-time write never asks to wait');
    written += 1;
    await new Promise((resolve) => setImmediate(resolve));
  }
  ended = true;
  transform.end();
  await once(transform, 'end');
  t.true(transform.dropped >= 40, `dropped ${transform.dropped}`);
  t.is(results.length + transform.dropped, 60);
  t.is(results.at(-1)!.index, 59);
});

test('an aborted signal ends trackStream with an AbortError and returns the source', async (t) => {
  const { stats, source } = countingSource(1000, 1);
  const controller = new AbortController();
  const error = await t.throwsAsync(async () => {
    for await (const r of trackStream(fakeTracker(1), source, { initBox: box, signal: controller.signal })) {
      if (r.index === 5) controller.abort();
    }
  }, { any: true });
  t.is((error as Error | undefined)?.name, 'AbortError');
  t.true(stats.finished);
  t.true(stats.produced < 20);
});
