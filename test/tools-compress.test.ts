/** The compression tools: stage lists, statistics, the job runner's skip/refuse/rerun rules, the step-cost benchmark, and the VitTrack ablation end to end. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { netConfig } from '../ts/train/model/config.js';
import { paramSpecs, type WeightMap } from '../ts/train/model/params.js';
import { JobError, Progress, runJobs, type Job } from '../tools/lib/jobs.js';
import { hasSharedData, repoRoot, sequencesDir } from './helpers/data.js';
import { calibrateJob, COMMON_FLAGS, deployedCheckpoint, exportJob, meanStd, parseCommon, stageSizes, studentCheckpoint } from '../tools/lib/study.js';

/** A tiny-preset checkpoint of `depth` blocks whose weights are value(i) (BatchNorm variances 1), written to `path`. */
async function tinyCheckpoint(path: string, depth: number, value: (i: number) => number): Promise<string> {
  const config = netConfig('tiny', { depth });
  const weights: WeightMap = new Map();
  for (const spec of paramSpecs(config)) {
    const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1)).map((_, i) => value(i));
    if (spec.name.endsWith('running_var')) data.fill(1);
    weights.set(spec.name, { shape: spec.shape, data });
  }
  await writeCheckpoint(path, { config, weights });
  return path;
}

test('stage lists are even when the depth divides, larger stages first otherwise', (t) => {
  t.deepEqual(stageSizes(6, 2), [3, 3]);
  t.deepEqual(stageSizes(6, 3), [2, 2, 2]);
  t.deepEqual(stageSizes(6, 4), [2, 2, 1, 1]);
  t.deepEqual(stageSizes(12, 4), [3, 3, 3, 3]);
  t.deepEqual(stageSizes(6, 5), [2, 1, 1, 1, 1]);
  t.throws(() => stageSizes(6, 6), { message: /not a compression/ });
  t.throws(() => stageSizes(6, 0), { message: /not a compression/ });
});

test('mean and sample standard deviation', (t) => {
  const { mean, std } = meanStd([1, 2, 3]);
  t.is(mean, 2);
  t.is(std, 1);
  t.true(Number.isNaN(meanStd([4]).std));
});

