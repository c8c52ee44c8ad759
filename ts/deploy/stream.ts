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

/**
 * A command a stream applies between two frames (remote control, e.g. MqttLink's control topic).
 * `target`: a TrackerGroup's target id (see TrackerGroup.stream); a lone tracker's stream takes
 * none (or 0).
 */
export type StreamCommand =
  /** Start tracking `box` on the next frame, or re-initialise there. */
  | { command: 'init'; box: Box; target?: number }
  /** Stop tracking: the stream goes on reading frames and yields them as `idle` until the next init. */
  | { command: 'stop'; target?: number }
  /** Re-initialise on the next frame at the box of the last init (initBox, init's or a command's). */
  | { command: 'reset'; target?: number };

/** Where a stream takes commands from, and where it says how each ended. */
export interface StreamControl {
  /** The next waiting command, applied before the coming frame; undefined when none waits. */
  nextCommand(): StreamCommand | undefined;
  /**
   * Called once per command: applied on frame `frame` (a group's init: to target `target`), or
   * refused with a typed error (a box outside the frame, a reset before any init, an unknown
   * target); a refused command leaves the track as it was.
   */
  commandDone(command: StreamCommand, outcome: { frame: number; target?: number } | { error: CtEdgeError }): void;
}

export interface StreamOptions {
  /** The target in the first frame. */
  initBox?: Box;
  /** Or: picks the target from the first frame (a detector, a user's click). */
  init?: (first: SourceFrame) => Box | Promise<Box>;
  /** Track the newest frame, dropping those that came while the tracker was busy (default false). */
  realtime?: boolean;
  /**
   * Commands between frames. With a control, initBox and init may be left out: the stream then
   * starts idle and waits for an init command.
   */
  control?: StreamControl;
}

export interface StreamResult {
  /** The source's frame index and timestamp, and the frame itself (to draw on or save). */
  index: number;
  timestampMs: number;
  frame: Frame;
  /** While idle, the last box tracked (zeros before the first). */
  box: Box;
  /** 1 on the init frame, 0 while idle. */
  score: number;
  /** `idle`: no target (only with a control: before its first init, or after a stop). */
  state: TrackState | 'idle';
  /** True for the frame the tracker was initialised on: box is the init box. */
  initial: boolean;
  /** Stage timings of the track() call; undefined on the init frame. */
  timings: StageTimings | undefined;
  /** Frames skipped so far (real-time mode; always 0 otherwise). */
  dropped: number;
}

/** Inits on the first frame (or on a command), applies commands, tracks the rest. Shared by the generator and the Transform. */
class Stepper {
  private started = false;
  /** The box of the last init, for reset. */
  private initBox: Box | undefined;
  /** Whether a target is being tracked (false before the first init and after a stop). */
  private target = false;
  private lastBox: Box = { x: 0, y: 0, width: 0, height: 0 };
  dropped = 0;

  constructor(
    private readonly tracker: StreamTracker,
    private readonly options: StreamOptions,
  ) {}

  async step(s: SourceFrame): Promise<StreamResult> {
    const base = { index: s.index, timestampMs: s.timestampMs, frame: s.frame };
    let initialised = false;
    if (!this.started) {
      this.started = true;
      const box = this.options.initBox ?? (await this.options.init?.(s));
      if (box) initialised = this.initOn(s.frame, box);
      else if (!this.options.control) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give initBox or an init callback: where the target is in the first frame');
    }
    const control = this.options.control;
    for (let c = control?.nextCommand(); c; c = control?.nextCommand()) {
      try {
        if (c.target !== undefined && c.target !== 0) {
          throw new CtEdgeError('ERR_COMMAND', `unknown target ${c.target}: this stream tracks one target, 0 (or leave "target" out)`);
        }
        if (c.command === 'stop') {
          this.target = false;
          initialised = false; // an init and a stop on one frame: the frame is idle
        } else {
          initialised = this.initOn(s.frame, c.command === 'init' ? c.box : this.resetBox());
        }
        control!.commandDone(c, { frame: s.index });
      } catch (error) {
        if (!(error instanceof CtEdgeError)) throw error;
        control!.commandDone(c, { error });
      }
    }
    if (initialised) return { ...base, box: { ...this.lastBox }, score: 1, state: 'tracking', initial: true, timings: undefined, dropped: this.dropped };
    if (!this.target) return { ...base, box: { ...this.lastBox }, score: 0, state: 'idle', initial: false, timings: undefined, dropped: this.dropped };
    const r = await this.tracker.track(s.frame);
    this.lastBox = r.box;
    return { ...base, box: r.box, score: r.score, state: r.state, initial: false, timings: r.timings, dropped: this.dropped };
  }

  /** Inits the tracker; a box it refuses (a typed error) leaves the track as it was. */
  private initOn(frame: Frame, box: Box): true {
    this.tracker.init(frame, box);
    this.initBox = { ...box };
    this.lastBox = { ...box };
    this.target = true;
    return true;
  }

  private resetBox(): Box {
    if (!this.initBox) throw new CtEdgeError('ERR_NOT_INITIALIZED', 'reset re-initialises at the last init box, and there was none yet: send init with a box');
    return this.initBox;
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
  return streamSteps(source, options, new Stepper(tracker, options));
}

/**
 * @internal The loop of trackStream() and TrackerGroup.stream(): reads the source (every frame, or
 * the newest in real-time mode, counting the rest in `stepper.dropped`) and yields a step per frame.
 */
export function streamSteps<R>(
  source: FrameStreamSource,
  options: { realtime?: boolean; signal?: AbortSignal },
  stepper: { step(s: SourceFrame): Promise<R>; dropped: number },
): AsyncGenerator<R, void, undefined> {
  return steps(sourceIterator(source), options, stepper);
}

async function* steps<R>(it: AsyncIterator<SourceFrame>, options: { realtime?: boolean; signal?: AbortSignal }, stepper: { step(s: SourceFrame): Promise<R>; dropped: number }): AsyncGenerator<R, void, undefined> {
  const { signal } = options;
  signal?.throwIfAborted();
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
