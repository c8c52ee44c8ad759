/**
 * `ct-edge train` and `ct-edge compress` (on one thread and on two worker threads) killed mid-run
 * and resumed with --resume end with exactly the weights of a run that was never interrupted
 * (batches and draws are functions of (seed, step), the checkpoint holds weights and AdamW
 * moments), and a kill never leaves a broken checkpoint behind.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { readSafetensors } from '../ts/train/checkpoint/safetensors.js';
import { repoRoot } from './helpers/data.js';

const baseArgs = (out: string) => ['train', '--preset', 'tiny', '--depth', '2', '--steps', '12', '--batch', '2', '--checkpoint-every', '4', '--clip-size', '96x96', '-o', out];

/** Runs the CLI; `watch` is polled every 20 ms while it runs. */
function cli(argv: string[], watch?: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'ts', 'cli', 'main.ts'), ...argv], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = watch && setInterval(() => watch(child), 20);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

const loggedSteps = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);

/** A 2-block teacher for the compression runs, trained for one step. */
const teacherDir = mkdtemp(join(tmpdir(), 'ct-resume-teacher-'));
const teacher = (async () => {
  const path = join(await teacherDir, 'teacher.safetensors');
  const run = await cli(['train', '--preset', 'tiny', '--depth', '2', '--steps', '1', '--batch', '2', '--clip-size', '96x96', '-o', path]);
  if (run.code !== 0) throw new Error(run.stderr);
  return path;
})();

test.after.always(async () => {
  await rm(await teacherDir, { recursive: true, force: true });
});

const runs: [string, (out: string) => Promise<string[]>][] = [
  ['train --workers 1', async (out) => [...baseArgs(out), '--workers', '1']],
  ['train --workers 2', async (out) => [...baseArgs(out), '--workers', '2']],
  ['compress --workers 2', async (out) => ['compress', '--teacher', await teacher, '--blocks', '1', '--steps', '12', '--batch', '2', '--checkpoint-every', '4', '--clip-size', '96x96', '-o', out, '--workers', '2']],
  ['compress --workers 1', async (out) => ['compress', '--teacher', await teacher, '--blocks', '2', '--steps', '12', '--batch', '2', '--checkpoint-every', '4', '--clip-size', '96x96', '-o', out, '--workers', '1']],
  // a narrower student: the projections that bridge the widths live in the objective, and must survive the checkpoint
  ['compress --dim 16 --heads 1', async (out) => ['compress', '--teacher', await teacher, '--blocks', '1', '--dim', '16', '--heads', '1', '--steps', '12', '--batch', '2', '--checkpoint-every', '4', '--clip-size', '96x96', '-o', out, '--workers', '1']],
  // the moving average lives in the checkpoint too: a resume must restore it, not restart it
  ['compress, dense and asymmetric, cosine, --ema', async (out) => ['compress', '--teacher', await teacher, '--blocks', '1', '--attention', 'asymmetric', '--distill', 'dense', '--lr-schedule', 'cosine', '--ema', '0.9', '--steps', '12', '--batch', '2', '--checkpoint-every', '4', '--clip-size', '96x96', '-o', out, '--workers', '1']],
];

for (const [what, argsFor] of runs) {
  test(`a killed run resumes to exactly the weights of an uninterrupted one (${what})`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ct-resume-'));
    const args = await Promise.all([join(dir, 'straight.safetensors'), join(dir, 'killed.safetensors')].map(argsFor));
    const straight = await cli(args[0]);
    t.is(straight.code, 0, straight.stderr);

    const out = join(dir, 'killed.safetensors');
    const log = join(dir, 'killed.log.jsonl');
    // SIGKILL as soon as the log passes step 6: after the step-4 checkpoint, before the step-8 one.
    const killed = await cli(args[1], (child) => {
      if (loggedSteps(log) >= 6) child.kill('SIGKILL');
    });
    t.is(killed.signal, 'SIGKILL', 'the run was killed midway');
    t.false(existsSync(out), 'no final weights from a killed run');
    t.true(existsSync(join(dir, 'killed.resume.safetensors')), 'a checkpoint survived the kill');

    const resumed = await cli([...args[1], '--resume']);
    t.is(resumed.code, 0, resumed.stderr);
    const a = await readCheckpoint(join(dir, 'straight.safetensors'));
    const b = await readCheckpoint(out);
    for (const [name, w] of a.weights) t.deepEqual(b.weights.get(name)!.data, w.data, name);
    // the log holds each step once, as an uninterrupted run's does
    const steps = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).step);
    t.deepEqual(steps, Array.from({ length: 12 }, (_, i) => i + 1));
    if (what.includes('--ema')) {
      // the resume checkpoint reads as a checkpoint (ct-edge export takes it): the run's network, its moving average
      const fromResume = await readCheckpoint(join(dir, 'straight.resume.safetensors'));
      t.deepEqual(fromResume.config, a.config);
      for (const [name, w] of a.weights) t.deepEqual(fromResume.weights.get(name)!.data, w.data, `${name} from the resume checkpoint`);
    }
    if (what.startsWith('compress')) {
      const info = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).info);
      t.true(info.every((i) => i.replacementRate >= 0.5 && i.replacementRate <= 1 && i.studentStages >= 1), 'each step logs its replacement rate and draws');
    }
    await rm(dir, { recursive: true });
  });
}

