/**
 * What tools/compress-table.ts and tools/compress-ablation.ts share: their common flags, the
 * teacher check, the stage lists, the compress and export jobs, the fixed held-out clips, loading
 * the exported models on onnxruntime, and Markdown/statistics helpers.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readCheckpoint } from '../../ts/train/checkpoint/checkpoint.js';
import { openDataset, type Dataset } from '../../ts/deploy/datasets/dataset.js';
import { evaluate, type EvalModel, type EvalResult } from '../../ts/deploy/eval/evaluate.js';
import { writeEvalOutputs } from '../../ts/deploy/eval/report.js';
import type { TrackerNetConfig } from '../../ts/train/model/config.js';
import type { CompressOptions } from '../../ts/train/compress.js';
import { COMPRESS_DEFAULTS, RUN_DEFAULTS, runFiles, type CompressTrackerOptions } from '../../ts/train/train-tracker.js';
import { Engine } from '../../ts/deploy/engine.js';
import { CtEdgeError } from '../../ts/contract/errors.js';
import { heldOutClips } from '../../ts/train/data/generator.js';
import { writeGot10k } from '../../ts/train/data/writer.js';
import { formatDuration, JobError, runJobs, sha256File, shown, type Job, type JobOutcome, type Progress } from './jobs.js';

/** parseArgs options both tools take. */
export const COMMON_FLAGS = {
  teacher: { type: 'string', default: 'models/teacher.safetensors' },
  steps: { type: 'string', default: '1000' },
  batch: { type: 'string', default: '8' },
  lr: { type: 'string', default: '2e-4' },
  jobs: { type: 'string', default: '2' },
  clips: { type: 'string', default: '20' },
  frames: { type: 'string', default: '100' },
  'clip-seed': { type: 'string', default: '1' },
  threads: { type: 'string', default: '1' },
  'calibrate-pairs': { type: 'string', default: '2048' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const COMMON_USAGE = `  --teacher FILE     teacher checkpoint (default models/teacher.safetensors; never written to)
  --steps N          compression steps of every student (default 1000)
  --batch N          pairs per step (default 8)
  --lr X             learning rate, x0.1 after 80% of the steps (default 2e-4, ct-edge compress's)
  --jobs N           ct-edge compress processes at a time (default 2; each uses one core)
  --clips N          held-out clips to evaluate on (default 20)
  --frames M         frames per held-out clip (default 100)
  --clip-seed S      seed of the held-out clips (default 1; \`ct-edge generate --held-out --seed S\`)
  --threads N        onnxruntime threads per model when evaluating and timing (default 1)
  --calibrate-pairs N  \`ct-edge calibrate\` every student on N pairs before export, as the shipped
                     teacher was (default 2048; 0 exports the students uncalibrated)`;

export interface CommonOptions {
  teacher: string;
  steps: number;
  batch: number;
  lr: number;
  jobs: number;
  clips: number;
  frames: number;
  clipSeed: number;
  threads: number;
  calibratePairs: number;
  out: string;
}

export function parseWhole(text: string, flag: string, min = 1): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--${flag} must be a whole number >= ${min}, got '${text}'`);
  return v;
}

export function parseList(text: string, flag: string, min = 1): number[] {
  const list = text.split(',').filter(Boolean).map((s) => parseWhole(s, flag, min));
  if (list.length === 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--${flag} needs a comma-separated list, got '${text}'`);
  return [...new Set(list)];
}

export function parseCommon(values: Record<string, unknown>, out: string): CommonOptions {
  const str = (k: keyof typeof COMMON_FLAGS) => values[k] as string;
  const lr = Number(str('lr'));
  if (!(lr > 0)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--lr must be a positive number, got '${str('lr')}'`);
  // The teacher is being trained into models/; nothing these tools write may land there.
  const models = resolve('models');
  const outDir = resolve(out);
  if (outDir === models || outDir.startsWith(`${models}/`)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--out ${out} is inside models/; choose a folder outside it`);
  return {
    teacher: str('teacher'),
    steps: parseWhole(str('steps'), 'steps'),
    batch: parseWhole(str('batch'), 'batch'),
    lr,
    jobs: parseWhole(str('jobs'), 'jobs'),
    clips: parseWhole(str('clips'), 'clips'),
    frames: parseWhole(str('frames'), 'frames', 2),
    clipSeed: parseWhole(str('clip-seed'), 'clip-seed', 0),
    threads: parseWhole(str('threads'), 'threads'),
    calibratePairs: parseWhole(str('calibrate-pairs'), 'calibrate-pairs', 0),
    out: outDir,
  };
}

export interface Teacher {
  path: string;
  sha256: string;
  config: TrackerNetConfig;
}

