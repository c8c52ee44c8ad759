/**
 * The two training runs as library calls: `trainTracker` (a teacher from scratch, OSTrack's losses)
 * and `compressTracker` (CompressTracker, teacher to student). Each picks the TensorFlow.js
 * backend, splits batches over worker threads where that pays, runs or resumes the loop and writes
 * the result; the CLI and the study tools only parse arguments and print.
 */
import { CtEdgeError } from '../contract/errors.js';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint/checkpoint.js';
import { compressionObjective, DEFAULT_SCHEDULE, divideStages, isNarrower, studentConfig, type CompressOptions, type Stage } from './compress.js';
import { teacherChannelsOn } from './narrow-start.js';
import { hasUnlabeledData, trainingPairs, type DataSourceSpec, type TrainingDataOptions } from './data-source.js';
import { pseudoLabel, tracksSettings, type PseudoLabelOptions } from './data/pseudo-label.js';
import { regionClips } from './data/regions.js';
import { writeTrackerOnnx } from './export-onnx.js';
import { Engine } from '../deploy/engine.js';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { trainLoop, type LogEntry, type LoopOptions, type GradientObjective, type Objective } from './loop.js';
import { initBackend, type BackendChoice } from './model/backend.js';
import type { TrackerNetConfig } from './model/config.js';
import { TrackerNet } from './model/network.js';
import { teacherObjective } from './objectives.js';
import { defaultTrainingWorkers, parallelObjective, type ObjectiveRecipe } from './parallel.js';

/** What the CLI and the study tools use where a run option is not given (OSTrack's optimiser settings). */
export const RUN_DEFAULTS = {
  batchSize: 8,
  learningRate: { train: 5e-4, compress: 2e-4 },
  weightDecay: 1e-4,
  clipNorm: 0.1,
  lrDropAt: 0.8,
  lrDropFactor: 0.1,
  checkpointEvery: 50,
  clip: { width: 320, height: 240 },
} as const;

/** CompressTracker as published: students start from the last block of their stage, all three terms on. */
export const COMPRESS_DEFAULTS = { init: 'last', schedule: DEFAULT_SCHEDULE, replacement: true, guidance: true, mimic: true } as const satisfies Partial<CompressOptions>;

/** The loop's settings with the file paths derived from the output's name. */
export type RunOptions = Omit<LoopOptions, 'checkpointPath' | 'logPath' | 'plotPath' | 'label'> & {
  /** The trained network (safetensors). Beside it: `.resume.safetensors`, `.log.jsonl`, `.curves.png`. */
  output: string;
  batchSize: number;
  data: TrainingDataOptions;
  /** Worker threads sharing each batch; default one per core on wasm/cpu (see defaultTrainingWorkers). */
  workers?: number;
  /** Called once the backend and workers are chosen, before the first step. */
  onStart?: (info: { backend: BackendChoice; workers: number }) => void;
};

export interface RunResult {
  output: string;
  config: TrackerNetConfig;
  log: LogEntry[];
  backend: BackendChoice;
  workers: number;
}

/** Paths beside `output` (FILE.safetensors): the resume checkpoint, the log and the curves. */
export function runFiles(output: string): Pick<LoopOptions, 'checkpointPath' | 'logPath' | 'plotPath'> {
  const base = output.replace(/\.safetensors$/i, '');
  return { checkpointPath: `${base}.resume.safetensors`, logPath: `${base}.log.jsonl`, plotPath: `${base}.curves.png` };
}

async function run(label: string, o: RunOptions, local: Objective, recipe: ObjectiveRecipe, save: () => Checkpoint): Promise<RunResult> {
  const backend = await initBackend();
  const workers = o.workers ?? defaultTrainingWorkers(backend, o.batchSize);
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= o.batchSize)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `workers must be a whole number from 1 to the batch size (${o.batchSize} pairs), got ${workers}`);
  }
  const parallel = workers > 1 ? await parallelObjective(local, recipe, { data: o.data, workers, backend }) : undefined;
  try {
    o.onStart?.({ backend, workers });
    const objective: Objective | GradientObjective = parallel ?? local;
    const { steps, learningRate, weightDecay, clipNorm, lrDropAt, lrDropFactor, lrSchedule, warmupSteps, decayOnlyMatrices, emaDecay, checkpointEvery, resume, inputs, stopRequested, onProgress } = o;
    const loop = { steps, learningRate, weightDecay, clipNorm, lrDropAt, lrDropFactor, lrSchedule, warmupSteps, decayOnlyMatrices, emaDecay, checkpointEvery, resume, inputs, stopRequested, onProgress };
    const log = await trainLoop(objective, { ...loop, ...runFiles(o.output), label });
    const checkpoint = save();
    await writeCheckpoint(o.output, checkpoint);
    return { output: o.output, config: checkpoint.config, log, backend, workers };
  } finally {
    await parallel?.dispose();
  }
}