test('compress --resume refuses another teacher of the same shape, and names it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-resume-teacher-'));
  const out = join(dir, 's.safetensors');
  const args = (teacherPath: string) => ['compress', '--teacher', teacherPath, '--blocks', '1', '--steps', '2', '--batch', '2', '--checkpoint-every', '1', '--clip-size', '96x96', '--workers', '1', '-o', out];
  t.is((await cli(args(await teacher))).code, 0);
  // the same network trained one step further: same config and shapes, other weights
  const other = join(dir, 'other-teacher.safetensors');
  t.is((await cli(['train', '--preset', 'tiny', '--depth', '2', '--steps', '2', '--batch', '2', '--clip-size', '96x96', '-o', other])).code, 0);
  const refused = await cli([...args(other), '--resume']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /run on other inputs: teacher changed since \(content differs\).*\[ERR_CHECKPOINT\]/s);
  t.is((await cli([...args(await teacher), '--resume'])).code, 0, 'the same teacher resumes');
  await rm(dir, { recursive: true });
});

test('--resume refuses a checkpoint of a different run, and a missing one; a larger --steps extends a run', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-resume-'));
  const out = join(dir, 'a.safetensors');
  const args = (...more: string[]) => ['train', '--preset', 'tiny', '--depth', '2', '--batch', '2', '--checkpoint-every', '1', '--clip-size', '96x96', '-o', out, ...more];
  t.is((await cli(args('--steps', '2'))).code, 0);
  const other = await cli(args('--steps', '2', '--lr', '1e-3', '--resume'));
  t.is(other.code, 1);
  t.regex(other.stderr, /run with other options \(learningRate: 0\.0005 in the checkpoint, 0\.001 now\).*\[ERR_CHECKPOINT\]/s, 'names the option that differs');
  const otherWorkers = await cli(args('--steps', '2', '--resume', '--workers', '2'));
  t.is(otherWorkers.code, 1, 'the worker count is part of the run');
  t.regex(otherWorkers.stderr, /run with other options \(objective\..*workers.*\[ERR_CHECKPOINT\]/s);
  const shorter = await cli(args('--steps', '1', '--resume'));
  t.is(shorter.code, 1);
  t.regex(shorter.stderr, /holds step 2; a resumed run with other --steps must go beyond it \(--steps 3 or more\)/);
  const extended = await cli(args('--steps', '3', '--resume'));
  t.is(extended.code, 0, extended.stderr);
  t.regex(extended.stderr, /resuming from step 2 of 3/);
  const log = (await readFile(out.replace('.safetensors', '.log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: number });
  t.deepEqual(log.map((e) => e.step), [1, 2, 3], 'the extended run continues the log');
  const missing = await cli([...baseArgs(join(dir, 'none.safetensors')), '--resume']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /nothing to resume/);
  await rm(dir, { recursive: true });
});

test('a rerun without --resume never overwrites an earlier run: it names --resume and --force', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-rerun-'));
  const out = join(dir, 'a.safetensors');
  const args = ['train', '--preset', 'tiny', '--depth', '2', '--steps', '1', '--batch', '2', '--clip-size', '96x96', '-o', out];
  t.is((await cli(args)).code, 0);
  const before = await readFile(out);
  const refused = await cli(args);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /-o .*a\.safetensors exists; continue that run with --resume \(a larger --steps extends it\), or add --force to overwrite it, or choose another path \[ERR_OUTPUT\]/);
  t.deepEqual(await readFile(out), before, 'the earlier output is untouched');
  await rm(out);
  const stopped = await cli(args);
  t.is(stopped.code, 1, 'a checkpoint without its output: a stopped run');
  t.regex(stopped.stderr, /the checkpoint .*a\.resume\.safetensors exists; an earlier run of .*a\.safetensors stopped there: continue it with --resume/);
  const forced = await cli([...args, '--force', '--seed', '2']);
  t.is(forced.code, 0, forced.stderr);
  t.notDeepEqual(await readFile(out), before, '--force starts over');
  await rm(dir, { recursive: true });
});

test('a diverging run stops with a typed error that names the step and the fix, and keeps the checkpoint it wrote', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-diverge-'));
  const out = join(dir, 'diverged.safetensors');
  // AdamW moves every weight by about the learning rate per step: after one step of 1e30 the
  // forward pass overflows float32
  const run = await cli(['train', '--preset', 'tiny', '--depth', '2', '--steps', '6', '--batch', '2', '--checkpoint-every', '1', '--clip-size', '96x96', '--lr', '1e30', '-o', out]);
  t.is(run.code, 1);
  t.regex(run.stderr, /step (\d+): the loss is not finite.*lower the learning rate \(--lr\).*\[ERR_TRAINING_DIVERGED\]/s);
  const failedAt = Number(/step (\d+): the loss/.exec(run.stderr)![1]);
  t.true(failedAt >= 2, 'step 1 starts from finite random weights');
  t.false(existsSync(out), 'no final weights from a diverged run');
  t.is(loggedSteps(join(dir, 'diverged.log.jsonl')), failedAt - 1, 'the log ends with the last finite step');
  const { metadata } = await readSafetensors(join(dir, 'diverged.resume.safetensors'));
  t.is(metadata['ct_edge.train.step'], String(failedAt - 1), 'the checkpoint of the last finite step is intact');
  await rm(dir, { recursive: true });
});

