/**
 * The thread an onnxruntime Engine runs its network on. onnxruntime-node runs `session.run` on the
 * thread that calls it (its promise only defers the call with setImmediate), so an Engine that
 * called it on the main thread would hold the event loop for a whole inference per frame. Instead
 * each Engine owns a worker thread (./inference-worker.ts) that owns the onnxruntime session; a
 * Tracker's frame goes there as a message and comes back as the head's maps in shared memory.
 *
 * Frames already in shared memory (the sources of ct-edge deliver such frames) are read in place;
 * frames in ordinary memory have the part the crop reads copied into shared memory first
 * (Tracker: `placeSearch` + `copyRegion`). The head's maps come back in shared memory. The search
 * crop is written straight into the tensor onnxruntime reads (onnxruntime-node refuses shared
 * memory for inputs, so that tensor is the thread's own); the template is copied there once per
 * init().
 *
 * The worker keeps the process alive only while a request is in flight, as an idle onnxruntime
 * session would not either.
 */
import { Worker } from 'node:worker_threads';
import { CtEdgeError, type ErrorCode } from '../contract/errors.js';
import type { TensorSignature } from '../contract/model-config.js';
import type { Frame } from '../contract/types.js';
import type { CropNormalization, CropWindow } from './native.js';

/** What the main thread asks the inference thread. */
export type InferenceRequest =
  /** `templatePart`: a two-part model's template part, run once per init() (docs/MODEL_FORMAT.md). */
  | { op: 'load'; id: number; model: Uint8Array; threads: number | undefined; templatePart?: Uint8Array }
  | {
      op: 'bind';
      binding: number;
      /**
       * Float32Arrays over SharedArrayBuffers: the tracker's inputs (the thread copies them into
       * memory of its own, as onnxruntime-node does not take shared memory) and the head's maps
       * (score, size, offset in a row), which the thread writes.
       */
      template: Float32Array;
      search: Float32Array;
      maps: Float32Array;
      names: { template: string; search: string; score: string; size: string; offset: string };
      templateSize: number;
      searchSize: number;
      featureSize: number;
      norm: CropNormalization;
    }
  | {
      op: 'run';
      id: number;
      binding: number;
      /** Changes whenever the shared template tensor was written (init). */
      templateVersion: number;
      /** Crop the search region here (else the caller cropped into the shared search tensor). */
      crop: { frame: Frame; window: CropWindow } | undefined;
      /** Copy that crop into the shared search tensor too (Tracker.inputs). */
      mirrorSearch: boolean;
    }
  | {
      op: 'runGroup';
      id: number;
      /** The group (and batch of it) whose batched inputs stay resident on the thread. */
      group: string;
      /** Bound trackers, each cropped here into its item of the batch (the model takes a batch). */
      members: { binding: number; templateVersion: number; crop: { frame: Frame; window: CropWindow } }[];
    }
  | { op: 'ungroup'; group: string }
  | { op: 'unbind'; binding: number }
  | { op: 'release'; id: number };

export interface LoadedModel {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  /** ValueMetadata.type per output name ('float32', ...), where onnxruntime declares one. */
  outputTypes: Record<string, string>;
  /** A two-part model's template part: its input (the template crop) and the tensors it caches. */
  templatePart?: { inputs: TensorSignature[]; outputs: TensorSignature[] };
}

/** Stage times measured on the inference thread. */
export interface RunTimes {
  /** The search crop (0 when the caller cropped). */
  preprocessMs: number;
  inferenceMs: number;
}

export type InferenceReply = { id: number; ok: unknown } | { id: number; error: { code: string | undefined; message: string } };

/**
 * Starts the worker: the compiled .js beside this file, or, when this file runs as TypeScript
 * source through tsx (tests, tools), the .ts source behind tsx's loader, which worker threads do
 * not inherit from `--import tsx`.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./inference-worker.js', import.meta.url));
  const source = new URL('./inference-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(source)}); });`, { eval: true });
}

/** Where an onnxruntime Engine's requests are served: its own thread, or (inferenceThread: false) the calling one. */
export interface InferenceRunner {
  readonly alive: boolean;
  /** Sends a request and resolves with its answer (rejects with a CtEdgeError). */
  request<T>(message: InferenceRequest & { id: number }, transfer?: ArrayBuffer[]): Promise<T>;
  /** A message without an answer. */
  post(message: InferenceRequest): void;
  newBindingId(): number;
  /** Releases the session; requests still waiting reject with ERR_DISPOSED. */
  close(): Promise<void>;
}

/** A failure the core threw, as the CtEdgeError the engine's callers get (its code kept where it has one). */
function asCtEdgeError(error: unknown): CtEdgeError {
  if (error instanceof CtEdgeError) return error;
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' && e.code.startsWith('ERR_') ? (e.code as ErrorCode) : 'ERR_INTERNAL';
  return new CtEdgeError(code, String(e?.message ?? error));
}

