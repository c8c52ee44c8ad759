/**
 * Tracking over streams of frames: `trackStream()`, an async generator of results, and
 * `TrackTransform`, a Node object-mode Transform from frames to results.
 *
 * Two modes. By default every frame is tracked and the consumer's pace sets the source's: nothing
 * is read ahead beyond a frame (or the stream buffers' high-water marks). In real-time mode the
 * source is read as fast as it delivers, only the newest frame waits, and the tracker always takes
 * the newest; the frames overwritten unseen are counted as dropped. Use it for cameras, where a
 * tracker slower than the camera would otherwise fall ever further behind.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { CtEdgeError } from '../contract/errors.js';
import type { Tracker } from './tracker.js';
import type { Box, Frame, StageTimings, TrackState } from '../contract/types.js';

/** One frame from a source: the pixels, when it was taken (ms from the first frame) and its position. */
export interface SourceFrame {
  frame: Frame;
  timestampMs: number;
  index: number;
}

/** The part of Tracker a stream uses. */
export type StreamTracker = Pick<Tracker, 'init' | 'track'>;

/**
 * What a stream reads: a source from openSource() (SourceFrames), or any iterable or async iterable
 * (an array included) of SourceFrames or bare Frames. A bare frame's index is its position, its
 * timestamp the time it arrived (ms from the first).
 */
export type FrameStreamSource = AsyncIterable<SourceFrame | Frame> | Iterable<SourceFrame | Frame>;

function isSourceFrame(item: SourceFrame | Frame): item is SourceFrame {
  return typeof item === 'object' && item !== null && 'frame' in item;
}

/** The source as an async iterator of SourceFrames; a typed error when it is not iterable. */
function sourceIterator(source: FrameStreamSource): AsyncIterator<SourceFrame> {
  const s = source as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null | undefined;
  const asyncIt = typeof s?.[Symbol.asyncIterator] === 'function';
  if (!asyncIt && (typeof s?.[Symbol.iterator] !== 'function' || typeof s === 'string')) {
    throw new CtEdgeError(
      'ERR_INVALID_ARGUMENT',
      `a stream's source must be iterable: a source from openSource(), an array or any (async) iterable of frames, got ${s === null ? 'null' : typeof s}`,
    );
  }
  const items = asyncIt ? (source as AsyncIterable<SourceFrame | Frame>)[Symbol.asyncIterator]() : null;
  const syncItems = asyncIt ? null : (source as Iterable<SourceFrame | Frame>)[Symbol.iterator]();
  let index = 0;
  let t0: number | undefined;
  const wrap = (step: IteratorResult<SourceFrame | Frame>): IteratorResult<SourceFrame> => {
    if (step.done) return { done: true, value: undefined };
    const item = step.value;
    if (isSourceFrame(item)) {
      index = item.index + 1;
      return { done: false, value: item };
    }
    const now = performance.now();
    t0 ??= now;
    return { done: false, value: { frame: item, timestampMs: now - t0, index: index++ } };
  };
  // A source from openSource() (or any iterator of SourceFrames) is used as is: its return() stops its child.
  return {
    next: async () => wrap(items ? await items.next() : syncItems!.next()),
    return: async () => {
      await (items ? items.return?.() : syncItems!.return?.());
      return { done: true, value: undefined };
    },
  };
}

export interface StreamOptions {
  /** The target in the first frame. */
  initBox?: Box;
  /** Or: picks the target from the first frame (a detector, a user's click). */
  init?: (first: SourceFrame) => Box | Promise<Box>;
  /** Track the newest frame, dropping those that came while the tracker was busy (default false). */
  realtime?: boolean;
}

export interface StreamResult {
  /** The source's frame index and timestamp, and the frame itself (to draw on or save). */
  index: number;
  timestampMs: number;
  frame: Frame;
  box: Box;
  /** 1 on the init frame. */
  score: number;
  state: TrackState;
  /** True for the frame the tracker was initialised on: box is the init box. */
  initial: boolean;
  /** Stage timings of the track() call; undefined on the init frame. */
  timings: StageTimings | undefined;
  /** Frames skipped so far (real-time mode; always 0 otherwise). */
  dropped: number;
}

/** Inits on the first frame, tracks the rest. Shared by the generator and the Transform. */
class Stepper {
  private started = false;
  dropped = 0;

  constructor(
    private readonly tracker: StreamTracker,
    private readonly options: StreamOptions,
  ) {}

  async step(s: SourceFrame): Promise<StreamResult> {
    const base = { index: s.index, timestampMs: s.timestampMs, frame: s.frame };
    if (!this.started) {
      const box = this.options.initBox ?? (await this.options.init?.(s));
      if (!box) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give initBox or an init callback: where the target is in the first frame');
      this.tracker.init(s.frame, box);
      this.started = true;
      return { ...base, box: { ...box }, score: 1, state: 'tracking', initial: true, timings: undefined, dropped: this.dropped };
    }
    const r = await this.tracker.track(s.frame);
    return { ...base, box: r.box, score: r.score, state: r.state, initial: false, timings: r.timings, dropped: this.dropped };
  }
}

