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

/** Least-squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  return points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
}

real(`soak: 10,000 frames on one tracker, reported every 1,000: resident memory and heap flat after warm-up (slope under 0.5 KiB a frame)${suffix}`, (t) => {
  const { report, stdout } = soak(['--frames', '10000', '--every', '1000', '--model', SMALL_MODEL]);
  const reports = report.reports as { frames: number; rssMiB: number; heapMiB: number }[];
  t.deepEqual(reports.map((r) => r.frames), [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]);
  // From frame 3,000 (allocators and caches settle in the first thousands): a leak of 1 KiB a frame
  // is a slope of 1 KiB a frame whatever the noise at any one report; a bound on the growth alone missed it.
  const settled = reports.filter((r) => r.frames >= 3000);
  const rssKiBPerFrame = slope(settled.map((r) => [r.frames, r.rssMiB * 1024]));
  const heapKiBPerFrame = slope(settled.map((r) => [r.frames, r.heapMiB * 1024]));
  t.log(`RSS ${rssKiBPerFrame.toFixed(3)} KiB a frame, heap ${heapKiBPerFrame.toFixed(3)} KiB a frame`);
  t.true(rssKiBPerFrame < 0.5, `RSS grows ${rssKiBPerFrame.toFixed(3)} KiB a frame`);
  t.true(heapKiBPerFrame < 0.1, `heap grows ${heapKiBPerFrame.toFixed(3)} KiB a frame`);
  t.regex(stdout, /growth after warm-up \(frame 1000 to 10000\): RSS -?[\d.]+ MiB, heap -?[\d.]+ MiB/);
});

test('soak --cycles: Engine.load + dispose beside a bare worker thread and a bare onnxruntime session', (t) => {
  const { report } = soak(['--cycles', '8', '--model', SMALL_MODEL]);
  const result = report.result as Record<string, { cycles: number; rssMiB: number[]; perCycleKiB: number }>;
  t.deepEqual(Object.keys(result), ['Engine.load + dispose', 'worker thread only', 'onnxruntime session only']);
  for (const r of Object.values(result)) {
    t.is(r.cycles, 8);
    t.is(r.rssMiB.length, 9, 'RSS before the first cycle and after each');
  }
  // An engine whose dispose() leaves its thread running costs 29 MiB a cycle here; noise is about 1 MiB.
  const engine = result['Engine.load + dispose'];
  t.true(engine.perCycleKiB < 4096, `Engine.load + dispose grows ${engine.perCycleKiB.toFixed(0)} KiB a cycle`);
});