test('--init starts from a checkpoint: with a zero learning rate the trained weights stay those of the start', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-init-'));
  const start = join(dir, 'start.safetensors');
  const base = ['--preset', 'tiny', '--depth', '2', '--batch', '2', '--clip-size', '96x96'];
  t.is((await cli(['train', ...base, '--steps', '2', '-o', start])).code, 0);
  const next = join(dir, 'next.safetensors');
  const run = await cli(['train', ...base, '--steps', '2', '--lr', '0', '--weight-decay', '0', '--init', start, '-o', next]);
  t.is(run.code, 0, run.stderr);
  const [a, b] = [await readCheckpoint(start), await readCheckpoint(next)];
  for (const [name, w] of a.weights) {
    if (name.includes('running_')) continue; // BatchNorm statistics move in training mode, whatever the rate
    t.deepEqual(b.weights.get(name)!.data, w.data, name);
  }
  await rm(dir, { recursive: true });
});

test('--width, --heads and --head-channels override the preset, and the checkpoint records the network they made', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-width-'));
  const out = join(dir, 'wide.safetensors');
  const run = await cli(['train', '--preset', 'tiny', '--depth', '1', '--width', '48', '--heads', '3', '--head-channels', '16', '--steps', '1', '--batch', '1', '--clip-size', '96x96', '-o', out]);
  t.is(run.code, 0, run.stderr);
  const { config, weights } = await readCheckpoint(out);
  t.like(config, { depth: 1, dim: 48, heads: 3, headChannels: 16, templateSize: 64, searchSize: 128 });
  t.deepEqual(weights.get('blocks.0.attn.qkv.weight')!.shape, [144, 48]);
  t.deepEqual(weights.get('box_head.conv1_ctr.0.weight')!.shape.slice(0, 2), [16, 48]);
  await rm(dir, { recursive: true });
});

