/**
 * Child process of test/frame-lifetime.test.ts (run with --expose-gc): the use-after-free
 * repro. A track() call is pending on a large frame while the libuv pool is busy; meanwhile the
 * caller drops frame.data (`null`) or transfers its ArrayBuffer away (`transfer`), and the garbage
 * collector runs. Prints what track() did as one JSON line; a crash shows as a signal in the parent.
 *
 *   node --expose-gc --import tsx test/helpers/pending-frame-child.ts <default|inline> <null|transfer>
 */
import { pbkdf2 } from 'node:crypto';
import { join } from 'node:path';
import { CtEdgeError, Engine, Tracker, type Frame } from '../../ts/index.js';
import { repoRoot } from './data.js';

const [mode, variant] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const engine = await Engine.load(join(repoRoot, 'models', 'student-2.onnx'), { threads: 1 });
const tracker = new Tracker(engine, { inlinePreprocessing: mode === 'inline' });
const side = 4000;
const small: Frame = { data: new Uint8Array(side * side * 3), width: side, height: side, format: 'rgb' };
tracker.init(small, { x: 100, y: 100, width: 3000, height: 3000 });
const busy = [...Array(4)].map(() => new Promise((resolve) => pbkdf2('x', 'y', 3e5, 32, 'sha512', resolve)));
const outcomes: string[] = [];
for (let round = 0; round < 3; round++) {
  // frame.data is the only reference to its memory: nothing else here keeps it alive.
  const frame: Frame = { data: new Uint8Array(side * side * 3), width: side, height: side, format: 'rgb' };
  const pending = tracker.track(frame);
  for (let i = 0; i < 5; i++) await Promise.resolve();
  if (variant === 'null') {
    (frame as { data: unknown }).data = null;
  } else {
    const buffer = (frame.data as Uint8Array).buffer as ArrayBuffer;
    structuredClone(buffer, { transfer: [buffer] });
  }
  gc();
  try {
    await pending;
    outcomes.push('ok');
  } catch (error) {
    outcomes.push(error instanceof CtEdgeError ? error.code : `untyped: ${String(error)}`);
  }
  gc();
}
await Promise.all(busy);
tracker.dispose();
await engine.dispose();
console.log(JSON.stringify({ outcomes }));