export async function openTeacher(path: string): Promise<Teacher> {
  if (!existsSync(path)) {
    throw new CtEdgeError(
      'ERR_INVALID_ARGUMENT',
      `no teacher checkpoint at ${path}. Train one first:\n` +
        '  npx ct-edge train --preset tiny --steps 7600 --batch 16 --lr 2e-3 --clip-mix easy=1,moderate=1 -o trained/teacher.safetensors\n' +
        `  npx ct-edge calibrate trained/teacher.safetensors --clip-mix easy=1,moderate=1 -o ${path}\n` +
        'or name an existing one with --teacher FILE',
    );
  }
  const { config } = await readCheckpoint(path);
  return { path, sha256: await sha256File(path), config };
}

/**
 * Teacher blocks per stage for an N-block student: even when N divides the depth, otherwise the
 * larger stages first (6 -> 4: 2,2,1,1), as ct-edge compress suggests for uneven divisions.
 */
export function stageSizes(teacherDepth: number, blocks: number): number[] {
  if (blocks < 1 || blocks >= teacherDepth) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `a student of ${blocks} blocks is not a compression of a ${teacherDepth}-block teacher (use 1 .. ${teacherDepth - 1})`);
  }
  const base = Math.floor(teacherDepth / blocks);
  return Array.from({ length: blocks }, (_, i) => base + (i < teacherDepth % blocks ? 1 : 0));
}

export interface StudentSpec {
  /** Job and model name (`ct-3`, `full-s2`). */
  name: string;
  blocks: number;
  stages: number[];
  seed: number;
  /** Departures from CompressTracker's defaults (the ablation's switches). */
  method: Partial<Pick<CompressOptions, 'replacement' | 'guidance' | 'mimic' | 'schedule'>>;
}

export const studentCheckpoint = (o: CommonOptions, name: string) => join(o.out, 'students', `${name}.safetensors`);
/** The checkpoint a student is exported from: its calibrated copy unless --calibrate-pairs 0. */
export const deployedCheckpoint = (o: CommonOptions, name: string) =>
  o.calibratePairs > 0 ? join(o.out, 'students', `${name}.calibrated.safetensors`) : studentCheckpoint(o, name);
export const onnxPath = (checkpoint: string) => checkpoint.replace(/\.safetensors$/, '.onnx');

export function compressJob(o: CommonOptions, teacher: Teacher, s: StudentSpec): Job {
  const compress = { ...COMPRESS_DEFAULTS, ...s.method, studentBlocks: s.blocks, stages: s.stages };
  const run = { steps: o.steps, batchSize: o.batch, learningRate: o.lr, data: { seed: s.seed, clip: RUN_DEFAULTS.clip } };
  return compressionJob(s.name, studentCheckpoint(o, s.name), teacher, compress, run);
}

/**
 * One compression as a job on one core: resumed when killed, refused when its output exists from
 * other settings. The teacher counts by content: a retrained teacher at the same path must not
 * reuse old students.
 */
export function compressionJob(
  name: string,
  output: string,
  teacher: Pick<Teacher, 'path' | 'sha256'>,
  compress: CompressTrackerOptions['compress'],
  run: Pick<CompressTrackerOptions, 'steps' | 'batchSize' | 'learningRate' | 'data'>,
  /** More inputs that decide the result, by content (e.g. the sha256 of tracks files the data names). */
  inputs?: Record<string, unknown>,
): Job {
  const { checkpointPath, logPath } = runFiles(output);
  return {
    name,
    // One thread per job: the tools run --jobs of them side by side instead.
    task: { verb: 'compress', options: { ...RUN_DEFAULTS, ...run, teacher: teacher.path, compress, output, workers: 1 } },
    output,
    settings: { teacherSha256: teacher.sha256, compress, run, ...inputs },
    onStale: 'refuse',
    resumeCheckpoint: checkpointPath,
    stepLog: { path: logPath, steps: run.steps },
  };
}

/** Calibration of a compressed student into its deployedCheckpoint. */
export async function calibrateJob(o: CommonOptions, name: string): Promise<Job> {
  const input = studentCheckpoint(o, name);
  const pairs = o.calibratePairs;
  const output = deployedCheckpoint(o, name);
  return { name: `calibrate-${name}`, task: { verb: 'calibrate', input, output, options: { pairs } }, output, settings: { checkpointSha256: await sha256File(input), pairs }, onStale: 'rerun' };
}

/** Export of a checkpoint to the .onnx beside it (or `onnx`). */
export async function exportJob(name: string, checkpoint: string, onnx = onnxPath(checkpoint)): Promise<Job> {
  return { name: `export-${name}`, task: { verb: 'export', checkpoint, onnx }, output: onnx, settings: { checkpointSha256: await sha256File(checkpoint) }, onStale: 'rerun' };
}

/**
 * The fixed evaluation clips, the same as `ct-edge generate --held-out --seed S --clips N --frames M`
 * would write; generated once per (seed, count, length) and reused by later runs.
 */