export class InferenceThread implements InferenceRunner {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private nextBinding = 1;
  private dead: CtEdgeError | undefined;

  private constructor(private readonly what: string) {
    this.worker = startWorker();
    this.worker.unref();
    this.worker.on('message', (reply: InferenceReply) => this.settle(reply));
    this.worker.on('error', (error) => this.fail(new CtEdgeError('ERR_INTERNAL', `the inference thread of ${this.what} crashed: ${error.message}`, { cause: error })));
    this.worker.on('exit', (code) => this.fail(new CtEdgeError('ERR_DISPOSED', `the inference thread of ${this.what} has stopped (exit ${code}); load the model again`)));
  }

  /** Starts a thread and loads the model there; resolves with the model's tensors. */
  static async start(model: Uint8Array, threads: number | undefined, what: string, templatePart?: Uint8Array): Promise<{ thread: InferenceThread; model: LoadedModel }> {
    const thread = new InferenceThread(what);
    try {
      // The model's bytes move to the thread when they own their whole ArrayBuffer (no copy).
      const own = (m: Uint8Array) => m.byteOffset === 0 && m.byteLength === m.buffer.byteLength && m.buffer instanceof ArrayBuffer;
      const transfer = [model, templatePart].filter((m): m is Uint8Array => m !== undefined && own(m)).map((m) => m.buffer as ArrayBuffer);
      const loaded = await thread.request<LoadedModel>({ op: 'load', id: 0, model, threads, templatePart }, transfer);
      return { thread, model: loaded };
    } catch (error) {
      await thread.worker.terminate();
      throw error;
    }
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Sends a request and resolves with its answer; the worker keeps the process alive meanwhile. */
  request<T>(message: InferenceRequest & { id: number }, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    if (this.pending.size === 1) this.worker.ref();
    this.worker.postMessage({ ...message, id }, transfer);
    return answer;
  }

  /** A message without an answer. */
  post(message: InferenceRequest): void {
    if (!this.dead) this.worker.postMessage(message);
  }

  newBindingId(): number {
    return this.nextBinding++;
  }

  private settle(reply: InferenceReply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if ('error' in reply) {
      waiter.reject(asCtEdgeError(reply.error));
    } else {
      waiter.resolve(reply.ok);
    }
  }

  private fail(error: CtEdgeError): void {
    this.dead ??= error;
    for (const { reject } of this.pending.values()) reject(this.dead);
    this.pending.clear();
  }

  /** Releases the session and ends the thread; requests still waiting reject with ERR_DISPOSED. */
  async close(): Promise<void> {
    if (this.dead) return;
    await this.request({ op: 'release', id: 0 }).catch(() => undefined);
    this.dead = new CtEdgeError('ERR_DISPOSED', `the engine for ${this.what} was disposed; load it again`);
    await this.worker.terminate();
  }
}

/**
 * An Engine's network on the calling thread (EngineOptions.inferenceThread: false): the same core
 * as the inference thread's, called directly, one request at a time, in order. It saves the
 * hand-over to another thread (two messages and their wake-ups, 0.1-0.4 ms a frame on our 2-core
 * machine) and blocks the event loop for each inference.
 */
export class InlineInference implements InferenceRunner {
  private queue: Promise<unknown> = Promise.resolve();
  private nextBinding = 1;
  private dead: CtEdgeError | undefined;

  private constructor(
    private readonly what: string,
    private readonly serve: (m: InferenceRequest) => Promise<unknown>,
  ) {}

  static async start(model: Uint8Array, threads: number | undefined, what: string, templatePart?: Uint8Array): Promise<{ thread: InlineInference; model: LoadedModel }> {
    // Imported here: onnxruntime-node loads on the main thread only for engines that ask for it.
    const { createInferenceCore } = await import('./inference-core.js');
    const runner = new InlineInference(what, createInferenceCore());
    const loaded = await runner.request<LoadedModel>({ op: 'load', id: 0, model, threads, templatePart });
    return { thread: runner, model: loaded };
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  request<T>(message: InferenceRequest & { id: number }): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const answer = this.queue.then(() => this.serve(message)).catch((error: unknown) => {
      throw asCtEdgeError(error);
    });
    this.queue = answer.catch(() => undefined);
    return answer as Promise<T>;
  }

  post(message: InferenceRequest): void {
    if (!this.dead) void this.request({ ...message, id: 0 } as InferenceRequest & { id: number }).catch(() => undefined);
  }

  newBindingId(): number {
    return this.nextBinding++;
  }

  async close(): Promise<void> {
    if (this.dead) return;
    await this.request({ op: 'release', id: 0 }).catch(() => undefined);
    this.dead = new CtEdgeError('ERR_DISPOSED', `the engine for ${this.what} was disposed; load it again`);
  }
}
