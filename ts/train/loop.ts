/**
 * The training loop shared by teacher training and compression: AdamW, gradient clipping, a step
 * learning-rate drop, a progress callback, a JSON-lines log, a PNG of the curves, and checkpoints that
 * let `--resume` continue a killed run exactly where its last checkpoint left it.
 *
 * Exact resume rests on one rule for objectives: everything random in step t (the batch, the
 * replacement draws) is derived from (seed, t), never from state carried across steps. Then the
 * weights and optimiser moments at step t are all a run needs to go on.
 */
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { readSafetensors, writeSafetensors } from './checkpoint/safetensors.js';
import { RESUME_CHECKPOINT } from './checkpoint/checkpoint.js';
import type { WeightMap } from './model/params.js';
import { linePlotSvg } from '../deploy/eval/plot.js';
import { CtEdgeError } from '../contract/errors.js';
import { AdamW, clipGradNorm } from './adamw.js';

export type LossTerms = { total: tf.Scalar } & Record<string, tf.Scalar>;

interface ObjectiveBase {
  /** Variables the optimiser updates, by stable name. */
  readonly trainable: ReadonlyMap<string, tf.Variable>;
  /** Every variable a resume must restore (the trainable ones, BatchNorm statistics, ...). */
  readonly state: ReadonlyMap<string, tf.Variable>;
  /** What this run trains, stored in checkpoints; a resume must describe the same run. */
  describe(): Record<string, unknown>;
  /** Numbers about step `step` worth logging besides the losses (e.g. the replacement rate). */
  stepInfo?(step: number): Record<string, number>;
}

/** An objective computed on this thread: the loop differentiates losses(). */
export interface Objective extends ObjectiveBase {
  /** Loads what step `step` needs (its batch) before losses() runs. */
  prepare(step: number): Promise<void>;
  /** The loss terms of step `step`; `total` is minimised. Runs inside tf.variableGrads. */
  losses(step: number): LossTerms;
}

/** One step's loss values and the gradient of `total` for each trainable variable, by name. */
export interface StepGradients {
  terms: Record<string, number>;
  grads: Record<string, tf.Tensor>;
}

/** An objective whose gradients are computed elsewhere (worker threads, ts/train/parallel.ts). */
export interface GradientObjective extends ObjectiveBase {
  gradients(step: number): Promise<StepGradients>;
}

/** Step `step` of `objective`: its batch loaded, its losses and their gradients. */
export async function localGradients(objective: Objective, step: number): Promise<StepGradients> {
  await objective.prepare(step);
  let terms: Record<string, number> = {};
  const names = new Map([...objective.trainable].map(([name, v]) => [v.name, name]));
  const { grads } = tf.variableGrads(() => {
    const l = objective.losses(step);
    terms = Object.fromEntries(Object.entries(l).map(([k, v]) => [k, v.dataSync()[0]]));
    return l.total;
  }, [...objective.trainable.values()]);
  const named: Record<string, tf.Tensor> = {};
  for (const [varName, g] of Object.entries(grads)) named[names.get(varName)!] = g;
  return { terms, grads: named };
}

export interface LoopOptions {
  steps: number;
  learningRate: number;
  weightDecay: number;
  /** Global gradient norm limit (OSTrack: 0.1). */
  clipNorm: number;
  /** Fraction of the steps after which the learning rate is multiplied by `lrDropFactor` ('step' schedule). */
  lrDropAt: number;
  lrDropFactor: number;
  /**
   * 'step' (OSTrack's, the default): constant, x lrDropFactor after lrDropAt. 'cosine': linear
   * warm-up over `warmupSteps`, then cosine decay to 0 at the last step.
   */
  lrSchedule?: 'step' | 'cosine';
  warmupSteps?: number;
  /** No weight decay on 1-D tensors (norms, biases) and position embeddings (default false: decay all). */
  decayOnlyMatrices?: boolean;
  /**
   * Exponential moving average of the trainable weights with this decay (e.g. 0.999; default none).
   * The EMA is kept in the resume checkpoint and, at the end, becomes the network's weights.
   */
  emaDecay?: number;
  checkpointEvery: number;
  /** Resume checkpoint, JSON-lines log and curves image paths. */
  checkpointPath: string;
  logPath: string;
  plotPath: string;
  resume: boolean;
  /**
   * Content hashes of what the run reads (the teacher's file, each data file), by what they are.
   * Kept in the resume checkpoint; a resume whose inputs hash otherwise is refused, naming them.
   */
  inputs?: Record<string, string>;
  /**
   * Polled before and after every step: once true, the loop writes a resume checkpoint of the last
   * finished step and stops with ERR_STOPPED (Ctrl-C in the CLI).
   */
  stopRequested?: () => boolean;
  /** Title of the curves image. */
  label: string;
  /** Called after every step (and once at the start, with the step the run starts from). */
  onProgress?: (progress: TrainProgress) => void;
}

