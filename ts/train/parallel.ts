/**
 * Data-parallel training on worker threads, for teacher training and for compression. The wasm and
 * cpu backends compute on one core each, so on a machine with N cores one trainer uses 1/N of it.
 * Here each of N workers builds a replica of the objective from a recipe, samples its share of
 * every batch (the pairs a single-threaded run draws, split into contiguous parts) and returns
 * that share's gradients; this thread averages them and keeps the one authoritative copy of the
 * weights and the optimiser, so checkpoints and resume work as in a single-threaded run.
 *
 * As in PyTorch's DistributedDataParallel, BatchNorm sees each share's statistics and the focal
 * loss is normalised per share, so a run depends on its worker count; the run description records
 * it and a resume must use the same count.
 */
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendChoice } from './model/backend.js';
import type { TrackerNetConfig } from './model/config.js';
import type { WeightMap } from './model/params.js';
import { CtEdgeError, type ErrorCode } from '../contract/errors.js';
import type { CompressOptions } from './compress.js';
import type { TrainingDataOptions } from './data-source.js';
import type { GradientObjective, Objective, StepGradients } from './loop.js';
import type { BatchPart } from './objectives.js';

/** Where each state variable lives in the shared buffers (float32 offsets). */
export interface SlotLayout {
  name: string;
  shape: number[];
  offset: number;
  trainable: boolean;
}

/** How a worker builds its replica of the objective this thread trains. */
export type ObjectiveRecipe =
  /** teacherObjective (ts/train/objectives.ts) on a network of `config`. */
  | { kind: 'teacher'; config: TrackerNetConfig; batchSize: number }
  /** compressionObjective (ts/train/compress.ts) of this teacher; `source` names it in errors. */
  | { kind: 'compress'; teacher: { config: TrackerNetConfig; weights: WeightMap; source: string }; options: CompressOptions };

const batchSizeOf = (recipe: ObjectiveRecipe) => (recipe.kind === 'teacher' ? recipe.batchSize : recipe.options.batchSize);

/** What a gradient worker is started with (ts/train/gradient-worker.ts). */
export interface GradientWorkerInit {
  backend: BackendChoice;
  recipe: ObjectiveRecipe;
  data: TrainingDataOptions;
  batchSize: number;
  part: BatchPart;
  layout: SlotLayout[];
  /** Every state variable, written by this thread before each step. */
  weights: SharedArrayBuffer;
  /** Written by the worker: gradients in trainable slots, updated BatchNorm statistics in the others. */
  output: SharedArrayBuffer;
}

export type GradientWorkerReply =
  | { ready: true }
  | { step: number; terms: Record<string, number>; unused: string[]; info?: Record<string, number> }
  | { step?: number; error: { code: ErrorCode; message: string } };

/**
 * Workers a training or compression run uses by default: one per core for the single-threaded
 * backends (never a share under 2 pairs), one for TensorFlow's own backends, which use every core
 * already.
 */
export function defaultTrainingWorkers(backend: BackendChoice, batchSize: number): number {
  if (backend !== 'wasm' && backend !== 'cpu') return 1;
  return Math.max(1, Math.min(availableParallelism(), Math.floor(batchSize / 2)));
}

/** Contiguous, near-equal parts of a batch of `size`, one per worker. */
export function splitBatch(size: number, workers: number): BatchPart[] {
  return Array.from({ length: workers }, (_, i) => ({ from: Math.floor((i * size) / workers), to: Math.floor(((i + 1) * size) / workers) }));
}

/**
 * Starts a worker on a module of this package. Under tsx (tests, tools/) the module is TypeScript,
 * which Node 20 cannot start a worker on directly, so the worker registers tsx first.
 */
