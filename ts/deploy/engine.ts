/**
 * An Engine is a loaded model plus the backend that runs it. Load it once, share it between
 * trackers. The file picks the backend: `.onnx` runs on onnxruntime on the CPU (every machine),
 * `.engine`/`.plan` on TensorRT (addons built by cmake-js with CUDA and TensorRT; see tensorrt.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readOnnxMetadata } from '../contract/onnx-reader.js';
import { CtEdgeError, native } from '../contract/errors.js';
import { optionsFromMetadata, resolveModelConfig, type ModelConfig, type ModelOptions, type TensorSignature } from '../contract/model-config.js';
import type { TrtEngine, TrtTracker, TrtTrackerConfig } from './native.js';
import { loadTensorRtEngine, tensorRtBinding, type TensorRtBackend } from './tensorrt.js';

export interface EngineOptions extends ModelOptions {
  /** onnxruntime intra-op threads (default: onnxruntime's choice, one per core); TensorRT ignores it. */
  threads?: number;
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

/** `tensorrt-fp16`/`-fp32`: the precision recorded when the engine was built (see TensorRtBackend). */
export type EngineBackend = 'onnxruntime-cpu' | TensorRtBackend;

export class Engine {
  private session: ort.InferenceSession | undefined;
  private trt: TrtEngine | undefined;

  private constructor(
    readonly path: string,
    readonly config: ModelConfig,
    runtime: { session: ort.InferenceSession } | { trt: TrtEngine },
    /** Which backend runs the network. */
    readonly backend: EngineBackend,
  ) {
    if ('session' in runtime) this.session = runtime.session;
    else this.trt = runtime.trt;
  }

  static async load(path: string, options: EngineOptions = {}): Promise<Engine> {
    const fullPath = resolve(path);
    const info = await stat(fullPath).catch(() => undefined);
    if (!info?.isFile()) {
      throw new CtEdgeError('ERR_MODEL_NOT_FOUND', `model file not found: ${fullPath}. Check the path, or export one with \`ct-edge export\`.`);
    }
    const ext = extname(fullPath).toLowerCase();
    if (ext === '.engine' || ext === '.plan') {
      const { handle, config, backend } = await loadTensorRtEngine(fullPath, options);
      return new Engine(fullPath, config, { trt: handle }, backend);
    }
    const bytes = await readFile(fullPath);
    let metadata: ModelOptions;
    try {
      metadata = optionsFromMetadata(readOnnxMetadata(bytes));
    } catch (error) {
      if (error instanceof CtEdgeError && error.code === 'ERR_INVALID_ARGUMENT') throw error;
      throw new CtEdgeError('ERR_MODEL_INVALID', `${fullPath} is not a readable ONNX model (${(error as Error).message}). Is the file complete? Export or download it again.`, {
        cause: error,
      });
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
      });
    } catch (error) {
      throw new CtEdgeError(
        'ERR_MODEL_INVALID',
        `onnxruntime could not load ${fullPath}: ${(error as Error).message.split('\n')[0]}. Is the file complete? Export or download it again.`,
        { cause: error },
      );
    }
    const signature = (m: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] =>
      m.map((v) => ({ name: v.name, shape: v.isTensor ? v.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) : [] }));
    try {
      const config = resolveModelConfig({ inputs: signature(session.inputMetadata), outputs: signature(session.outputMetadata) }, metadata, options);
      return new Engine(fullPath, config, { session }, 'onnxruntime-cpu');
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  private live(): ort.InferenceSession {
    if (!this.session) throw new CtEdgeError('ERR_DISPOSED', `the engine for ${this.path} was disposed; load it again`);
    return this.session;
  }

  /**
   * Binds a tracker's float32 input tensors (which the native core fills in place) to the network.
   * onnxruntime only.
   */
  bind(template: Float32Array, search: Float32Array): InferenceBinding {
    if (this.trt) {
      throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `${this.path} runs on TensorRT, whose inputs stay on the GPU; bind() is for onnxruntime. Use a Tracker.`);
    }
    const { config } = this;
    const tensor = (data: Float32Array, side: number) => new ort.Tensor('float32', data, [1, 3, side, side]);
    const feeds = { [config.inputs.template]: tensor(template, config.templateSize), [config.inputs.search]: tensor(search, config.searchSize) };
    const fetches = [config.outputs.score, config.outputs.size, config.outputs.offset];
    return {
      run: async () => {
        const out = await this.live().run(feeds, fetches);
        const take = (name: string, channels: number) => {
          const t = out[name];
          const want = channels * config.featureSize * config.featureSize;
          if (t?.type !== 'float32' || t.data.length !== want) {
            throw new CtEdgeError('ERR_MODEL_OUTPUT', `output '${name}' should be float32 [1,${channels},${config.featureSize},${config.featureSize}], got ${t?.type} [${t?.dims.join(',')}]`);
          }
          return t.data as Float32Array;
        };
        return { score: take(fetches[0], 1), size: take(fetches[1], 2), offset: take(fetches[2], 2) };
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
      throw this.session
        ? new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `${this.path} runs on onnxruntime, not TensorRT`)
        : new CtEdgeError('ERR_DISPOSED', `the engine for ${this.path} was disposed; load it again`);
    }
    const { TrtTracker } = tensorRtBinding(`${this.path} is a TensorRT engine`);
    return native(() => new TrtTracker(handle, config));
  }

  get disposed(): boolean {
    return this.session === undefined && this.trt === undefined;
  }

  async dispose(): Promise<void> {
    const { session, trt } = this;
    this.session = undefined;
    this.trt = undefined;
    trt?.dispose();
    await session?.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