export interface TrainTrackerOptions extends RunOptions {
  /** The network to train from scratch, or a checkpoint to start from (its config wins). */
  config?: TrackerNetConfig;
  init?: string;
}

/** Trains a tracker (a teacher) with OSTrack's losses on generated clips; writes `o.output`. */
export async function trainTracker(o: TrainTrackerOptions): Promise<RunResult> {
  const start = o.init ? await readCheckpoint(o.init) : undefined;
  const config = start?.config ?? o.config;
  if (!config) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'trainTracker needs a network config or an init checkpoint');
  await initBackend();
  const net = start ? TrackerNet.fromWeights(config, start.weights, o.init!) : TrackerNet.random(config, o.data.seed);
  const local = teacherObjective(net, trainingPairs(config, o.data), o.batchSize, o.init);
  try {
    return await run('train', o, local, { kind: 'teacher', config, batchSize: o.batchSize }, () => ({ config, weights: net.weights() }));
  } finally {
    local.dispose();
    net.dispose();
  }
}

export interface CompressTrackerOptions extends RunOptions {
  /** The teacher checkpoint (frozen; never modified). */
  teacher: string;
  /** Called as the teacher tracks unlabeled footage (a 'footage' data source), per video. */
  onFootage?: (video: string, tracks: number) => void;
  /** Called as the teacher works through each input (see PseudoLabelOptions.onProgress). */
  onLabelling?: PseudoLabelOptions['onProgress'];
  /** Student geometry and method switches; batchSize, steps and seed come from the run options. */
  compress: Omit<CompressOptions, 'batchSize' | 'steps' | 'seed'>;
}

/**
 * Where decoded footage and the teacher's tracks are kept between runs: $CT_EDGE_CACHE, else
 * $XDG_CACHE_HOME/ct-edge, else ~/.cache/ct-edge. Runs share it (an entry is named by what made it:
 * the teacher and the footage, by content); deleting it only costs the next run the decoding.
 */
export function footageCacheDir(): string {
  return process.env.CT_EDGE_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ct-edge');
}

export interface TrackFootageOptions {
  /** Default footageCacheDir(). */
  cacheDir?: string;
  /** Called after each input with its track count. */
  onFootage?: (video: string, tracks: number) => void;
  /** Called as the teacher works through each input (see PseudoLabelOptions.onProgress). */
  onLabelling?: PseudoLabelOptions['onProgress'];
  /** Polled while the teacher labels: once true, labelling stops with ERR_STOPPED. */
  stopRequested?: () => boolean;
  /** Content hashes already taken (inputHashes' keys: 'teacher', 'data PATH'), so nothing is read twice. */
  hashes?: Record<string, string>;
}

/**
 * Unlabeled footage among the sources becomes the teacher's tracks (ts/train/data/pseudo-label.ts)
 * or decoded frames for random regions, cached under `cacheDir` (default footageCacheDir()) in a
 * folder per source named by the teacher's and the footage's content, and reused while both are
 * the same. Studies that compress one teacher many times track the footage once with this. Two
 * runs that label the same new footage at the same moment each label it.
 */
