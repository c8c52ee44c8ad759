/**
 * The streaming tracker: `init(frame, box)` once, then `await track(frame)` per frame.
 * On onnxruntime, the native core keeps the track's state on the calling thread (template crop at
 * init, the decode per frame: microseconds), while the search crop and the inference run on the
 * engine's inference thread (inference-thread.ts), so a frame never blocks the event loop for more
 * than the hand-over. On TensorRT, the native GPU tracker does the whole step (crop on the GPU,
 * inference, decode) and this class only forwards to it; results and timings have the same shape.
 */
import { performance } from 'node:perf_hooks';
import { sharedFloats, type Engine, type SharedBinding } from './engine.js';
import { CtEdgeError, fromNative, native } from '../contract/errors.js';
import type { BoxMapping } from '../contract/model-config.js';
import { loadNative, type CropWindow, type FrameRegion, type NativeTracker, type NativeTrackerConfig, type NativeUpdate, type TrtTracker, type TrtTrackerConfig, type TrtTrackUpdate } from './native.js';
import { trackStream, type FrameStreamSource, type StreamOptions, type StreamResult } from './stream.js';
import { BYTES_PER_PIXEL } from './io/source.js';
import type { Box, Frame, PixelFormat, StageTimings, TrackResult } from '../contract/types.js';

export interface TrackerOptions {
  /** Windowed peak score below which the target is reported lost (default: the model's, 0.2). */
  lostThreshold?: number;
  /** Box mapping policy (default: the model's; OSTrack's for ct-edge models). */
  boxMapping?: BoxMapping;
  /**
   * Crop the search region on the calling thread instead of the engine's inference thread, which
   * then only runs the network. Blocks the event loop for the crop itself (about 0.1-0.2 ms for a
   * 256 px search region on our 2-core machine) and never copies a frame in ordinary memory.
   * Default false: the whole step but the decode runs on the inference thread. onnxruntime only.
   */
  inlinePreprocessing?: boolean;
  /**
   * TensorRT only: capture the per-frame network call and output copies in a CUDA graph (replayed
   * with one launch). Default false; the tracker falls back to plain enqueues when capture fails.
   */
  cudaGraph?: boolean;
  /**
   * TensorRT only: wait for each frame's GPU work sleeping on a blocking-sync event instead of
   * spinning a CPU core for the whole inference (cudaStreamSynchronize's default). Costs the OS's
   * wake-up latency per frame (tens of microseconds); saves a core and power, which an Orin Nano
   * running other work notices. Default false.
   */
  blockingSync?: boolean;
  /**
   * TensorRT only: the frames to come (tight rows), so that the pinned staging memory is reserved
   * when the tracker is made; otherwise the first init() allocates it on the calling thread. Frames
   * of another size still work (larger ones grow the memory once).
   */
  frameSize?: { width: number; height: number; format: PixelFormat };
}

/** A value for an error message, whatever it is (symbols and bigints included). */
function describeValue(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : v === null ? 'null' : typeof v;
}

/**
 * @internal Checks a tracker's engine and options (Tracker's and TrackerGroup's constructors) and
 * resolves the lost threshold and box mapping against the model's; typed errors for anything else.
 */