test('jobs run once, are skipped with the same settings, refused or rerun with others, and failures say why', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-tools-'));
  try {
    const checkpoint = await tinyCheckpoint(join(dir, 'net.safetensors'), 1, () => 0);
    const lines: string[] = [];
    const progress = new Progress('test', (line) => lines.push(line));
    const logs = join(dir, 'logs');

    const job = await exportJob('net', checkpoint);
    t.deepEqual((await runJobs([job], 1, logs, progress)).map((o) => o.status), ['ran']);
    t.deepEqual((await runJobs([job], 1, logs, progress)).map((o) => o.status), ['skipped']);

    const changed: Job = { ...job, settings: { checkpointSha256: 'other' } };
    await t.throwsAsync(runJobs([{ ...changed, onStale: 'refuse' }], 1, logs, progress), { instanceOf: JobError, message: /other settings \(checkpointSha256: / });
    t.deepEqual((await runJobs([changed], 1, logs, progress)).map((o) => o.status), ['ran']);

    const broken: Job = { ...job, name: 'broken', task: { verb: 'export', checkpoint: join(dir, 'missing.safetensors'), onnx: join(dir, 'missing.onnx') }, output: join(dir, 'missing.onnx') };
    await t.throwsAsync(runJobs([broken], 1, logs, progress), { instanceOf: JobError, message: /broken failed \(exit 1\)[\s\S]*missing\.safetensors/ });
    t.regex(lines.join('\n'), /export-net: skipped, .*net\.onnx exists with the same settings/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('students are calibrated into a copy and exported from it, unless --calibrate-pairs 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-tools-'));
  try {
    const defaults = Object.fromEntries(Object.entries(COMMON_FLAGS).map(([k, v]) => [k, v.default]));
    const o = parseCommon(defaults, dir);
    t.is(o.calibratePairs, 2048);
    await mkdir(join(dir, 'students'));
    await writeFile(studentCheckpoint(o, 'ct-2'), 'a checkpoint');
    const job = await calibrateJob(o, 'ct-2');
    t.is(job.output, join(dir, 'students', 'ct-2.calibrated.safetensors'));
    t.deepEqual(job.task, { verb: 'calibrate', input: studentCheckpoint(o, 'ct-2'), output: job.output, options: { pairs: 2048 } });
    t.is(deployedCheckpoint(o, 'ct-2'), job.output);
    const off = parseCommon({ ...defaults, 'calibrate-pairs': '0' }, dir);
    t.is(deployedCheckpoint(off, 'ct-2'), studentCheckpoint(off, 'ct-2'));
    t.throws(() => parseCommon({ ...defaults, 'calibrate-pairs': '-1' }, dir), { message: /--calibrate-pairs must be a whole number >= 0/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('vittrack-ablation: bad arguments are one line and exit 1, before any work', (t) => {
  const tool = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'tools', 'vittrack-ablation.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  const cases: [string[], RegExp][] = [
    [['--no-such-flag'], /^vittrack-ablation: Unknown option '--no-such-flag'/],
    [['--variants', 'full,bogus'], /^vittrack-ablation: --variants takes a comma-separated list of full, no-mimic/],
    [['--teacher', '/nonexistent-ct-edge-folder/t.safetensors', '--out', '/nonexistent-ct-edge-folder/out'], /^vittrack-ablation: no teacher checkpoint at \/nonexistent-ct-edge-folder\/t\.safetensors; leave --teacher out/],
    [['--seeds', 'x'], /^vittrack-ablation: --seeds must be a whole number/],
  ];
  for (const [args, message] of cases) {
    const r = tool(args);
    t.is(r.status, 1, args.join(' '));
    t.regex(r.stderr.trim(), message);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('bench-compress-step times a compression step against a plain one, and refuses bad counts in one line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-bench-step-'));
  try {
    const teacher = await tinyCheckpoint(join(dir, 'teacher.safetensors'), 2, (i) => Math.sin(i) * 0.02);
    const tool = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'tools', 'bench-compress-step.ts'), '--teacher', teacher, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
    const r = tool(['--blocks', '1', '--dim', '16', '--batch', '2', '--rounds', '1', '--steps', '1']);
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /teacher 2 blocks of width 32 -> student 1 of width 16 \(stages 2\); batch 2/);
    t.regex(r.stdout, /\| plain training step of the student \| \d+ \| 1\.00x \|/);
    t.regex(r.stdout, /\| compression step \| \d+ \| \d+\.\d\dx \|/);
    for (const bad of [['--dim', 'abc'], ['--stages', '1,x']]) {
      const refused = tool(bad);
      t.is(refused.status, 2, bad.join(' '));
      t.regex(refused.stderr.trim(), /^--blocks, --stages, --dim, --batch, --rounds and --steps take whole numbers >= 1; usage: /);
      t.is(refused.stderr.trim().split('\n').length, 1);
    }
    const wide = tool(['--dim', '64']);
    t.is(wide.status, 2);
    t.regex(wide.stderr.trim(), /^bench-compress-step: a student of width 64 is wider than its teacher \(32\)/);
    t.is(wide.stderr.trim().split('\n').length, 1, wide.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const withSharedData = hasSharedData ? test : test.skip;

withSharedData('vittrack-ablation: imports VitTrack, compresses it by each variant without labels, evaluates side by side, and a rerun skips the students', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-vittrack-ablation-'));
  try {
    // One short labelled sequence and the shipped clip keep the evaluation small.
    await mkdir(join(dir, 'sequences'));
    await symlink(join(sequencesDir, 'football1'), join(dir, 'sequences', 'football1'));
    await mkdir(join(dir, 'unlabeled'));
    await symlink(join(repoRoot, 'models', 'tree.avi'), join(dir, 'unlabeled', 'tree.avi'));
    const out = join(dir, 'study');
    const args = ['--steps', '1', '--batch', '2', '--variants', 'full,no-mimic', '--seeds', '1', '--data', join(dir, 'unlabeled', 'tree.avi'), '--sequences', join(dir, 'sequences'), '--unlabeled', join(dir, 'unlabeled'), '--out', out];
    const tool = (extra: string[] = []) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'tools', 'vittrack-ablation.ts'), ...args, ...extra], { cwd: repoRoot, encoding: 'utf8', timeout: 600_000 });
    const first = tool();
    t.is(first.status, 0, first.stderr.slice(-2000));
    const report = JSON.parse(await readFile(join(out, 'ablation.json'), 'utf8')) as { stages: number[]; summary: { id: string; aucs: number[] }[]; evaluation: { rows: { model: string; auc: number; agreement: number }[] } };
    t.deepEqual(report.stages, [2, 1]);
    t.deepEqual(report.summary.map((s) => s.id), ['full', 'no-mimic']);
    t.deepEqual(report.evaluation.rows.map((r) => r.model), ['VitTrack', 'full-s1', 'no-mimic-s1']);
    t.true(report.evaluation.rows.every((r) => r.auc >= 0 && r.auc <= 1 && r.agreement >= 0 && r.agreement <= 1));
    t.is(report.evaluation.rows[0].agreement, 1);
    t.regex(await readFile(join(out, 'ablation.md'), 'utf8'), /\| no feature mimicking +\| +--no-mimic \|/);
    const again = tool();
    t.is(again.status, 0, again.stderr.slice(-2000));
    t.regex(again.stderr, /full-s1: skipped/);
    t.regex(again.stderr, /no-mimic-s1: skipped/);
    const oneBlock = tool(['--blocks', '1', '--variants', 'no-replacement', '--out', join(dir, 'one')]);
    t.is(oneBlock.status, 1);
    t.regex(oneBlock.stderr, /skipping no-replacement: with 1 block the only stage always runs the student/);
    t.regex(oneBlock.stderr, /vittrack-ablation: no variant left to run of 'no-replacement'/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