export async function trackFootage(data: TrainingDataOptions, teacher: Checkpoint, teacherPath: string, o: TrackFootageOptions = {}): Promise<TrainingDataOptions> {
  if (!data.sources?.some((s) => s.kind === 'footage')) return data;
  const dir = join(o.cacheDir ?? footageCacheDir(), 'footage');
  await mkdir(dir, { recursive: true });
  const hashOf = async (path: string, key: string) => o.hashes?.[key] ?? contentHash(path);
  const teacherId = await hashOf(teacherPath, 'teacher');
  // The teacher runs only for footage without reusable tracks (a resumed run usually has them all).
  let engine: Engine | undefined;
  const teacherEngine = async () => {
    if (!engine) {
      const onnx = join(dir, `teacher-${teacherId.slice(0, 16)}.onnx`);
      await writeTrackerOnnx(onnx, teacher.config, teacher.weights);
      engine = await Engine.load(onnx, { threads: 1 });
    }
    return engine;
  };
  try {
    const sources: DataSourceSpec[] = [];
    for (const spec of data.sources) {
      if (spec.kind !== 'footage') {
        sources.push(spec);
        continue;
      }
      // Reused only for the same footage, by content (a file rewritten in place is new footage), and for tracks the same teacher.
      const contents = await Promise.all(spec.inputs.map((input) => hashOf(input, `data ${input}`)));
      const entry = { kind: spec.regions ? 'regions' : 'tracks', ...(!spec.regions && { teacher: teacherId }), inputs: spec.inputs, contents, stills: spec.stills === true };
      const out = join(dir, createHash('sha256').update(JSON.stringify(entry)).digest('hex').slice(0, 24));
      const name = spec.stills ? `stills (${spec.inputs.length} images)` : spec.inputs.join(',');
      if (spec.regions) {
        sources.push({ kind: 'regions', weight: spec.weight, name, clips: await regionClips(spec.inputs, spec.stills === true, out) });
        continue;
      }
      const file = join(out, 'tracks.json');
      const settings = await tracksSettings(file);
      const reuse = settings?.teacher === teacherId && JSON.stringify(settings?.inputs) === JSON.stringify(spec.inputs) && JSON.stringify(settings?.contents) === JSON.stringify(contents) && (settings?.stills === true) === (spec.stills === true);
      sources.push({ kind: 'tracks', weight: spec.weight, name, file: reuse ? file : await pseudoLabel(spec.inputs, await teacherEngine(), out, { teacher: teacherId, contents, stills: spec.stills, onVideo: o.onFootage, onProgress: o.onLabelling, stopRequested: o.stopRequested }) });
    }
    return { ...data, sources };
  } finally {
    await engine?.dispose();
  }
}

/** sha256 of a file, or of a folder's files (names and contents, not recursive). */
async function contentHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  if ((await stat(path)).isDirectory()) {
    for (const name of (await readdir(path)).sort()) {
      const file = join(path, name);
      if ((await stat(file)).isFile()) hash.update(name).update(await contentHash(file));
    }
  } else {
    hash.update(await readFile(path));
  }
  return hash.digest('hex');
}

/** What a compression reads, by content: the teacher and every unlabeled input (see LoopOptions.inputs). */
async function inputHashes(teacherPath: string, data: TrainingDataOptions): Promise<Record<string, string>> {
  const hashes: Record<string, string> = { teacher: await contentHash(teacherPath) };
  for (const spec of data.sources ?? []) {
    if (spec.kind === 'footage') for (const input of spec.inputs) hashes[`data ${input}`] = await contentHash(input);
  }
  return hashes;
}

/** CompressTracker: compresses the teacher into a student; writes `o.output`. Returns the stages too. */
export async function compressTracker(o: CompressTrackerOptions): Promise<RunResult & { stages: readonly Stage[] }> {
  const checkpoint = await readCheckpoint(o.teacher);
  const { config, weights } = checkpoint;
  // The student's shape is checked before the teacher labels any footage (minutes on real video).
  divideStages(config.depth, o.compress.studentBlocks, o.compress.stages);
  studentConfig(config, o.compress);
  const inputs = await inputHashes(o.teacher, o.data);
  const data = await trackFootage(o.data, checkpoint, o.teacher, { onFootage: o.onFootage, onLabelling: o.onLabelling, stopRequested: o.stopRequested, hashes: inputs });
  await initBackend();
  const teacher = TrackerNet.fromWeights(config, weights, o.teacher);
  // Dense distillation on unlabeled pairs: the teacher's maps are the targets, a GT term would repeat its box.
  const groundTruth = !(o.compress.distill === 'dense' && hasUnlabeledData(data));
  const pairs = trainingPairs(config, data);
  const student = studentConfig(config, o.compress);
  const narrowStart = o.compress.narrowStart ?? 'stats';
  // A narrower student keeps the teacher channels with the most energy on the training crops (a
  // resumed run takes its weights from the checkpoint instead).
  const keep =
    isNarrower(student, config) && narrowStart === 'stats' && !o.resume
      ? await teacherChannelsOn(teacher, pairs, divideStages(config.depth, o.compress.studentBlocks, o.compress.stages), o.compress.init, student)
      : undefined;
  const options: CompressOptions = { ...o.compress, narrowStart, ...(keep && { keep }), groundTruth, batchSize: o.batchSize, steps: o.steps, seed: data.seed };
  const local = compressionObjective(teacher, pairs, options);
  try {
    const recipe = { kind: 'compress', teacher: { config, weights, source: o.teacher }, options } as const;
    const result = await run('compress', { ...o, data, inputs }, local, recipe, () => ({ config: local.student.config, weights: local.student.weights() }));
    return { ...result, stages: local.stages };
  } finally {
    local.dispose();
    teacher.dispose();
  }
}