/** Where a run stands: `entry` is the step just finished (absent at the start). */
export interface TrainProgress {
  step: number;
  steps: number;
  entry?: LogEntry;
}

export interface LogEntry {
  step: number;
  lr: number;
  gradNorm: number;
  ms: number;
  losses: Record<string, number>;
  info?: Record<string, number>;
}

const { step: META_STEP, run: META_RUN, state: STATE, optim: OPTIM, ema: EMA } = RESUME_CHECKPOINT;

export function learningRateAt(step: number, o: Pick<LoopOptions, 'steps' | 'learningRate' | 'lrDropAt' | 'lrDropFactor' | 'lrSchedule' | 'warmupSteps'>): number {
  if (o.lrSchedule === 'cosine') {
    const warmup = o.warmupSteps ?? 0;
    if (step <= warmup) return (o.learningRate * step) / warmup;
    return 0.5 * o.learningRate * (1 + Math.cos((Math.PI * (step - warmup)) / Math.max(1, o.steps - warmup)));
  }
  return step > Math.floor(o.steps * o.lrDropAt) ? o.learningRate * o.lrDropFactor : o.learningRate;
}

/** Whether weight decay applies to a parameter (by name) under `o`. */
export function decays(name: string, shape: readonly number[], o: Pick<LoopOptions, 'decayOnlyMatrices'>): boolean {
  return !o.decayOnlyMatrices || (shape.length > 1 && !name.startsWith('pos_embed'));
}

function runDescription(objective: Objective | GradientObjective, o: LoopOptions): string {
  const { steps, learningRate, weightDecay, clipNorm, lrDropAt, lrDropFactor } = o;
  // the newer settings only where set, so runs from before them resume
  const extra = { lrSchedule: o.lrSchedule, warmupSteps: o.warmupSteps, decayOnlyMatrices: o.decayOnlyMatrices, emaDecay: o.emaDecay };
  const set = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined && v !== false && v !== 'step'));
  return JSON.stringify({ objective: objective.describe(), steps, learningRate, weightDecay, clipNorm, lrDropAt, lrDropFactor, ...set });
}

/** Where two run descriptions (JSON) differ: 'steps: 3000 in the checkpoint, 6000 now', at most `limit` of them. */
export function describeDifferences(stored: string, current: string, limit = 4): string {
  const differences: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      return;
    }
    const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v).slice(0, 80));
    differences.push(`${path || 'the run'}: ${show(a)} in the checkpoint, ${show(b)} now`);
  };
  let parsed: [unknown, unknown];
  try {
    parsed = [JSON.parse(stored), JSON.parse(current)];
  } catch {
    return 'the checkpoint holds no readable run description';
  }
  walk(parsed[0], parsed[1], '');
  return differences.length > limit ? `${differences.slice(0, limit).join('; ')}; and ${differences.length - limit} more` : differences.join('; ');
}

async function saveCheckpoint(path: string, step: number, run: string, objective: Objective | GradientObjective, optimizer: AdamW, ema: ReadonlyMap<string, tf.Variable>, inputs: Record<string, string> | undefined): Promise<void> {
  const tensors: WeightMap = new Map();
  const put = (name: string, t: tf.Tensor) => tensors.set(name, { data: t.dataSync() as Float32Array, shape: t.shape });
  for (const [name, v] of objective.state) put(STATE + name, v);
  for (const [name, v] of ema) put(EMA + name, v);
  for (const [name, t] of Object.entries(optimizer.stateTensors())) put(OPTIM + name, t);
  await writeSafetensors(path, tensors, { metadata: { [META_STEP]: String(step), [META_RUN]: run, ...(inputs && { [RESUME_CHECKPOINT.inputs]: JSON.stringify(inputs) }) } });
}

/**
 * A run description as resumes compare it. Sources the footage cache makes (random regions, the
 * teacher's tracks) count by kind, share and frames, not by where the cache kept them: their
 * content is checked apart (LoopOptions.inputs), and runs written before the shared cache named
 * cache paths. `length: false` also leaves out the run's length (--steps, and the warm-up that
 * defaults to a share of it). Undefined when the text is no description.
 */
