/**
 * The streaming tracker: `init(frame, box)` once, then `await track(frame)` per frame.
 * Pre- and post-processing run in the native core, inference in the engine's backend.
 */
import { performance } from 'node:perf_hooks';
import type { Engine, InferenceBinding, InputTensor } from './engine.js';
import { CtEdgeError, fromNative, native } from './errors.js';
import type { BoxMapping } from './model-config.js';
import { loadNative, type NativeTracker } from './native.js';
import { trackStream, type SourceFrame, type StreamOptions, type StreamResult } from './stream.js';
import type { Box, Frame, TrackResult } from './types.js';

export interface TrackerOptions {
  /** Windowed peak score below which the target is reported lost (default: the model's, 0.2). */
  lostThreshold?: number;
  /** Box mapping policy (default: the model's; OSTrack's for ct-edge models). */
  boxMapping?: BoxMapping;
  /**
   * Crop the search region on the calling thread instead of the libuv pool. Saves the thread hop
   * (about 0.1 ms per frame on our 2-core machine, measured by tools/bench-runtime.ts) at the cost
   * of blocking the event loop for the crop itself (about 0.2 ms for a 256 px search region).
   * Default false: nothing per frame blocks the event loop.
   */
  inlinePreprocessing?: boolean;
}

export class Tracker {
  readonly engine: Engine;
  private core: NativeTracker | undefined;
  private readonly binding: InferenceBinding;
  private readonly tensors: { template: InputTensor; search: InputTensor };
  private readonly inlinePreprocessing: boolean;
  private frameIndex = -1;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(engine: Engine, options: TrackerOptions = {}) {
    if (engine.disposed) throw new CtEdgeError('ERR_DISPOSED', 'cannot create a Tracker on a disposed Engine');
    const c = engine.config;
    const lostThreshold = options.lostThreshold ?? c.lostThreshold;
    if (!Number.isFinite(lostThreshold)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `lostThreshold must be a number, got ${lostThreshold}`);
    const dtype = engine.inputDtype;
    const alloc = (side: number) => (dtype === 'float16' ? new Uint16Array(3 * side * side) : new Float32Array(3 * side * side));
    const template = alloc(c.templateSize);
    const search = alloc(c.searchSize);
    this.engine = engine;
    this.inlinePreprocessing = options.inlinePreprocessing ?? false;
    this.core = native(
      () =>
        new (loadNative().NativeTracker)(
          {
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
            dtype,
          },
          template,
          search,
        ),
    );
    this.binding = engine.bind(template, search);
    this.tensors = { template, search };
  }

  /**
   * The network inputs of the last init()/track(): normalised NCHW crops, float32 (or float16 bits).
   * Views into the tracker's own buffers, overwritten by the next call; copy them to keep them.
   */
  get inputs(): { readonly template: InputTensor; readonly search: InputTensor } {
    return this.tensors;
  }

  private live(): NativeTracker {
    if (!this.core) throw new CtEdgeError('ERR_DISPOSED', 'this tracker was disposed; create a new one');
    return this.core;
  }

  /** Starts (or restarts) a track: crops the template from `frame` around `box`. */
  init(frame: Frame, box: Box): void {
    const core = this.live();
    native(() => core.init(frame, box));
    this.frameIndex = -1;
  }

  /** Finds the target in the next frame. Calls are served in order, one at a time. */
  track(frame: Frame): Promise<TrackResult> {
    const result = this.queue.then(() => this.trackNow(frame));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async trackNow(frame: Frame): Promise<TrackResult> {
    const core = this.live();
    const t0 = performance.now();
    try {
      if (this.inlinePreprocessing) core.prepareSearch(frame);
      else await core.prepareSearchAsync(frame);
    } catch (error) {
      fromNative(error);
    }
    const t1 = performance.now();
    const maps = await this.binding.run();
    const t2 = performance.now();
    const r = native(() => this.live().update(maps.score, maps.size, maps.offset));
    const t3 = performance.now();
    this.frameIndex += 1;
    return {
      box: { x: r.x, y: r.y, width: r.width, height: r.height },
      score: r.score,
      state: r.lost ? 'lost' : 'tracking',
      frameIndex: this.frameIndex,
      timings: { preprocessMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: t3 - t2, totalMs: t3 - t0 },
    };
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
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.queue;
    this.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
