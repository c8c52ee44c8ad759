/**
 * The streaming tracker: `init(frame, box)` once, then `await track(frame)` per frame.
 * On onnxruntime, pre- and post-processing run in the native core on the CPU and inference in
 * onnxruntime. On TensorRT, the native GPU tracker does the whole step (crop on the GPU, inference,
 * decode) and this class only forwards to it; results and timings have the same shape.
 */
import { performance } from 'node:perf_hooks';
import type { Engine, InferenceBinding } from './engine.js';
import { CtEdgeError, fromNative, native } from '../contract/errors.js';
import type { BoxMapping } from '../contract/model-config.js';
import { loadNative, type NativeTracker, type NativeTrackerConfig, type NativeUpdate, type TrtTracker, type TrtTrackUpdate } from './native.js';
import { trackStream, type SourceFrame, type StreamOptions, type StreamResult } from './stream.js';
import type { Box, Frame, StageTimings, TrackResult } from '../contract/types.js';

export interface TrackerOptions {
  /** Windowed peak score below which the target is reported lost (default: the model's, 0.2). */
  lostThreshold?: number;
  /** Box mapping policy (default: the model's; OSTrack's for ct-edge models). */
  boxMapping?: BoxMapping;
  /**
   * Crop the search region on the calling thread instead of the libuv pool. Saves the thread hop
   * (about 0.1 ms per frame on our 2-core machine, measured by tools/bench-runtime.ts) at the cost
   * of blocking the event loop for the crop itself (about 0.2 ms for a 256 px search region).
   * Default false: nothing per frame blocks the event loop. onnxruntime only.
   */
  inlinePreprocessing?: boolean;
  /**
   * TensorRT only: capture the per-frame network call and output copies in a CUDA graph (replayed
   * with one launch). Default false; the tracker falls back to plain enqueues when capture fails.
   */
  cudaGraph?: boolean;
}

export class Tracker {
  readonly engine: Engine;
  /** onnxruntime: the native core (crop, decode) around the engine's binding. */
  private core: NativeTracker | undefined;
  private readonly binding: InferenceBinding | undefined;
  private readonly tensors: { template: Float32Array; search: Float32Array } | undefined;
  /** TensorRT: the native GPU tracker, which does the whole step. */
  private gpu: TrtTracker | undefined;
  private readonly inlinePreprocessing: boolean;
  private frameIndex = -1;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(engine: Engine, options: TrackerOptions = {}) {
    if (engine.disposed) throw new CtEdgeError('ERR_DISPOSED', 'cannot create a Tracker on a disposed Engine');
    const c = engine.config;
    const lostThreshold = options.lostThreshold ?? c.lostThreshold;
    if (!Number.isFinite(lostThreshold)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `lostThreshold must be a number, got ${lostThreshold}`);
    this.engine = engine;
    this.inlinePreprocessing = options.inlinePreprocessing ?? false;
    // What the native loop needs on either backend (native/core/model_contract.h, parsed by native/addon/tracker_config.cpp).
    const loop: NativeTrackerConfig = {
      templateSize: c.templateSize,
      searchSize: c.searchSize,
      featureSize: c.featureSize,
      templateFactor: c.templateFactor,
      searchFactor: c.searchFactor,
      mean: c.mean,
      std: c.std,
      channelOrder: c.channelOrder,
      boxMapping: options.boxMapping ?? c.boxMapping,
      lostThreshold,
    };
    if (engine.backend !== 'onnxruntime-cpu') {
      this.gpu = engine.createTrtTracker({ ...loop, names: { ...c.inputs, ...c.outputs }, cudaGraph: options.cudaGraph ?? false });
      return;
    }
    const template = new Float32Array(3 * c.templateSize * c.templateSize);
    const search = new Float32Array(3 * c.searchSize * c.searchSize);
    this.core = native(() => new (loadNative().NativeTracker)(loop, template, search));
    this.binding = engine.bind(template, search);
    this.tensors = { template, search };
  }

  /**
   * The network inputs of the last init()/track(): normalised NCHW float32 crops.
   * Views into the tracker's own buffers, overwritten by the next call; copy them to keep them.
   * onnxruntime only: on TensorRT the crops never leave the GPU, and this throws.
   */
  get inputs(): { readonly template: Float32Array; readonly search: Float32Array } {
    if (!this.tensors) {
      throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `Tracker.inputs is onnxruntime only: on ${this.engine.backend} the crops stay on the GPU`);
    }
    return this.tensors;
  }

  private live(): NativeTracker {
    if (!this.core) throw new CtEdgeError('ERR_DISPOSED', 'this tracker was disposed; create a new one');
    return this.core;
  }

  /** Starts (or restarts) a track: crops the template from `frame` around `box`. */
  init(frame: Frame, box: Box): void {
    const gpu = this.gpu;
    if (gpu) {
      native(() => gpu.init(frame, box));
    } else {
      const core = this.live();
      native(() => core.init(frame, box));
    }
    this.frameIndex = -1;
  }

  /** Finds the target in the next frame. Calls are served in order, one at a time. */
  track(frame: Frame): Promise<TrackResult> {
    const result = this.queue.then(() => this.trackNow(frame));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async trackNow(frame: Frame): Promise<TrackResult> {
    if (this.gpu) return this.trackOnGpu(this.gpu, frame);
    const core = this.live();
    const t0 = performance.now();
    try {
      if (this.inlinePreprocessing) core.prepareSearch(frame);
      else await core.prepareSearchAsync(frame);
    } catch (error) {
      fromNative(error);
    }
    const t1 = performance.now();
    const maps = await this.binding!.run();
    const t2 = performance.now();
    const r = native(() => this.live().update(maps.score, maps.size, maps.offset));
    const t3 = performance.now();
    return this.result(r, { preprocessMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: t3 - t2, totalMs: t3 - t0 });
  }

  /** The next frame's result from either native tracker's answer. */
  private result(r: Pick<NativeUpdate, 'x' | 'y' | 'width' | 'height' | 'score' | 'lost'>, timings: StageTimings): TrackResult {
    this.frameIndex += 1;
    return {
      box: { x: r.x, y: r.y, width: r.width, height: r.height },
      score: r.score,
      state: r.lost ? 'lost' : 'tracking',
      frameIndex: this.frameIndex,
      timings,
    };
  }

  private async trackOnGpu(gpu: TrtTracker, frame: Frame): Promise<TrackResult> {
    const t0 = performance.now();
    let r: TrtTrackUpdate;
    try {
      r = await gpu.track(frame);
    } catch (error) {
      fromNative(error);
    }
    const totalMs = performance.now() - t0;
    // Staging the frame into pinned/device memory counts as pre-processing; inferMs includes the
    // crop kernel, which runs on the stream ahead of the network (native/tensorrt/trt_runtime.cpp).
    const { stageMs, preprocessMs, inferMs, postprocessMs } = r.timings;
    return this.result(r, { preprocessMs: stageMs + preprocessMs, inferenceMs: inferMs, postprocessMs, totalMs });
  }

  /**
   * Tracks a source (a video, camera or image folder from openSource(), or any async iterable of
   * frames) frame by frame, honouring back-pressure; see trackStream() for the options.
   */
  stream(source: AsyncIterable<SourceFrame>, options: StreamOptions & { signal?: AbortSignal } = {}): AsyncGenerator<StreamResult, void, undefined> {
    return trackStream(this, source, options);
  }

  dispose(): void {
    this.core?.dispose();
    this.core = undefined;
    this.gpu?.dispose();
    this.gpu = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.queue;
    this.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