function startModuleWorker(file: string, workerData: unknown): Worker {
  const url = new URL(`./${file}${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  if (url.pathname.endsWith('.ts')) {
    const bootstrap = `import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${JSON.stringify(url.href)}))`;
    return new Worker(bootstrap, { eval: true, workerData });
  }
  return new Worker(url, { workerData });
}

/** One worker and the reply it owes. */
class GradientWorker {
  private pending?: { resolve: (reply: GradientWorkerReply) => void; reject: (error: Error) => void };
  private failure?: Error;
  private readonly worker: Worker;

  constructor(readonly index: number, init: GradientWorkerInit) {
    this.worker = startModuleWorker('gradient-worker', init);
    this.worker.on('message', (reply: GradientWorkerReply) => {
      const pending = this.pending;
      this.pending = undefined;
      if ('error' in reply) pending?.reject(new CtEdgeError(reply.error.code, `training worker ${index}: ${reply.error.message}`));
      else pending?.resolve(reply);
    });
    this.worker.on('error', (error) => this.fail(new CtEdgeError('ERR_INTERNAL', `training worker ${index} crashed: ${error.message}`)));
    this.worker.on('exit', (code) => this.fail(new CtEdgeError('ERR_INTERNAL', `training worker ${index} exited (code ${code})`)));
  }

  /** The next reply (the ready signal, or a step's result). */
  next(message?: { step: number }): Promise<GradientWorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      if (message) this.worker.postMessage(message);
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.pending?.reject(this.failure);
    this.pending = undefined;
  }

  async terminate(): Promise<void> {
    this.failure ??= new CtEdgeError('ERR_DISPOSED', `training worker ${this.index} was stopped`);
    await this.worker.terminate();
  }
}

export interface ParallelOptions {
  /** The data `local` samples from: each worker samples its part of the same batches. */
  data: TrainingDataOptions;
  workers: number;
  /** The backend each worker starts (the one this thread runs). */
  backend: BackendChoice;
}

export type ParallelObjective = GradientObjective & { readonly workers: number; dispose(): Promise<void> };

/**
 * `local` (this thread's objective, which owns the trained variables) with each batch split over
 * `o.workers` worker threads that build their replicas from `recipe`. Resolves once every worker
 * is ready; rejects (with the workers stopped) when one cannot start. `local` stays the caller's
 * to dispose.
 */
export async function parallelObjective(local: Objective, recipe: ObjectiveRecipe, o: ParallelOptions): Promise<ParallelObjective> {
  const batchSize = batchSizeOf(recipe);
  if (!(Number.isInteger(o.workers) && o.workers >= 1 && o.workers <= batchSize)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `workers must be an integer from 1 to the batch size (${batchSize}), got ${o.workers}`);
  }
  const layout: SlotLayout[] = [];
  let floats = 0;
  for (const [name, v] of local.state) {
    layout.push({ name, shape: [...v.shape], offset: floats, trainable: local.trainable.has(name) });
    floats += v.size;
  }
  const weights = new SharedArrayBuffer(floats * 4);
  const weightView = new Float32Array(weights);
  const parts = splitBatch(batchSize, o.workers);
  const outputs = parts.map(() => new SharedArrayBuffer(floats * 4));
  const workers = parts.map((part, i) => new GradientWorker(i, { backend: o.backend, recipe, data: o.data, batchSize, part, layout, weights, output: outputs[i] }));
  let stopped = false;
  const stop = async () => {
    stopped = true;
    await Promise.all(workers.map((w) => w.terminate()));
  };
  try {
    await Promise.all(workers.map((w) => w.next()));
  } catch (error) {
    await stop();
    throw error;
  }
  const shares = parts.map((p) => (p.to - p.from) / batchSize);
  const outputViews = outputs.map((b) => new Float32Array(b));
  /** The share-weighted mean of the workers' output slot `slot`. */
  const mean = (slot: SlotLayout): Float32Array => {
    const size = slot.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(size);
    outputViews.forEach((view, w) => {
      const from = view.subarray(slot.offset, slot.offset + size);
      for (let k = 0; k < size; k++) out[k] += shares[w] * from[k];
    });
    return out;
  };
  let lastInfo: { step: number; info?: Record<string, number> } | undefined;

  return {
    workers: o.workers,
    trainable: local.trainable,
    state: local.state,
    async gradients(step: number): Promise<StepGradients> {
      if (stopped) throw new CtEdgeError('ERR_DISPOSED', 'the training workers were stopped (dispose() ran)');
      for (const slot of layout) weightView.set(local.state.get(slot.name)!.dataSync() as Float32Array, slot.offset);
      const replies = (await Promise.all(workers.map((w) => w.next({ step })))).map((reply, w) => {
        if (!('terms' in reply) || reply.step !== step) throw new CtEdgeError('ERR_INTERNAL', `training worker ${w} answered out of turn`);
        return reply;
      });
      const terms: Record<string, number> = {};
      replies.forEach((reply, w) => {
        for (const [k, v] of Object.entries(reply.terms)) terms[k] = (terms[k] ?? 0) + shares[w] * v;
      });
      // Per-step draws (the replacement rate, ...) are the same in every replica.
      lastInfo = { step, info: replies[0].info };
      // As on one thread, a variable no replica used gets no gradient (so no update at all).
      const unused = new Set(replies[0].unused.filter((name) => replies.every((r) => r.unused.includes(name))));
      const grads: Record<string, tf.Tensor> = {};
      for (const slot of layout) {
        if (!slot.trainable) tf.tidy(() => local.state.get(slot.name)!.assign(tf.tensor(mean(slot), slot.shape)));
        else if (!unused.has(slot.name)) grads[slot.name] = tf.tensor(mean(slot), slot.shape);
      }
      return { terms, grads };
    },
    stepInfo: (step) => (lastInfo?.step === step ? lastInfo.info : undefined) ?? {},
    describe: () => ({ ...local.describe(), workers: o.workers }),
    dispose: stop,
  };
}
