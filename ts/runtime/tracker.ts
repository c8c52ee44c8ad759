/**
 * The streaming tracker: `init(frame, box)` once, then `await track(frame)` per frame.
 * Pre- and post-processing run in the native core, inference in the engine's backend.
 */
import { performance } from 'node:perf_hooks';
import type { Engine, InferenceBinding } from './engine.js';
import { CtEdgeError, fromNative, native } from './errors.js';
import type { BoxMapping } from './model-config.js';
import { loadNative, type NativeTracker } from './native.js';
import type { Box, Frame, TrackResult } from './types.js';

export interface TrackerOptions {
  /** Windowed peak score below which the target is reported lost (default: the model's, 0.2). */
  lostThreshold?: number;
  /** Box mapping policy (default: the model's; OSTrack's for ct-edge models). */
  boxMapping?: BoxMapping;
}

export class Tracker {
  readonly engine: Engine;
  private core: NativeTracker | undefined;
  private readonly binding: InferenceBinding;
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
      await core.prepareSearchAsync(frame);
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
