/**
 * The API fuzz harness (test/helpers/fuzz-api.ts) as a test: 2,000 random calls with broken
 * arguments must each succeed or fail with a CtEdgeError. It runs in a child process so that a
 * crash (SIGSEGV, abort) fails this test instead of killing the test runner.
 *
 * CT_EDGE_FUZZ_CALLS=100000 npx ava test/fuzz.test.ts   # the long run
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './helpers/data.js';

const calls = Number(process.env.CT_EDGE_FUZZ_CALLS ?? 2000);
const seeds = [1, 2];

for (const seed of seeds) {
  test(`${calls} random API calls (seed ${seed}): every failure is a CtEdgeError, and nothing crashes`, async (t) => {
    t.timeout(Math.max(120_000, calls * 20));
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'helpers', 'fuzz-api.ts'), '--calls', String(calls), '--seed', String(seed)], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d).slice(-4000)));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    t.is(signal, null, `the fuzz child died of ${signal}: ${stderr}`);
    const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { calls: number; ok: number; typed: number; findings: unknown[]; findingCount: number };
    t.deepEqual(report.findings, [], `${report.findingCount} calls failed with something else than a CtEdgeError`);
    t.is(code, 0, stderr);
    t.is(report.calls, calls);
    // The harness reaches deep enough: many calls succeed and many are refused.
    t.true(report.ok > calls / 10 && report.typed > calls / 10, `ok ${report.ok}, typed errors ${report.typed}`);
    t.log(`${report.ok} calls succeeded, ${report.typed} failed with a CtEdgeError`);
  });
}