test('a second Ctrl-C stops a run at once, without waiting for its step or writing a checkpoint', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-stop-twice-'));
  const out = join(dir, 'twice.safetensors');
  const log = join(dir, 'twice.log.jsonl');
  let sent = false;
  const stopped = await cli(['train', '--preset', 'tiny', '--depth', '2', '--steps', '200', '--batch', '2', '--checkpoint-every', '1000', '--clip-size', '96x96', '--workers', '2', '-o', out], (child) => {
    if (!sent && loggedSteps(log) >= 2) {
      sent = true;
      // the second once the first has been seen (two signals sent together arrive as one)
      child.stderr!.on('data', (d: Buffer) => {
        if (String(d).includes('stopping after this step')) child.kill('SIGINT');
      });
      child.kill('SIGINT');
    }
  });
  t.is(stopped.code, 130, stopped.stderr);
  t.regex(stopped.stderr, /stopping after this step .*a second Ctrl-C stops at once/);
  t.notRegex(stopped.stderr, /stopped at step/, 'it did not wait for the step and its checkpoint');
  t.false(existsSync(join(dir, 'twice.resume.safetensors')));
  t.false(existsSync(out));
  t.true(loggedSteps(log) < 200);
  await rm(dir, { recursive: true });
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} stops a run after its step, with a checkpoint of that step, and --resume goes on from it exactly`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ct-stop-'));
    // no checkpoint would fall before the end (every 100 steps): the one after the signal is the stop's
    const args = (out: string) => ['train', '--preset', 'tiny', '--depth', '2', '--steps', '12', '--batch', '2', '--checkpoint-every', '100', '--clip-size', '96x96', '--workers', '1', '-o', out];
    const straight = await cli(args(join(dir, 'straight.safetensors')));
    t.is(straight.code, 0, straight.stderr);
    const out = join(dir, 'stopped.safetensors');
    const log = join(dir, 'stopped.log.jsonl');
    let sent = false;
    const stopped = await cli(args(out), (child) => {
      if (!sent && loggedSteps(log) >= 3) {
        sent = true;
        child.kill(signal);
      }
    });
    t.is(stopped.code, signal === 'SIGINT' ? 130 : 143, stopped.stderr);
    const at = Number(/stopped at step (\d+) of 12 \(the checkpoint .*stopped\.resume\.safetensors holds step \1\): rerun the same command with --resume/.exec(stopped.stderr)?.[1]);
    t.true(at >= 3 && at < 12, stopped.stderr);
    t.false(existsSync(out), 'no final weights from a stopped run');
    const { metadata } = await readSafetensors(join(dir, 'stopped.resume.safetensors'));
    t.is(metadata['ct_edge.train.step'], String(at));
    const resumed = await cli([...args(out), '--resume']);
    t.is(resumed.code, 0, resumed.stderr);
    t.regex(resumed.stderr, new RegExp(`resuming from step ${at} of 12`));
    const [a, b] = [await readCheckpoint(join(dir, 'straight.safetensors')), await readCheckpoint(out)];
    for (const [name, w] of a.weights) t.deepEqual(b.weights.get(name)!.data, w.data, name);
    await rm(dir, { recursive: true });
  });
}

/** Processes other than this one whose command line names `marker` (a test's own temp folder): orphans once a run has exited. */
function processesNaming(marker: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return ps.split('\n').filter((line) => line.includes(marker) && !line.trim().startsWith(`${process.pid} `) && !/\bps -eo\b/.test(line));
}

test('Ctrl-C during compress on footage with two workers: exit 130, a loadable resume checkpoint, and no ffmpeg or worker left behind', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-stop-compress-'));
  const footage = join(dir, 'footage.avi');
  await copyFile(join(repoRoot, 'models', 'tree.avi'), footage);
  const out = join(dir, 'student.safetensors');
  const log = join(dir, 'student.log.jsonl');
  let sent = false;
  const stopped = await cli(
    ['compress', '--teacher', await teacher, '--blocks', '1', '--steps', '200', '--batch', '2', '--checkpoint-every', '1000', '--clip-size', '96x96', '--workers', '2', '--data', `${footage}@1`, '--data', 'synthetic@1', '-o', out],
    (child) => {
      if (!sent && loggedSteps(log) >= 2) {
        sent = true;
        child.kill('SIGINT');
      }
    },
  );
  t.is(stopped.code, 130, stopped.stderr);
  const at = Number(/stopped at step (\d+) of 200/.exec(stopped.stderr)?.[1]);
  const { metadata } = await readSafetensors(join(dir, 'student.resume.safetensors'));
  t.is(metadata['ct_edge.train.step'], String(at));
  t.truthy(await readCheckpoint(join(dir, 'student.resume.safetensors')));
  t.deepEqual(processesNaming(dir), [], 'nothing the run started outlives it');
  await rm(dir, { recursive: true });
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} during eval: exit ${signal === 'SIGINT' ? 130 : 143}, nothing left running`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ct-stop-eval-'));
    const clips = join(dir, 'clips');
    const made = await cli(['generate', '-o', clips, '--clips', '6', '--frames', '150', '--size', '160x120']);
    t.is(made.code, 0, made.stderr);
    let watching = false;
    const evaluated = await cli(['eval', '--model', join(repoRoot, 'models', 'vittrack-student.onnx'), '--dataset', clips, '--format', 'got10k', '--threads', '1', '--out', join(dir, 'report')], (child) => {
      if (watching) return;
      watching = true;
      // signalled once it has loaded its model and says what it evaluates
      child.stderr!.on('data', (d: Buffer) => {
        if (/ct-edge eval: \d+ sequences/.test(String(d))) child.kill(signal);
      });
    });
    t.is(evaluated.code, signal === 'SIGINT' ? 130 : 143, evaluated.stderr);
    t.deepEqual(processesNaming(dir), []);
    await rm(dir, { recursive: true });
  });
}
