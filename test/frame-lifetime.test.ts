/**
 * A frame handed to track() is read only while it is safe to: replacing frame.data or transferring
 * its ArrayBuffer while the call is pending never lets the garbage collector free memory that is
 * still being read (it crashed the process with SIGSEGV), and a detached buffer is a typed error.
 * The repro runs in a child process, so that a crash fails the test instead of killing ava.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CtEdgeError, Engine, Tracker, type Frame } from '../ts/index.js';
import { repoRoot } from './helpers/data.js';

const child = join(repoRoot, 'test', 'helpers', 'pending-frame-child.ts');

for (const mode of ['default', 'inline']) {
  for (const variant of ['null', 'transfer']) {
    test(`${mode} tracker: ${variant === 'null' ? 'frame.data = null' : 'transferring frame.data'} while track() is pending, then gc()`, (t) => {
      const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', child, mode, variant], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
      t.is(run.signal, null, `the child died of ${run.signal}: ${run.stderr.slice(-2000)}`);
      t.is(run.status, 0, run.stderr.slice(-2000));
      const { outcomes } = JSON.parse(run.stdout.trim().split('\n').pop()!) as { outcomes: string[] };
      t.is(outcomes.length, 3);
      // Each call either read the frame before it was taken away, or says it could not.
      for (const o of outcomes) t.true(o === 'ok' || o === 'ERR_FRAME_DATA', o);
    });
  }
}

test('a detached frame buffer is ERR_FRAME_DATA before the call and while it waits its turn', async (t) => {
  const engine = await Engine.load(join(repoRoot, 'models', 'student-2.onnx'), { threads: 1 });
  const tracker = new Tracker(engine);
  const frame = (): Frame => ({ data: new Uint8Array(320 * 240 * 3), width: 320, height: 240, format: 'rgb' });
  const box = { x: 100, y: 100, width: 40, height: 40 };
  const detached = frame();
  const gone = (detached.data as Uint8Array).buffer as ArrayBuffer;
  structuredClone(gone, { transfer: [gone] });
  t.throws(() => tracker.init(detached, box), { instanceOf: CtEdgeError, code: 'ERR_FRAME_DATA', message: /detached/ });
  tracker.init(frame(), box);
  await t.throwsAsync(tracker.track(detached), { instanceOf: CtEdgeError, code: 'ERR_FRAME_DATA', message: /detached/ });
  // Queued behind another call, then detached before its turn came.
  const first = tracker.track(frame());
  const later = frame();
  const second = tracker.track(later);
  const taken = (later.data as Uint8Array).buffer as ArrayBuffer;
  structuredClone(taken, { transfer: [taken] });
  await first;
  await t.throwsAsync(second, { instanceOf: CtEdgeError, code: 'ERR_FRAME_DATA', message: /detached/ });
  t.truthy(await tracker.track(frame()));
  tracker.dispose();
  await engine.dispose();
});
