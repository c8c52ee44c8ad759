/**
 * An Engine is a loaded model plus the backend that runs it. Load it once, share it between
 * trackers. The file picks the backend: `.onnx` runs on onnxruntime on the CPU (every machine),
 * on a worker thread the engine owns (inference-thread.ts), `.engine`/`.plan` on TensorRT (addons
 * built by cmake-js with CUDA and TensorRT; see tensorrt.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { extname, resolve } from 'node:path';
import { readOnnxMetadata } from '../contract/onnx-reader.js';
import { CtEdgeError, fromNative, native } from '../contract/errors.js';
import { fileKindOf, wrongKindHint } from '../contract/file-kind.js';
import { optionsFromMetadata, resolveModelConfig, TWO_PART_METADATA, type ModelConfig, type ModelOptions } from '../contract/model-config.js';
import type { Frame } from '../contract/types.js';
import { InferenceThread, InlineInference, type InferenceRunner, type LoadedModel, type RunTimes } from './inference-thread.js';
import type { CropWindow, TrtEngine, TrtGroup, TrtTracker, TrtTrackerConfig } from './native.js';
import { loadTensorRtEngine, tensorRtBinding, type TensorRtBackend } from './tensorrt.js';
import { checkTemplatePart, twoPartTemplatePath } from './two-part.js';

export interface EngineOptions extends ModelOptions {
  /**
   * onnxruntime intra-op threads, a whole number from 1 to the cores present (default:
   * onnxruntime's choice, one per core); TensorRT ignores it. Anything else is ERR_THREADS.
   */
  threads?: number;
  /**
   * onnxruntime: run the network on the engine's own worker thread (default true), so that track()
   * never blocks the event loop for an inference. false runs it on the calling thread: it saves
   * the hand-over (0.1-0.4 ms a frame on our 2-core machine; docs/BENCHMARKS.md) and blocks the
   * event loop for each inference, which suits a process that only tracks (the CLI's loops).
   */
  inferenceThread?: boolean;
}

export interface HeadOutputs {
  score: Float32Array;
  size: Float32Array;
  offset: Float32Array;
}

/** Input tensors bound once per tracker, run once per frame. */
export interface InferenceBinding {
  run(): Promise<HeadOutputs>;
}

/**
 * @internal A tracker's tensors bound on the engine's inference thread (Tracker's way in): the
 * maps are views into shared memory, overwritten by the next run.
 */
export interface SharedBinding {
  /** The binding's id on the inference thread (a group's runs name their members by it). */
  readonly id: number;
  readonly maps: HeadOutputs;
  /**
   * Runs the network. `templateVersion` changes whenever the template tensor was written. With
   * `crop`, crops `crop.frame` (shared memory) on the thread, else reads the search tensor as it is;
   * `mirrorSearch` copies the thread's crop back into the shared search tensor.
   */
  run(templateVersion: number, crop?: { frame: Frame; window: CropWindow }, mirrorSearch?: boolean): Promise<RunTimes>;
  release(): void;
}

/** A Float32Array of `length` values over a SharedArrayBuffer. */
export function sharedFloats(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * length));
}

const isShared = (a: Float32Array) => a.buffer instanceof SharedArrayBuffer;

function checkTensor(t: unknown, side: number, what: string): void {
  if (!(t instanceof Float32Array) || t.length !== 3 * side * side) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `the ${what} tensor must be a Float32Array of 3 x ${side} x ${side} = ${3 * side * side} values (NCHW), got ${t instanceof Float32Array ? `${t.length} values` : typeof t}`);
  }
}

/** The `threads` option, checked against the cores present. */
function checkThreads(threads: unknown): number | undefined {
  if (threads === undefined) return undefined;
  const cores = availableParallelism();
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > cores) {
    throw new CtEdgeError(
      'ERR_THREADS',
      `threads must be a whole number from 1 to ${cores} (the cores present), got ${typeof threads === 'string' ? `'${threads}'` : String(threads)}; leave it out for onnxruntime's default (one per core)`,
    );
  }
  return threads;
}

