/** The compression tools' helpers: stage lists, statistics, and the job runner's skip/refuse/rerun rules. */
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { netConfig } from '../ts/train/model/config.js';
import { paramSpecs, type WeightMap } from '../ts/train/model/params.js';
import { JobError, Progress, runJobs, type Job } from '../tools/lib/jobs.js';
import { calibrateJob, COMMON_FLAGS, deployedCheckpoint, exportJob, meanStd, parseCommon, stageSizes, studentCheckpoint } from '../tools/lib/study.js';

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
    const config = netConfig('tiny', { depth: 1 });
    const weights: WeightMap = new Map();
    for (const spec of paramSpecs(config)) {
      const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
      if (spec.name.endsWith('running_var')) data.fill(1);
      weights.set(spec.name, { shape: spec.shape, data });
    }
    const checkpoint = join(dir, 'net.safetensors');
    await writeCheckpoint(checkpoint, { config, weights });
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
