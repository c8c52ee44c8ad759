/**
 * Engine.load(path, { inferenceThread: false }): the network on the calling thread. Trackers,
 * two-part models and groups give exactly the worker thread's boxes; errors keep their codes; a
 * disposed engine refuses work; the option is checked.
 */
import test from 'ava';
import { join } from 'node:path';
import { CtEdgeError, Engine, Tracker, TrackerGroup, openSource, type Box, type Frame } from '../ts/index.js';
import { toRgb } from '../ts/deploy/io/convert.js';
import { repoRoot } from './helpers/data.js';

const frames = (async () => {
  const source = await openSource(join(repoRoot, 'models', 'tree.avi'));
  const out: Frame[] = [];
  try {
    for await (const { frame } of source) {
      out.push(toRgb(frame));
      if (out.length === 10) break;
    }
  } finally {
    await source.close();
  }
  return out;
})();
const boxes: Box[] = [
  { x: 100, y: 60, width: 40, height: 40 },
  { x: 200, y: 100, width: 50, height: 40 },
];

for (const model of ['student-2.onnx', 'vittrack-student.onnx']) {
  test(`${model}: trackers and groups on the calling thread track as on the engine's thread`, async (t) => {
    const fs = await frames;
    const run = async (inferenceThread: boolean) => {
      const engine = await Engine.load(join(repoRoot, 'models', model), { threads: 1, inferenceThread });
      const tracker = new Tracker(engine);
      const group = new TrackerGroup(engine);
      tracker.init(fs[0], boxes[0]);
      for (const box of boxes) group.add(fs[0], box);
      const out: unknown[] = [];
      for (const f of fs.slice(1)) out.push((await tracker.track(f)).box, (await group.track(f)).targets.map((x) => x.box));
      tracker.dispose();
      group.dispose();
      await engine.dispose();
      return out;
    };
    t.deepEqual(await run(false), await run(true));
  });
}

test('on the calling thread, errors keep their codes, a disposed engine refuses work, and the option is checked', async (t) => {
  const path = join(repoRoot, 'models', 'student-2.onnx');
  const engine = await Engine.load(path, { threads: 1, inferenceThread: false });
  const tracker = new Tracker(engine);
  await t.throwsAsync(tracker.track((await frames)[0]), { instanceOf: CtEdgeError, code: 'ERR_NOT_INITIALIZED' });
  tracker.init((await frames)[0], boxes[0]);
  await t.throwsAsync(tracker.track({ ...(await frames)[1], data: new Uint8Array(7) }), { instanceOf: CtEdgeError, code: 'ERR_FRAME_BUFFER' });
  t.is((await tracker.track((await frames)[1])).frameIndex, 0);
  await engine.dispose();
  t.true(engine.disposed);
  await t.throwsAsync(tracker.track((await frames)[2]), { instanceOf: CtEdgeError, code: 'ERR_DISPOSED' });
  await t.throwsAsync(Engine.load(path, { inferenceThread: 'no' as never }), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /inferenceThread must be true or false, got 'no'/ });
});