/**
 * The types of the model options given to Engine.load (what they mean is checked against the model
 * by resolveModelConfig): a typed error here instead of a TypeError deeper down.
 */
function checkModelOptionTypes(options: EngineOptions): void {
  const bad = (key: string, want: string, value: unknown) =>
    new CtEdgeError('ERR_INVALID_ARGUMENT', `Engine.load option ${key} must be ${want}, got ${typeof value === 'string' ? `'${value}'` : value === null ? 'null' : typeof value === 'number' ? String(value) : typeof value}`);
  for (const key of ['templateSize', 'searchSize', 'featureSize'] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 16384)) throw bad(key, 'a whole number from 1 to 16384', v);
  }
  for (const key of ['templateFactor', 'searchFactor', 'lostThreshold'] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && (key === 'lostThreshold' || v > 0))) throw bad(key, key === 'lostThreshold' ? 'a finite number' : 'a positive number', v);
  }
  for (const key of ['mean', 'std'] as const) {
    const v = options[key] as unknown;
    if (v !== undefined && !(Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x)))) throw bad(key, 'three finite numbers [R, G, B]', v);
  }
  for (const key of ['channelOrder', 'boxMapping'] as const) {
    const v = options[key] as unknown;
    if (v !== undefined && typeof v !== 'string') throw bad(key, 'a string', v);
  }
  for (const key of ['inputs', 'outputs'] as const) {
    const v = options[key] as unknown;
    if (v === undefined) continue;
    if (v === null || typeof v !== 'object' || Object.values(v).some((name) => typeof name !== 'string')) throw bad(key, 'an object of tensor names (strings)', v);
  }
}

/** Output shapes the model declares must be those of the contract: [1,1,F,F] score, [1,2,F,F] size and offset. */
function checkDeclaredOutputs(path: string, config: ModelConfig, model: LoadedModel): void {
  const F = config.featureSize;
  const roles: [string, string, number][] = [
    ['score map', config.outputs.score, 1],
    ['size map', config.outputs.size, 2],
    ['offset map', config.outputs.offset, 2],
  ];
  for (const [role, name, channels] of roles) {
    const shape = model.outputs.find((o) => o.name === name)?.shape ?? [];
    const want = [1, channels, F, F];
    const type = model.outputTypes[name];
    const fits = shape.length === 4 && shape.every((d, i) => typeof d !== 'number' || d === want[i]);
    if (!fits || (type !== undefined && type !== 'float32')) {
      throw new CtEdgeError(
        'ERR_MODEL_IO',
        `${path}: output '${name}' (the ${role}) is declared ${type ?? ''} [${shape.join(',')}], but the tracker needs float32 [${want.join(',')}] ` +
          `(feature map ${F}x${F}). Check the output names (--outputs score=...,size=...,offset=...) or re-export the model.`,
      );
    }
  }
}

/** `tensorrt-fp16`/`-fp32`: the precision recorded when the engine was built (see TensorRtBackend). */
export type EngineBackend = 'onnxruntime-cpu' | TensorRtBackend;

export class Engine {
  private thread: InferenceRunner | undefined;
  private trt: TrtEngine | undefined;
  /** A two-part model's template engine, run by each tracker once per init. */
  private trtTemplate: TrtEngine | undefined;
  /** TensorRT groups' batched networks, by group name (runGpuGroup), or why one could not be made. */
  private readonly gpuGroups = new Map<string, TrtGroup | Error>();
  private groupsMade = 0;

  private constructor(
    readonly path: string,
    readonly config: ModelConfig,
    runtime: { thread: InferenceRunner } | { trt: TrtEngine; trtTemplate: TrtEngine | undefined },
    /** Which backend runs the network. */
    readonly backend: EngineBackend,
  ) {
    if ('thread' in runtime) {
      this.thread = runtime.thread;
    } else {
      this.trt = runtime.trt;
      this.trtTemplate = runtime.trtTemplate;
    }
  }