function comparableRun(text: string, length = true): string | undefined {
  let run: Record<string, any>;
  try {
    run = JSON.parse(text) as Record<string, any>;
  } catch {
    return undefined;
  }
  const data = run?.objective?.data;
  if (Array.isArray(data?.sources)) {
    data.sources = data.sources.map((s: Record<string, any>) => {
      if (s.kind === 'regions') return { kind: s.kind, weight: s.weight, frames: s.frames ?? (s.clips as string[][]).reduce((n, c) => n + c.length, 0) };
      if (s.kind === 'tracks') return { kind: s.kind, weight: s.weight };
      return s;
    });
  }
  if (!length) {
    delete run.steps;
    delete run.warmupSteps;
  }
  return JSON.stringify(run);
}

async function loadCheckpoint(path: string, run: string, steps: number, objective: Objective | GradientObjective, optimizer: AdamW, ema: ReadonlyMap<string, tf.Variable>, inputs: Record<string, string> | undefined): Promise<number> {
  const { tensors, metadata } = await readSafetensors(path);
  const step = Number(metadata[META_STEP]);
  const storedRun = metadata[META_RUN] ?? '';
  const same = comparableRun(storedRun) !== undefined && comparableRun(storedRun) === comparableRun(run);
  const longer = comparableRun(storedRun, false) !== undefined && comparableRun(storedRun, false) === comparableRun(run, false);
  if (!same && !longer) {
    throw new CtEdgeError(
      'ERR_CHECKPOINT',
      `${path} was written by a run with other options (${describeDifferences(comparableRun(storedRun) ?? storedRun, comparableRun(run) ?? run)}); ` +
        'resume with the same options, or delete it to start over',
    );
  }
  if (!same && !(steps > step)) {
    throw new CtEdgeError('ERR_CHECKPOINT', `${path} holds step ${step}; a resumed run with other --steps must go beyond it (--steps ${step + 1} or more), or resume with the run's own --steps`);
  }
  // Checkpoints from before input hashes were kept have none, and resume as before.
  const stored = metadata[RESUME_CHECKPOINT.inputs] === undefined ? undefined : (JSON.parse(metadata[RESUME_CHECKPOINT.inputs]) as Record<string, string>);
  if (stored && inputs) {
    const changed = Object.keys({ ...stored, ...inputs }).filter((k) => stored[k] !== inputs[k]);
    if (changed.length > 0) {
      throw new CtEdgeError('ERR_CHECKPOINT', `${path} was written by a run on other inputs: ${changed.slice(0, 4).join(', ')}${changed.length > 4 ? ` and ${changed.length - 4} more` : ''} changed since (content differs); resume with the same files, or delete it to start over`);
    }
  }
  for (const [name, v] of objective.state) {
    const t = tensors.get(STATE + name);
    if (!t || t.shape.join() !== v.shape.join()) throw new CtEdgeError('ERR_CHECKPOINT', `${path} lacks a usable '${name}'`);
    v.assign(tf.tensor(t.data, t.shape));
  }
  for (const [name, v] of ema) {
    const t = tensors.get(EMA + name);
    if (!t) throw new CtEdgeError('ERR_CHECKPOINT', `${path} lacks the moving average of '${name}'`);
    v.assign(tf.tensor(t.data, t.shape));
  }
  const moments: Record<string, tf.Tensor> = {};
  for (const [name, t] of tensors) if (name.startsWith(OPTIM)) moments[name.slice(OPTIM.length)] = tf.tensor(t.data, t.shape);
  optimizer.loadState(step, moments);
  for (const t of Object.values(moments)) t.dispose();
  return step;
}

/** Log entries up to `step` (a killed run may have logged steps after its last checkpoint). */
async function readLog(path: string, upTo: number): Promise<LogEntry[]> {
  if (!existsSync(path)) return [];
  const entries: LogEntry[] = [];
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    try {
      const e = JSON.parse(line) as LogEntry;
      if (e.step <= upTo) entries.push(e);
    } catch {
      // a line cut short by a kill
    }
  }
  return entries;
}

/** Training curves as PNG: each loss term (moving average over 1/50 of the run) against the step. */
export async function plotCurves(path: string, title: string, log: readonly LogEntry[]): Promise<void> {
  if (log.length < 2) return;
  const names = Object.keys(log[0].losses);
  const window = Math.max(1, Math.round(log.length / 50));
  const smooth = (ys: number[]) => ys.map((_, i) => {
    const part = ys.slice(Math.max(0, i - window + 1), i + 1);
    return part.reduce((a, b) => a + b, 0) / part.length;
  });
  const series = names.map((name) => ({ label: name, x: log.map((e) => e.step), y: smooth(log.map((e) => e.losses[name])) }));
  const top = Math.max(...series.flatMap((s) => s.y).filter(Number.isFinite));
  const yMax = top > 0 ? Number((top * 1.05).toPrecision(2)) : 1;
  const xMax = log[log.length - 1].step;
  const svg = linePlotSvg({
    title,
    xLabel: 'step',
    yLabel: `loss (moving average of ${window})`,
    xRange: [0, xMax],
    yRange: [0, yMax],
    xStep: niceStep(xMax),
    yStep: niceStep(yMax),
    series,
    legend: 'upper-right',
  });
  await sharp(Buffer.from(svg), { density: 144 }).png().toFile(path);
}