export function checkTrackerOptions(engine: Engine, options: TrackerOptions, call: string): { lostThreshold: number; boxMapping: BoxMapping } {
  if (!(engine instanceof Object) || typeof (engine as Partial<Engine>).config !== 'object' || !('disposed' in engine)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `${call} needs an Engine from Engine.load(), got ${engine === null ? 'null' : typeof engine}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `Tracker options must be an object (TrackerOptions) or left out, got ${options === null ? 'null' : typeof options}`);
  }
  if (engine.disposed) throw new CtEdgeError('ERR_DISPOSED', 'cannot create a Tracker on a disposed Engine');
  const c = engine.config;
  const lostThreshold = options.lostThreshold ?? c.lostThreshold;
  if (typeof lostThreshold !== 'number' || !Number.isFinite(lostThreshold)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `lostThreshold must be a number, got ${describeValue(lostThreshold)}`);
  }
  const boxMapping = options.boxMapping ?? c.boxMapping;
  if (boxMapping !== 'ostrack' && boxMapping !== 'opencv') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `boxMapping must be 'ostrack' or 'opencv', got ${describeValue(boxMapping)}`);
  for (const flag of ['inlinePreprocessing', 'cudaGraph', 'blockingSync'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `${flag} must be true or false, got ${describeValue(options[flag])}`);
  }
  const size = options.frameSize as Partial<NonNullable<TrackerOptions['frameSize']>> | undefined;
  const side = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 65536;
  if (size !== undefined && !(size !== null && typeof size === 'object' && side(size.width) && side(size.height) && typeof size.format === 'string' && size.format in BYTES_PER_PIXEL)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `frameSize must be { width, height, format } (whole pixels up to 65536, a pixel format of rgb, bgr, rgba, bgra, gray or nv12), got ${describeValue(size)}`);
  }
  return { lostThreshold, boxMapping };
}

/** Whether the frame's pixels are in shared memory, which the inference thread reads in place. */
function inSharedMemory(frame: Frame): boolean {
  const data = frame.data as unknown;
  return ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer;
}

/**
 * @internal The frame as the inference thread reads it (a message: its fields copied, NV12's colour
 * included): the frame itself when its pixels are in shared memory, else the part of it that
 * `regions` cover (their bounding box: the parts search crops read) copied into `staging`, a
 * SharedArrayBuffer it grows as needed. `origin` is where that part sits in the frame.
 */
export function shareFrame(frame: Frame, regions: readonly FrameRegion[], staging: { bytes?: Uint8Array }): { frame: Frame; origin: { x: number; y: number } } {
  const colour = { ...(frame.colorMatrix !== undefined && { colorMatrix: frame.colorMatrix }), ...(frame.colorRange !== undefined && { colorRange: frame.colorRange }) };
  if (inSharedMemory(frame)) {
    const { data, width, height, format, stride } = frame;
    return { frame: { data, width, height, format, ...(stride === undefined ? {} : { stride }), ...colour }, origin: { x: 0, y: 0 } };
  }
  const seen = regions.filter((r) => r.width > 0 && r.height > 0);
  const x = Math.min(...seen.map((r) => r.x));
  const y = Math.min(...seen.map((r) => r.y));
  const union = seen.length === 0 ? { x: 0, y: 0, width: 0, height: 0 } : { x, y, width: Math.max(...seen.map((r) => r.x + r.width)) - x, height: Math.max(...seen.map((r) => r.y + r.height)) - y };
  const nv12 = frame.format === 'nv12';
  const rows = Math.max(union.height, nv12 ? 2 : 1);
  const bytes = Math.max(union.width, nv12 ? 2 : 1) * BYTES_PER_PIXEL[frame.format] * (nv12 ? rows + rows / 2 : rows);
  if (!staging.bytes || staging.bytes.length < bytes) staging.bytes = new Uint8Array(new SharedArrayBuffer(Math.ceil(bytes * 1.25)));
  const staged = native(() => loadNative().copyRegion(frame, union, staging.bytes!));
  return { frame: { data: staging.bytes, ...staged, format: frame.format, ...colour }, origin: { x: union.x, y: union.y } };
}

/** Template ids of TensorRT group members: unique in the process, so a batch item never mistakes one target's template for another's. */
let nextTemplateId = 1;

export class Tracker {
  readonly engine: Engine;
  /** onnxruntime: the native core (state, template crop, decode) around the engine's binding. */
  private core: NativeTracker | undefined;
  private readonly binding: SharedBinding | undefined;
  private readonly tensors: { template: Float32Array; search: Float32Array } | undefined;
  /** Shared memory the part of an ordinary-memory frame the crop reads is copied into. */
  private readonly staging: { bytes?: Uint8Array } = {};
  /** TensorRT: the native GPU tracker, which does the whole step. */
  private gpu: TrtTracker | undefined;
  private readonly inlinePreprocessing: boolean;
  private frameIndex = -1;
  /** Counts init() calls: the inference thread copies the template when it changed. */
  private templateVersion = 0;
  /**
   * A TensorRT group's target: its template crop, made on the host by the native core (the group's
   * TrtGroup uploads it into the batched input), with an id that changes on every init().
   */
  private readonly hostTemplate: Float32Array | undefined;
  private templateId = 0;
  /** TensorRT: the native tracker's configuration (a group makes its TrtGroup with it too). */
  private readonly gpuConfig: TrtTrackerConfig | undefined;
  /** Set once `inputs` was read: the thread then copies its search crops back into the shared tensor. */
  private mirrorSearch = false;
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * `gpuGroupMember` (@internal, TrackerGroup on a batched TensorRT engine): the target's state and
   * template crop stay on the host, in the native core, and the group runs the network.
   */
  constructor(engine: Engine, options: TrackerOptions = {}, gpuGroupMember = false) {
    const { lostThreshold, boxMapping } = checkTrackerOptions(engine, options, 'new Tracker(engine, options?)');
    const c = engine.config;
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
      boxMapping,
      lostThreshold,
    };
    if (engine.backend !== 'onnxruntime-cpu') {
      const size = options.frameSize;
      const reserveBytes = size && size.width * size.height * BYTES_PER_PIXEL[size.format] * (size.format === 'nv12' ? 1.5 : 1);
      this.gpuConfig = {
        ...loop,
        names: { ...c.inputs, ...c.outputs },
        cudaGraph: options.cudaGraph ?? false,
        blockingSync: options.blockingSync ?? false,
        ...(reserveBytes ? { reserveBytes } : {}),
      };
    }
    if (gpuGroupMember) {
      if (!this.gpuConfig) throw new CtEdgeError('ERR_INTERNAL', 'a TensorRT group member made on an onnxruntime engine');
      this.hostTemplate = new Float32Array(3 * c.templateSize * c.templateSize);
      // The core's search tensor stays unused: the group crops every search window on the GPU.
      this.core = native(() => new (loadNative().NativeTracker)(loop, this.hostTemplate!, new Float32Array(3 * c.searchSize * c.searchSize)));
      return;
    }
    if (this.gpuConfig) {
      this.gpu = engine.createTrtTracker(this.gpuConfig);
      this.raiseGpuWarnings(this.gpu); // a graph capture that failed at creation
      return;
    }
    // Shared with the engine's inference thread, which reads them (and crops into search) in place.
    const template = sharedFloats(3 * c.templateSize * c.templateSize);
    const search = sharedFloats(3 * c.searchSize * c.searchSize);
    this.core = native(() => new (loadNative().NativeTracker)(loop, template, search));
    this.binding = engine.bindShared(template, search);
    this.tensors = { template, search };
  }

  /**
   * The network inputs of the last init()/track(): normalised NCHW float32 crops.
   * Views into the tracker's own buffers, overwritten by the next call; copy them to keep them.
   * The default search crop is made on the engine's inference thread: from the first read of
   * `inputs` on, each track() also copies it back here (about 0.03 ms for a 256 px crop), so read
   * it once before tracking to see every crop. onnxruntime only: on TensorRT the crops never leave
   * the GPU, and this throws.
   */
  get inputs(): { readonly template: Float32Array; readonly search: Float32Array } {
    if (!this.tensors) {
      throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `Tracker.inputs is onnxruntime only: on ${this.engine.backend} the crops stay on the GPU`);
    }
    this.mirrorSearch = true;
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
      this.templateVersion += 1;
      this.templateId = nextTemplateId++;
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
    const binding = this.binding!;
    const t0 = performance.now();
    // Everything that reads the caller's frame happens here, before the first await: a frame
    // changed, detached or freed after track() was called cannot be read half-way.
    let crop: { frame: Frame; window: CropWindow } | undefined;
    if (this.inlinePreprocessing) native(() => core.prepareSearch(frame));
    else crop = this.searchCrop(core, frame);
    const t1 = performance.now();
    const times = await binding.run(this.templateVersion, crop, this.mirrorSearch);
    const t2 = performance.now();
    const { score, size, offset } = binding.maps;
    const r = native(() => this.live().update(score, size, offset));
    const t3 = performance.now();
    return this.result(r, {
      preprocessMs: t1 - t0 + times.preprocessMs,
      inferenceMs: times.inferenceMs,
      postprocessMs: t3 - t2,
      totalMs: t3 - t0,
    });
  }

  /**
   * @internal TrackerGroup's first half of track(): places this frame's search window, and says
   * which part of the frame its crop reads (on TensorRT, the window the GPU crops). Calls must not overlap.
   */
  groupPlace(frame: Frame): { window: CropWindow; region: FrameRegion } {
    const { x0, y0, side, region } = native(() => this.live().placeSearch(frame));
    return { window: { x0, y0, side }, region };
  }

  /** @internal TrackerGroup: this tracker's part of the group's run, its crop read from `crop.frame`. */
  groupMember(crop: { frame: Frame; window: CropWindow }): { binding: SharedBinding; templateVersion: number; crop: { frame: Frame; window: CropWindow } } {
    return { binding: this.binding!, templateVersion: this.templateVersion, crop };
  }

  /** @internal TrackerGroup on TensorRT: this target's part of the group's TrtGroup run. */
  gpuGroupMember(window: CropWindow): { window: CropWindow; template: Float32Array; templateId: number } {
    return { window, template: this.hostTemplate!, templateId: this.templateId };
  }

  /** @internal The configuration a TensorRT group's TrtGroup is made with. */
  get gpuGroupConfig(): TrtTrackerConfig {
    return this.gpuConfig!;
  }

  /**
   * @internal TrackerGroup's half of track() after the group's run: decodes this tracker's maps
   * (on onnxruntime its binding's; on TensorRT its part of the TrtGroup's).
   */
  groupResult(timings: StageTimings, maps = this.binding!.maps): TrackResult {
    const { score, size, offset } = maps;
    return this.result(native(() => this.live().update(score, size, offset)), timings);
  }

  /**
   * The search crop for the inference thread: the frame itself when its pixels are in shared
   * memory, else the part of it the crop reads, copied into the tracker's shared staging memory.
   */
  private searchCrop(core: NativeTracker, frame: Frame): { frame: Frame; window: CropWindow } {
    const { x0, y0, side, region } = native(() => core.placeSearch(frame));
    const shared = shareFrame(frame, [region], this.staging);
    return { frame: shared.frame, window: { x0: x0 - shared.origin.x, y0: y0 - shared.origin.y, side } };
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

  /**
   * TensorRT only: whether frames replay a captured CUDA graph (`cudaGraph: true` and the capture
   * worked; a failed capture or launch turns it off, with a CT_EDGE_CUDA_GRAPH warning).
   */
  get cudaGraphActive(): boolean {
    return this.gpu?.cudaGraphActive() ?? false;
  }

  /** What the GPU tracker worked around (a CUDA graph given up), as process warnings. */
  private raiseGpuWarnings(gpu: TrtTracker): void {
    for (const message of gpu.takeWarnings()) process.emitWarning(message, { code: 'CT_EDGE_CUDA_GRAPH' });
  }

  private async trackOnGpu(gpu: TrtTracker, frame: Frame): Promise<TrackResult> {
    const t0 = performance.now();
    let r: TrtTrackUpdate;
    try {
      r = await gpu.track(frame);
    } catch (error) {
      fromNative(error);
    } finally {
      this.raiseGpuWarnings(gpu);
    }
    const totalMs = performance.now() - t0;
    // Staging the frame into pinned/device memory counts as pre-processing; inferMs includes the
    // crop kernel, which runs on the stream ahead of the network (native/tensorrt/trt_runtime.cpp).
    const { stageMs, preprocessMs, inferMs, postprocessMs } = r.timings;
    return this.result(r, { preprocessMs: stageMs + preprocessMs, inferenceMs: inferMs, postprocessMs, totalMs });
  }

  /**
   * Tracks a source (a video, camera or image folder from openSource(), or any iterable or async
   * iterable of frames or SourceFrames, an array included) frame by frame, honouring back-pressure; see trackStream() for the options.
   */
  stream(source: FrameStreamSource, options: StreamOptions & { signal?: AbortSignal } = {}): AsyncGenerator<StreamResult, void, undefined> {
    return trackStream(this, source, options);
  }

  dispose(): void {
    this.core?.dispose();
    this.core = undefined;
    this.binding?.release();
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
