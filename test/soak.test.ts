/**
 * tools/soak.ts, short: frames tracked on one tracker (ordinary and shared memory alternately)
 * with RSS and heap reported at intervals and the growth after warm-up; and the load-cycle mode.
 * The full runs (100,000 frames, 500 load cycles) and their figures are in docs/BENCHMARKS.md.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasSharedData, repoRoot, sharedDataSkipReason } from './helpers/data.js';

const real = hasSharedData ? test : test.skip;
const suffix = hasSharedData ? '' : ` (${sharedDataSkipReason})`;

/** The smallest shipped model (the tool's default is VitTrack's 2-block student): the test measures memory, not speed. */
const SMALL_MODEL = join(repoRoot, 'models', 'student-2.onnx');

function soak(args: string[]): { report: Record<string, unknown>; stdout: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ct-edge-soak-'));
  try {
    const json = join(dir, 'soak.json');
    const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(repoRoot, 'tools', 'soak.ts'), ...args, '--json', json], { cwd: repoRoot, encoding: 'utf8', timeout: 600_000 });
    if (run.status !== 0) throw new Error(`soak.ts failed (${run.status ?? run.signal}): ${run.stderr.slice(-2000)}`);
    return { report: JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>, stdout: run.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

real(`soak: 6,000 frames on one tracker, reported every 1,000, grow less than 5 MiB after warm-up${suffix}`, (t) => {
  const { report, stdout } = soak(['--frames', '6000', '--every', '1000', '--model', SMALL_MODEL]);
  const reports = report.reports as { frames: number; rssMiB: number; heapMiB: number }[];
  t.deepEqual(reports.map((r) => r.frames), [1000, 2000, 3000, 4000, 5000, 6000]);
  const growth = report.growth as { rssMiB: number; heapMiB: number };
  t.true(growth.rssMiB < 5, `RSS grew ${growth.rssMiB.toFixed(2)} MiB`);
  t.true(growth.heapMiB < 1, `heap grew ${growth.heapMiB.toFixed(2)} MiB`);
  t.regex(stdout, /growth after warm-up \(frame 1000 to 6000\): RSS -?[\d.]+ MiB, heap -?[\d.]+ MiB/);
});

test('soak --cycles: Engine.load + dispose beside a bare worker thread and a bare onnxruntime session', (t) => {
  const { report } = soak(['--cycles', '8', '--model', SMALL_MODEL]);
  const result = report.result as Record<string, { cycles: number; rssMiB: number[]; perCycleKiB: number }>;
  t.deepEqual(Object.keys(result), ['Engine.load + dispose', 'worker thread only', 'onnxruntime session only']);
  for (const r of Object.values(result)) {
    t.is(r.cycles, 8);
    t.true(r.rssMiB.length > 1 && Number.isFinite(r.perCycleKiB));
  }
});
