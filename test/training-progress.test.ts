/**
 * The training bar (issue 27, item 4): no ETA until steps this process ran are timed (a resumed
 * run's first step says nothing of the earlier ones), then one from their mean time.
 */
import test from 'ava';
import { formatDuration, trainingProgressBar } from '../ts/cli/training-progress.js';
import type { LogEntry } from '../ts/train/loop.js';

const entry = (step: number, ms: number): LogEntry => ({ step, lr: 1e-4, gradNorm: 1, ms, losses: { total: 0.5 } });

test('formatDuration', (t) => {
  t.is(formatDuration(42), '42s');
  t.is(formatDuration(95), '1m35s');
  t.is(formatDuration(7300), '2h01m');
});

test('the bar shows no ETA until three steps are timed, then the remaining steps at their mean time', (t) => {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const bar = trainingProgressBar('compress');
    bar.onProgress({ step: 400, steps: 1000 });
    bar.onProgress({ step: 401, steps: 1000, entry: entry(401, 2000) });
    bar.stop();
    t.regex(written.join(''), /resuming from step 400 of 1000/);
    t.regex(written.join('').trim().split('\n').at(-1)!, /401\/1000 \| loss 0\.5000 \| 2000 ms\/step \| ETA -$/);
    written.length = 0;
    const again = trainingProgressBar('compress');
    again.onProgress({ step: 0, steps: 100 });
    for (const [step, ms] of [[1, 1000], [2, 2000], [3, 3000]]) again.onProgress({ step, steps: 100, entry: entry(step, ms) });
    again.stop();
    t.regex(written.join('').trim().split('\n').at(-1)!, /3\/100 .*\| ETA 3m14s$/, '97 steps at 2 s');
  } finally {
    process.stderr.write = write;
  }
});