export async function heldOutDataset(o: CommonOptions, progress: Progress): Promise<Dataset> {
  const dir = join(o.out, `heldout-seed${o.clipSeed}-${o.clips}x${o.frames}`);
  // writeGot10k writes list.txt last, so its presence means a complete set.
  if (existsSync(join(dir, 'list.txt'))) {
    progress.log(`held-out clips: reusing ${shown(dir)}`);
  } else {
    progress.log(`held-out clips: generating ${o.clips} clips of ${o.frames} frames (seed ${o.clipSeed}) into ${shown(dir)}`);
    await mkdir(dir, { recursive: true });
    await writeGot10k(dir, heldOutClips(o.clips, o.clipSeed, { length: o.frames }));
  }
  const dataset = await openDataset(dir, 'got10k');
  for (const s of dataset.skipped) progress.log(`held-out clips: skipped ${s.name}: ${s.reason}`);
  return dataset;
}

/** Loads ONNX models on onnxruntime's CPU provider; on a failure the ones loaded are released. */
export async function loadEngines(models: readonly { label: string; path: string }[], threads: number): Promise<EvalModel[]> {
  const loaded: EvalModel[] = [];
  try {
    for (const m of models) loaded.push({ label: m.label, engine: await Engine.load(m.path, { threads }) });
  } catch (error) {
    await Promise.all(loaded.map((m) => m.engine.dispose()));
    throw error;
  }
  return loaded;
}

export { markdownTable } from '../../ts/deploy/eval/report.js';

/**
 * The shared body of the table and the ablation: compress every student (at most o.jobs at a
 * time), calibrate them (unless o.calibratePairs is 0), export the teacher and the students to
 * ONNX, evaluate them side by side on the held-out clips (and run `alongside` while the engines
 * are loaded), and write the evaluation outputs.
 */
export async function compressExportEvaluate<T>(
  o: CommonOptions,
  teacher: Teacher,
  students: readonly StudentSpec[],
  dataset: Dataset,
  progress: Progress,
  alongside: (models: EvalModel[]) => Promise<T>,
): Promise<{ compressed: JobOutcome[]; compressSeconds: number; entries: { label: string; path: string }[]; evalResult: EvalResult; extra: T }> {
  const logDir = join(o.out, 'logs');
  const t0 = performance.now();
  const compressed = await runJobs(students.map((s) => compressJob(o, teacher, s)), o.jobs, logDir, progress);
  const compressSeconds = (performance.now() - t0) / 1000;
  if (o.calibratePairs > 0) await runJobs(await Promise.all(students.map((s) => calibrateJob(o, s.name))), o.jobs, logDir, progress);

  const teacherOnnx = join(o.out, 'teacher.onnx');
  const exports = [await exportJob('teacher', o.teacher, teacherOnnx)];
  for (const s of students) exports.push(await exportJob(s.name, deployedCheckpoint(o, s.name), onnxPath(studentCheckpoint(o, s.name))));
  await runJobs(exports, o.jobs, logDir, progress);

  const entries = [{ label: 'teacher', path: teacherOnnx }, ...students.map((s) => ({ label: s.name, path: onnxPath(studentCheckpoint(o, s.name)) }))];
  const models = await loadEngines(entries, o.threads);
  let evalResult: EvalResult;
  let extra: T;
  try {
    const frames = dataset.sequences.reduce((n, s) => n + s.framePaths.length, 0);
    progress.log(`evaluating ${models.length} models side by side on ${dataset.sequences.length} held-out clips (${frames} frames)`);
    const tEval = performance.now();
    evalResult = await evaluate(models, dataset, { onSequence: (s) => progress.log(`eval: ${s.name}`), onSkip: (s) => progress.log(`eval: skipped ${s.name}: ${s.reason}`) });
    progress.log(`evaluated in ${formatDuration((performance.now() - tEval) / 1000)}`);
    extra = await alongside(models);
  } finally {
    await Promise.all(models.map((m) => m.engine.dispose()));
  }
  await writeEvalOutputs(join(o.out, 'eval'), evalResult, { models: entries.map((e) => e.path), dataset: dataset.root, format: 'got10k', threads: o.threads, date: new Date().toISOString() }, 'held-out clips');
  return { compressed, compressSeconds, entries, evalResult, extra };
}

/** Fixed-point text, '-' for NaN and infinities. */
export const fixed = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '-');

/** Mean and sample standard deviation (n - 1; NaN for fewer than two values). */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length < 2 ? NaN : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
  return { mean, std };
}

/** Runs a tool's main; an expected error prints its message, anything else its stack; exit code 1. */
export function runTool(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    // parseArgs' errors (unknown flag, missing value) are usage errors: one line too.
    const usage = (error as { code?: unknown })?.code;
    if (error instanceof CtEdgeError || error instanceof JobError || (typeof usage === 'string' && usage.startsWith('ERR_PARSE_ARGS'))) console.error(`${name}: ${(error as Error).message}`);
    else console.error(error);
    process.exitCode = 1;
  });
}