/** A promise that rejects when `signal` aborts, and the way to stop listening. */
function whenAborted(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let onAbort!: () => void;
  const promise = new Promise<never>((_, reject) => (onAbort = () => reject(signal.reason)));
  promise.catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/** The source, read ahead eagerly by a pump that keeps only the newest frame. */
async function* newestFrames(it: AsyncIterator<SourceFrame>, onDrop: () => void): AsyncGenerator<SourceFrame> {
  let latest: SourceFrame | undefined;
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let stopped = false;
  const pump = (async () => {
    try {
      while (!stopped) {
        const step = await it.next();
        if (step.done || stopped) break;
        if (latest) onDrop();
        latest = step.value;
        wake?.();
      }
    } catch (error) {
      failure = { error };
    } finally {
      ended = true;
      wake?.();
    }
  })();
  try {
    for (;;) {
      if (latest) {
        const frame = latest;
        latest = undefined;
        yield frame;
      } else if (failure) {
        throw failure.error;
      } else if (ended) {
        return;
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    }
  } finally {
    stopped = true;
    await it.return?.();
    await pump;
  }
}

/**
 * Tracks a source frame by frame: inits on the first frame (with `initBox` or the `init` callback),
 * yields its result (`initial: true`) and then one result per tracked frame. Leaving the loop early
 * (break, an error, the signal) returns the source's iterator, which stops its child process.
 * `tracker.stream(source, options)` is this function.
 */
export function trackStream(
  tracker: StreamTracker,
  source: FrameStreamSource,
  options: StreamOptions & { signal?: AbortSignal } = {},
): AsyncGenerator<StreamResult, void, undefined> {
  // Checked now, not at the first next(): a bad source is the caller's mistake at the call.
  if (options === null || typeof options !== 'object') {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `stream options must be an object (StreamOptions) or left out, got ${options === null ? 'null' : typeof options}`);
  }
  const it = sourceIterator(source);
  return steps(tracker, it, options);
}

async function* steps(tracker: StreamTracker, it: AsyncIterator<SourceFrame>, options: StreamOptions & { signal?: AbortSignal }): AsyncGenerator<StreamResult, void, undefined> {
  const { signal } = options;
  signal?.throwIfAborted();
  const stepper = new Stepper(tracker, options);
  const frames = options.realtime ? newestFrames(it, () => (stepper.dropped += 1)) : it;
  const abort = signal && whenAborted(signal);
  try {
    for (;;) {
      const next = frames.next();
      const step = abort ? await Promise.race([next, abort.promise]) : await next;
      if (step.done) return;
      yield await stepper.step(step.value);
      signal?.throwIfAborted();
    }
  } finally {
    abort?.dispose();
    // The source first: a process source kills its child, which also ends a read still in flight.
    await it.return?.();
    if (frames !== it) await frames.return?.();
  }
}

export interface TrackTransformOptions extends StreamOptions {
  /** Frames buffered on the writable side and results on the readable side (default 1 each). */
  highWaterMark?: number;
}

/**
 * Frames in (SourceFrame objects), results out (StreamResult objects), for `pipeline()`s.
 * Every-frame mode tracks each written frame in order; back-pressure reaches the writer when the
 * reader is slow, as with any Transform. Real-time mode accepts writes at once, keeps only the
 * newest frame waiting while the tracker is busy or the reader is behind, and counts the rest in
 * `dropped`.
 */
export class TrackTransform extends Transform {
  private readonly stepper: Stepper;
  private readonly realtime: boolean;
  private pending: SourceFrame | undefined;
  private busy = false;
  private readerWaiting: (() => void) | undefined;
  private flushed: (() => void) | undefined;

  constructor(tracker: StreamTracker, options: TrackTransformOptions = {}) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 1 });
    this.stepper = new Stepper(tracker, options);
    this.realtime = options.realtime ?? false;
  }

  /** Frames dropped so far (real-time mode). */
  get dropped(): number {
    return this.stepper.dropped;
  }

  override _transform(chunk: SourceFrame, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.realtime) {
      this.stepper.step(chunk).then((result) => callback(null, result), callback);
      return;
    }
    if (this.busy) {
      if (this.pending) this.stepper.dropped += 1;
      this.pending = chunk;
    } else {
      void this.trackNewest(chunk);
    }
    callback();
  }

  private async trackNewest(first: SourceFrame): Promise<void> {
    this.busy = true;
    let frame: SourceFrame | undefined = first;
    try {
      while (frame) {
        const readerKeepsUp = this.push(await this.stepper.step(frame));
        // A reader behind: wait for it to ask, replacing the waiting frame meanwhile.
        if (!readerKeepsUp && !this.destroyed) await new Promise<void>((resolve) => (this.readerWaiting = resolve));
        frame = this.pending;
        this.pending = undefined;
      }
    } catch (error) {
      this.destroy(error as Error);
    } finally {
      this.busy = false;
      this.flushed?.();
    }
  }

  override _read(size: number): void {
    const resume = this.readerWaiting;
    this.readerWaiting = undefined;
    resume?.();
    super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.busy) callback();
    else this.flushed = () => callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Let a real-time loop waiting for a reader finish instead of hanging.
    this.pending = undefined;
    this.readerWaiting?.();
    super._destroy(error, callback);
  }
}