function niceStep(range: number): number {
  const raw = range / 8;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
}

/** Runs (or resumes) the loop; returns the log of every step. */
export async function trainLoop(objective: Objective | GradientObjective, o: LoopOptions): Promise<LogEntry[]> {
  if (!(o.steps > 0) || !(o.checkpointEvery > 0)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'steps and checkpoint interval must be positive');
  const optimizer = new AdamW({ learningRate: o.learningRate, weightDecay: o.weightDecay, decays: (name, shape) => decays(name, shape, o) });
  const ema = new Map(o.emaDecay ? [...objective.trainable].map(([name, v]) => [name, tf.variable(v, false)] as const) : []);
  const run = runDescription(objective, o);
  let start = 0;
  if (o.resume && existsSync(o.checkpointPath)) {
    start = await loadCheckpoint(o.checkpointPath, run, o.steps, objective, optimizer, ema, o.inputs);
  } else if (o.resume) {
    throw new CtEdgeError('ERR_CHECKPOINT', `nothing to resume: ${o.checkpointPath} does not exist`);
  } else {
    await rm(o.logPath, { force: true });
  }
  const log = await readLog(o.logPath, start);
  await writeFile(o.logPath, log.map((e) => JSON.stringify(e) + '\n').join(''));

  const params = Object.fromEntries(objective.trainable);
  o.onProgress?.({ step: start, steps: o.steps });
  try {
    let saved = start;
    const stopHere = async (done: number) => {
      if (done > saved) {
        await saveCheckpoint(o.checkpointPath, done, run, objective, optimizer, ema, o.inputs);
        await plotCurves(o.plotPath, o.label, log);
      }
      const where = done > start ? `the checkpoint ${o.checkpointPath} holds step ${done}` : 'no step was taken';
      throw new CtEdgeError('ERR_STOPPED', `stopped at step ${done} of ${o.steps} (${where}): rerun the same command with --resume to go on`);
    };
    for (let step = start + 1; step <= o.steps; step++) {
      if (o.stopRequested?.()) await stopHere(step - 1);
      const t0 = performance.now();
      const { terms, grads: named } = 'gradients' in objective ? await objective.gradients(step) : await localGradients(objective, step);
      if (!Object.values(terms).every(Number.isFinite)) {
        tf.dispose(Object.values(named));
        throw new CtEdgeError('ERR_TRAINING_DIVERGED', `step ${step}: the loss is not finite (${JSON.stringify(terms)}); lower the learning rate (--lr) and start again`);
      }
      const gradNorm = clipGradNorm(named, o.clipNorm);
      optimizer.learningRate = learningRateAt(step, o);
      optimizer.apply(params, named);
      tf.dispose(Object.values(named));
      if (o.emaDecay) {
        // Bias-corrected as timm's ModelEmaV2 warm-up: early on the average follows the weights closely.
        const d = Math.min(o.emaDecay, (1 + step) / (10 + step));
        tf.tidy(() => {
          for (const [name, v] of ema) v.assign(tf.add(tf.mul(v, d), tf.mul(params[name], 1 - d)));
        });
      }
      const entry: LogEntry = { step, lr: optimizer.learningRate, gradNorm, ms: performance.now() - t0, losses: terms, info: objective.stepInfo?.(step) };
      log.push(entry);
      await appendFile(o.logPath, JSON.stringify(entry) + '\n');
      o.onProgress?.({ step, steps: o.steps, entry });
      if (step % o.checkpointEvery === 0 || step === o.steps) {
        await saveCheckpoint(o.checkpointPath, step, run, objective, optimizer, ema, o.inputs);
        await plotCurves(o.plotPath, o.label, log);
        saved = step;
      }
      if (o.stopRequested?.() && step < o.steps) await stopHere(step);
    }
    for (const [name, v] of ema) params[name].assign(v); // the network the run hands back is the average
  } finally {
    optimizer.dispose();
    for (const v of ema.values()) v.dispose();
  }
  return log;
}