  static async load(path: string, options: EngineOptions = {}): Promise<Engine> {
    if (typeof path !== 'string' || path === '') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `Engine.load needs the model's path (a string), got ${typeof path}`);
    if (options === null || typeof options !== 'object') {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `Engine.load options must be an object (EngineOptions) or left out, got ${options === null ? 'null' : typeof options}`);
    }
    const threads = checkThreads(options.threads);
    checkModelOptionTypes(options);
    if (options.inferenceThread !== undefined && typeof options.inferenceThread !== 'boolean') {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `Engine.load option inferenceThread must be true or false, got ${typeof options.inferenceThread === 'string' ? `'${options.inferenceThread}'` : typeof options.inferenceThread}`);
    }
    const fullPath = resolve(path);
    const info = await stat(fullPath).catch(() => undefined);
    if (info?.isDirectory()) {
      throw new CtEdgeError('ERR_MODEL_NOT_FOUND', `${fullPath} is a directory, not a model file; give the .onnx (or .engine) file inside it.`);
    }
    if (!info?.isFile()) {
      throw new CtEdgeError('ERR_MODEL_NOT_FOUND', `model file not found: ${fullPath}. Check the path, or export one with \`ct-edge export\`.`);
    }
    const ext = extname(fullPath).toLowerCase();
    if (ext === '.engine' || ext === '.plan') {
      const { handle, templateHandle, config, backend } = await loadTensorRtEngine(fullPath, options);
      return new Engine(fullPath, config, { trt: handle, trtTemplate: templateHandle }, backend);
    }
    const bytes = await readFile(fullPath);
    let metadata: ModelOptions;
    let raw: Record<string, string>;
    try {
      raw = readOnnxMetadata(bytes);
      metadata = optionsFromMetadata(raw);
    } catch (error) {
      if (error instanceof CtEdgeError && error.code === 'ERR_INVALID_ARGUMENT') throw error;
      const hint = wrongKindHint(fileKindOf(bytes.subarray(0, 16)), 'onnx', path);
      throw new CtEdgeError('ERR_MODEL_INVALID', hint ?? `${fullPath} is not a readable ONNX model (${(error as Error).message}). Is the file complete? Export or download it again.`, {
        cause: error,
      });
    }
    const templatePartPath = twoPartTemplatePath(fullPath, raw[TWO_PART_METADATA.part], raw[TWO_PART_METADATA.templatePart]);
    const templatePart = templatePartPath === undefined ? undefined : await readFile(templatePartPath);
    // The session lives on a thread of its own, so that inference never blocks the event loop (or,
    // asked for, on this one).
    const runner = options.inferenceThread === false ? InlineInference : InferenceThread;
    const { thread, model } = await runner.start(bytes, threads, fullPath, templatePart).catch((error: unknown) => {
      if (error instanceof CtEdgeError && error.code === 'ERR_MODEL_INVALID') {
        throw new CtEdgeError('ERR_MODEL_INVALID', `${fullPath}: ${error.message}`, { cause: error });
      }
      throw error;
    });
    try {
      const inputs = model.templatePart ? [...model.inputs, ...model.templatePart.inputs] : model.inputs;
      const config = resolveModelConfig({ inputs, outputs: model.outputs }, metadata, options);
      checkDeclaredOutputs(fullPath, config, model);
      if (model.templatePart) checkTemplatePart(fullPath, templatePartPath!, config.inputs.search, model.inputs, model.templatePart);
      return new Engine(fullPath, config, { thread }, 'onnxruntime-cpu');
    } catch (error) {
      await thread.close();
      throw error;
    }
  }

  private live(): InferenceRunner {
    if (!this.thread?.alive) throw new CtEdgeError('ERR_DISPOSED', `the engine for ${this.path} was disposed; load it again`);
    return this.thread;
  }

  private onnxOnly(what: string): InferenceRunner {
    if (this.trt) {
      throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `${this.path} runs on TensorRT, whose inputs stay on the GPU; ${what} is for onnxruntime. Use a Tracker.`);
    }
    return this.live();
  }

  /**
   * @internal Binds a tracker's float32 input tensors, in shared memory (see sharedFloats), on the
   * engine's inference thread. onnxruntime only.
   */
  bindShared(template: Float32Array, search: Float32Array): SharedBinding {
    const thread = this.onnxOnly('bindShared()');
    if (!isShared(template) || !isShared(search)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'bindShared() takes tensors in shared memory (sharedFloats)');
    const { config } = this;
    checkTensor(template, config.templateSize, 'template');
    checkTensor(search, config.searchSize, 'search');
    const cells = config.featureSize * config.featureSize;
    const all = sharedFloats(5 * cells);
    const maps = { score: all.subarray(0, cells), size: all.subarray(cells, 3 * cells), offset: all.subarray(3 * cells) };
    const binding = thread.newBindingId();
    thread.post({
      op: 'bind',
      binding,
      template,
      search,
      maps: all,
      names: { ...config.inputs, ...config.outputs },
      templateSize: config.templateSize,
      searchSize: config.searchSize,
      featureSize: config.featureSize,
      norm: { mean: config.mean, std: config.std, channelOrder: config.channelOrder },
    });
    let released = false;
    return {
      id: binding,
      maps,
      run: (templateVersion, crop, mirrorSearch = false) => {
        if (released) return Promise.reject(new CtEdgeError('ERR_DISPOSED', 'this tracker was disposed; create a new one'));
        return this.live().request<RunTimes>({ op: 'run', id: 0, binding, templateVersion, crop, mirrorSearch });
      },
      release: () => {
        if (!released) thread.post({ op: 'unbind', binding });
        released = true;
      },
    };
  }

  /**
   * The most targets one inference takes: unbounded (Infinity) for a model with a symbolic batch on
   * onnxruntime; on TensorRT the engine's profile (`build-engine --max-batch N`); else 1 (a model
   * with batch 1 baked in). A TrackerGroup batches its targets up to this and runs the rest in
   * further batches.
   */
  /** @internal Whether this is a two-part model's pair of TensorRT engines (one target per enqueue). */
  get twoPartOnGpu(): boolean {
    return this.trtTemplate !== undefined;
  }

  get maxBatch(): number {
    // A two-part model's engines run one target per enqueue (each tracker caches its own template).
    if (this.trt) return this.config.batch === 'dynamic' && !this.trtTemplate ? this.trt.maxBatch : 1;
    return this.thread && this.config.batch === 'dynamic' ? Number.POSITIVE_INFINITY : 1;
  }

  /**
   * @internal TrackerGroup's way in: one inference for trackers bound on this engine, each
   * cropped on the inference thread into its item of one batched input. `group` names the batched
   * inputs kept resident on the thread between runs (releaseGroup() frees them).
   */
  runGroup(group: string, members: { binding: SharedBinding; templateVersion: number; crop: { frame: Frame; window: CropWindow } }[]): Promise<RunTimes> {
    const thread = this.onnxOnly('runGroup()');
    if (this.maxBatch < members.length) throw new CtEdgeError('ERR_INTERNAL', `runGroup: ${members.length} targets in one batch, the model takes ${this.maxBatch}`);
    return thread.request<RunTimes>({
      op: 'runGroup',
      id: 0,
      group,
      members: members.map((m) => ({ binding: m.binding.id, templateVersion: m.templateVersion, crop: m.crop })),
    });
  }

  /**
   * @internal TrackerGroup's way in on TensorRT: one crop launch and one enqueue for up to maxBatch
   * targets of `frame` (read before this returns). `group` names the TrtGroup kept between runs
   * (its batched inputs, execution context and staging; releaseGroup() frees them).
   */
  runGpuGroup(
    group: string,
    config: TrtTrackerConfig & { maxBatch: number },
    frame: Frame,
    members: { window: CropWindow; template: Float32Array; templateId: number }[],
  ): ReturnType<TrtGroup['run']> {
    const handle = this.trt;
    if (!handle) throw new CtEdgeError('ERR_DISPOSED', `the engine for ${this.path} was disposed; load it again`);
    let runner = this.gpuGroups.get(group);
    if (runner instanceof Error) throw runner; // its native group could not be made: not again each frame
    if (!runner) {
      const { TrtGroup } = tensorRtBinding(`${this.path} is a TensorRT engine`);
      try {
        runner = native(() => new TrtGroup(handle, config));
      } catch (error) {
        this.gpuGroups.set(group, error as Error);
        throw error;
      }
      this.gpuGroups.set(group, runner);
    }
    const gpu = runner;
    return native(() => gpu.run(frame, members)).catch((error: unknown) => fromNative(error));
  }

  /** @internal Frees a group's resident batched inputs (runGroup, runGpuGroup). */
  releaseGroup(group: string): void {
    this.thread?.post({ op: 'ungroup', group });
    const runner = this.gpuGroups.get(group);
    if (runner && !(runner instanceof Error)) runner.dispose();
    this.gpuGroups.delete(group);
  }

  /** @internal A name for a group's batched inputs, unique on this engine. */
  newGroupName(): string {
    if (this.disposed) throw new CtEdgeError('ERR_DISPOSED', `the engine for ${this.path} was disposed; load it again`);
    return `group-${++this.groupsMade}`;
  }

  /**
   * Binds float32 input tensors to the network; each run() reads them as they are then and
   * resolves with fresh output arrays. The network runs on the engine's inference thread: tensors
   * in shared memory are read there in place, others are copied per run. onnxruntime only.
   */
  bind(template: Float32Array, search: Float32Array): InferenceBinding {
    this.onnxOnly('bind()');
    checkTensor(template, this.config.templateSize, 'template');
    checkTensor(search, this.config.searchSize, 'search');
    const shared = { template: isShared(template) ? template : sharedFloats(template.length), search: isShared(search) ? search : sharedFloats(search.length) };
    const binding = this.bindShared(shared.template, shared.search);
    let runs = 0;
    return {
      run: async () => {
        if (shared.template !== template) shared.template.set(template);
        if (shared.search !== search) shared.search.set(search);
        await binding.run(runs++); // the caller may have changed the template: read it every run
        return { score: binding.maps.score.slice(), size: binding.maps.size.slice(), offset: binding.maps.offset.slice() };
      },
    };
  }

  /**
   * @internal Tracker's way into TensorRT: a native tracker that crops, infers and decodes on this
   * engine's GPU. The native tracker keeps the engine alive until it is disposed itself.
   */
  createTrtTracker(config: TrtTrackerConfig): TrtTracker {
    const handle = this.trt;
    if (!handle) {
      throw this.thread
        ? new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `${this.path} runs on onnxruntime, not TensorRT`)
        : new CtEdgeError('ERR_DISPOSED', `the engine for ${this.path} was disposed; load it again`);
    }
    const { TrtTracker } = tensorRtBinding(`${this.path} is a TensorRT engine`);
    const template = this.trtTemplate;
    return native(() => (template ? new TrtTracker(handle, config, template) : new TrtTracker(handle, config)));
  }

  get disposed(): boolean {
    return this.thread === undefined && this.trt === undefined;
  }

  async dispose(): Promise<void> {
    const { thread, trt } = this;
    this.thread = undefined;
    this.trt = undefined;
    for (const group of this.gpuGroups.values()) if (!(group instanceof Error)) group.dispose();
    this.gpuGroups.clear();
    trt?.dispose();
    this.trtTemplate?.dispose();
    this.trtTemplate = undefined;
    await thread?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
