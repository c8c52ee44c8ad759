/**
 * Many targets on one engine: `add(frame, box)` per target, then `await group.track(frame)` per frame.
 *
 * Each target is a Tracker of its own (native core: template crop at add, Hann window and decode per
 * frame), so it tracks exactly as it would alone. What the group changes is the network call: on
 * onnxruntime, with a model that takes a batch (every model `ct-edge export` writes; VitTrack after
 * `ct-edge import` + `export`), one frame is one inference for every target. The search crops go
 * into one batched input on the engine's inference thread, and the templates (or a two-part model's
 * cached template tensors) stay resident there as batched inputs, rebuilt only when a target joins,
 * leaves or re-inits. On TensorRT, with an engine built with `--max-batch N`, the GPU crops every
 * target's search window in one kernel launch and runs one enqueue for up to N targets; the targets'
 * states and template crops stay on the host (uploaded when a target joins or re-inits). A model
 * with batch 1 baked in (VitTrack's own ONNX, engines built without --max-batch) runs target by
 * target, and the group says so once, as a warning (CT_EDGE_GROUP_UNBATCHED).
 */
import { performance } from 'node:perf_hooks';
import { CtEdgeError } from '../contract/errors.js';
import type { Box, Frame, StageTimings, TrackState } from '../contract/types.js';
import type { Engine } from './engine.js';
import { loadNative } from './native.js';
import { versionAtLeast } from './tensorrt.js';
import { streamSteps, type FrameStreamSource, type SourceFrame, type StreamCommand, type StreamControl } from './stream.js';
import { checkTrackerOptions, shareFrame, Tracker, type TrackerOptions } from './tracker.js';

/** A group's options: a Tracker's (on a batched TensorRT engine `cudaGraph` does not apply: one enqueue serves the whole batch), and maxBatch. */
export interface TrackerGroupOptions extends Omit<TrackerOptions, 'inlinePreprocessing'> {
  /**
   * Most targets per inference (default: the engine's maxBatch, unbounded for a batched model on
   * onnxruntime). A group with more targets runs them in several batches of at most this many.
   */
  maxBatch?: number;
}

/** One target's answer for a frame. */
export interface TargetResult {
  /** The id add() returned. */
  id: number;
  /** Where the target is; while lost, the last box where it was seen. */
  box: Box;
  /** Hann-windowed peak of the score map (0..1), the value `lost` is judged on. */
  score: number;
  /** Per target: a lost target keeps its last box, and the others track on. */
  state: TrackState;
}

export interface GroupTrackResult {
  /** Every target in the group when track() was called, in the order they were added. */
  targets: TargetResult[];
  /** 0 for the first frame tracked by the group. */
  frameIndex: number;
  /** Inferences this frame took: 1 for a batched group within maxBatch, else more. */
  inferences: number;
  /** The whole group's stage timings (pre-processing sums every target's crop). */
  timings: StageTimings;
}

export interface GroupStreamOptions {
  /** The targets in the first frame, one box each (ids 1, 2, ... in this order). */
  initBoxes?: Box[];
  /** Or: picks the targets from the first frame (a detector, a user's clicks). */
  init?: (first: SourceFrame) => Box[] | Promise<Box[]>;
  /** Track the newest frame, dropping those that came while the group was busy (default false). */
  realtime?: boolean;
  signal?: AbortSignal;
  /**
   * Commands between frames (MqttLink's control topic): `init` without a target adds one (its id
   * in the outcome), with a target re-initialises it; `stop` removes the target (without one: every
   * target); `reset` re-initialises the target at its last init box (without one: every target).
   * With a control, initBoxes may be left out: the group starts with no targets.
   */
  control?: StreamControl;
}

export interface GroupStreamResult {
  /** The source's frame index and timestamp, and the frame itself (to draw on or save). */
  index: number;
  timestampMs: number;
  frame: Frame;
  /** Targets (re)initialised on this frame report their init box with score 1; none while the group is empty. */
  targets: TargetResult[];
  /** True for a frame targets were added on (the first, or one an init command applied to). */
  initial: boolean;
  /** Stage timings of the group's track() call; undefined on the init frame. */
  timings: StageTimings | undefined;
  /** Frames skipped so far (real-time mode; always 0 otherwise). */
  dropped: number;
}

const isFrameSize = (w: unknown, h: unknown): w is number => typeof w === 'number' && typeof h === 'number';

export class TrackerGroup {
  readonly engine: Engine;
  private readonly options: TrackerOptions;
  /** Most targets per inference. */
  readonly maxBatch: number;
  /** Targets per inference on the engine's thread; 1 after a batched run failed (a false batch). */
  private chunk: number;
  private readonly targets = new Map<number, Tracker>();
  /** Each target's last init box (a stream's reset command starts it there again). */
  private readonly initBoxes = new Map<number, Box>();
  private nextId = 1;
  /** The frame size the targets were added on: every frame must have it. */
  private frameSize: { width: number; height: number } | undefined;
  private frameIndex = -1;
  private readonly groupName: string | undefined;
  /** A batched group on TensorRT: its targets keep their state on the host, the GPU crops and infers. */
  private readonly onGpu: boolean;
  /** The most targets the group takes (TensorRT 8.5: one batch); unbounded elsewhere. */
  private readonly maxTargets: number = Number.POSITIVE_INFINITY;
  /** Batches run so far at most in one frame (each keeps its resident inputs on the inference thread). */
  private batchesUsed = 0;
  /** Shared memory an ordinary-memory frame's searched part is copied into, once for all targets. */
  private readonly staging: { bytes?: Uint8Array } = {};
  private warned = false;
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** track() calls queued or running: a re-init meanwhile replaces the target's tracker instead of changing it. */
  private inFlight = 0;

  constructor(engine: Engine, options: TrackerGroupOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `TrackerGroup options must be an object (TrackerGroupOptions) or left out, got ${options === null ? 'null' : typeof options}`);
    }
    const { maxBatch, ...trackerOptions } = options;
    checkTrackerOptions(engine, trackerOptions, 'new TrackerGroup(engine, options?)');
    if (maxBatch !== undefined && !(typeof maxBatch === 'number' && Number.isInteger(maxBatch) && maxBatch >= 1)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `maxBatch must be a whole number from 1 up, got ${typeof maxBatch === 'number' ? maxBatch : typeof maxBatch}`);
    }
    this.engine = engine;
    this.options = trackerOptions;
    this.maxBatch = Math.min(maxBatch ?? engine.maxBatch, engine.maxBatch);
    this.chunk = this.maxBatch;
    // Groups whose model takes a batch run on the engine's thread (runGroup) or the GPU
    // (runGpuGroup); others tracker by tracker.
    if (engine.maxBatch > 1 && this.maxBatch > 1) this.groupName = engine.newGroupName();
    this.onGpu = this.groupName !== undefined && engine.backend !== 'onnxruntime-cpu';
    // TensorRT 8.5 gives an engine's batch profile to one execution context: one batch per group.
    const trt = this.onGpu ? loadNative().tensorrt : undefined;
    if (trt && !versionAtLeast(trt.version, 8, 6)) this.maxTargets = this.maxBatch;
  }

  /** Whether one inference takes several targets (else target by target). */
  get batched(): boolean {
    return this.groupName !== undefined && this.chunk > 1;
  }

  /** Says once that the group runs target by target, and why. */
  private warnUnbatched(why: string): void {
    if (this.warned) return;
    this.warned = true;
    process.emitWarning(`this tracker group runs its targets one inference each: ${why}`, { code: 'CT_EDGE_GROUP_UNBATCHED' });
  }

  /** The ids of the targets in the group, in the order they were added. */
  get ids(): number[] {
    return [...this.targets.keys()];
  }

  get size(): number {
    return this.targets.size;
  }

  private live(): void {
    if (this.disposed) throw new CtEdgeError('ERR_DISPOSED', 'this tracker group was disposed; create a new one');
  }

  /** A frame of the group's size (the first target's frame sets it). */
  private checkFrameSize(frame: Frame, size = this.frameSize): void {
    const { width, height } = (frame ?? {}) as Partial<Frame>;
    if (!size || !isFrameSize(width, height)) return; // the native checks name what is wrong
    if (width !== size.width || height !== size.height) {
      throw new CtEdgeError(
        'ERR_FRAME_SIZE',
        `this frame is ${width}x${height}, but the group's targets were added on ${size.width}x${size.height} frames; ` +
          'a group tracks one stream: give it frames of one size, or remove every target first',
      );
    }
  }

  private target(id: number): Tracker {
    const tracker = typeof id === 'number' ? this.targets.get(id) : undefined;
    if (!tracker) {
      throw new CtEdgeError('ERR_TARGET_UNKNOWN', `no target ${typeof id === 'number' ? id : `'${String(id)}'`} in this group; its targets are ${this.ids.length > 0 ? this.ids.join(', ') : 'none'}`);
    }
    return tracker;
  }

  /** Starts tracking a target at `box` in `frame`; returns its id. A refused box adds nothing. */
  add(frame: Frame, box: Box): number {
    this.live();
    this.checkFrameSize(frame);
    if (this.targets.size >= this.maxTargets) {
      throw new CtEdgeError(
        'ERR_INVALID_ARGUMENT',
        `this group already tracks ${this.targets.size} targets, its largest batch on ${this.engine.path}, and TensorRT ${loadNative().tensorrt?.version} runs one batch per engine: ` +
          (this.maxBatch < this.engine.maxBatch ? `raise the group's maxBatch (up to ${this.engine.maxBatch}), ` : 'build the engine with a larger --max-batch, ') +
          'or load the engine again (Engine.load) for a second group',
      );
    }
    const tracker = this.startedTracker(frame, box);
    const id = this.nextId++;
    this.targets.set(id, tracker);
    this.initBoxes.set(id, { ...box });
    this.frameSize ??= { width: frame.width, height: frame.height };
    if (!this.batched && this.targets.size === 2) {
      this.warnUnbatched(
        this.engine.backend === 'onnxruntime-cpu'
          ? `${this.engine.path} has batch 1 baked in (ct-edge export writes models that take a batch; a foreign ONNX such as VitTrack's: ct-edge import it, then export)`
          : this.engine.twoPartOnGpu
            ? `${this.engine.path} is a two-part model's engine, one target per enqueue (to batch, export the checkpoint as one graph, ct-edge export --single-graph, and build that with --max-batch N)`
            : `${this.engine.path} takes batch 1 (build it with ct-edge build-engine --max-batch N from a model that takes a batch)`,
      );
    }
    return id;
  }

  /**
   * Re-initialises target `id` at `box` in `frame` (after a loss, say); a refused box leaves it as
   * it was. A track() already called reports the target as it was before.
   */
  reinit(id: number, frame: Frame, box: Box): void {
    this.live();
    const tracker = this.target(id);
    this.checkFrameSize(frame);
    if (this.inFlight === 0) {
      tracker.init(frame, box);
    } else {
      // A frame in flight still reads this target's tracker: the new track gets a tracker of its own.
      this.targets.set(id, this.startedTracker(frame, box));
      void this.queue.then(() => tracker.dispose());
    }
    this.initBoxes.set(id, { ...box });
  }

  /** A new tracker initialised at `box`; nothing is left behind when the box is refused. */
  private startedTracker(frame: Frame, box: Box): Tracker {
    const tracker = new Tracker(this.engine, this.options, this.onGpu);
    try {
      tracker.init(frame, box);
    } catch (error) {
      tracker.dispose();
      throw error;
    }
    return tracker;
  }

  /** Drops target `id`; a track() already called still reports it. */
  remove(id: number): void {
    this.live();
    const tracker = this.target(id);
    this.targets.delete(id);
    this.initBoxes.delete(id);
    if (this.targets.size === 0) this.frameSize = undefined;
    void this.queue.then(() => tracker.dispose());
  }

  /** Finds every target in the next frame. Calls are served in order, one at a time. */
  track(frame: Frame): Promise<GroupTrackResult> {
    return this.trackOnly(frame, undefined);
  }

  /**
   * track() of the targets not in `skip` (a stream's targets just initialised on this frame). The
   * targets are those of the group now, when the call is made, even if it waits for another.
   */
  private trackOnly(frame: Frame, skip: ReadonlySet<number> | undefined): Promise<GroupTrackResult> {
    const targets = [...this.targets].filter(([id]) => !skip?.has(id));
    const size = this.frameSize;
    this.inFlight += 1;
    const result = this.queue.then(() => this.trackNow(frame, targets, size)).finally(() => (this.inFlight -= 1));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async trackNow(frame: Frame, targets: [number, Tracker][], size: { width: number; height: number } | undefined): Promise<GroupTrackResult> {
    this.live();
    if (targets.length === 0) throw new CtEdgeError('ERR_NOT_INITIALIZED', 'this tracker group has no targets: add(frame, box) one before track(frame)');
    this.checkFrameSize(frame, size);
    const t0 = performance.now();
    if (this.groupName === undefined) {
      const results: TargetResult[] = [];
      const sum: StageTimings = { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, totalMs: 0 };
      for (const [id, tracker] of targets) {
        const r = await tracker.track(frame);
        results.push({ id, box: r.box, score: r.score, state: r.state });
        sum.preprocessMs += r.timings.preprocessMs;
        sum.inferenceMs += r.timings.inferenceMs;
        sum.postprocessMs += r.timings.postprocessMs;
      }
      this.frameIndex += 1;
      return { targets: results, frameIndex: this.frameIndex, inferences: targets.length, timings: { ...sum, totalMs: performance.now() - t0 } };
    }
    if (this.onGpu) return this.trackOnGpu(frame, targets, t0);
    // Every read of the caller's frame happens before the first await, as in Tracker.track(): a
    // frame in ordinary memory is copied once, the part all the search crops read.
    const placed = targets.map(([, tracker]) => tracker.groupPlace(frame));
    const shared = shareFrame(frame, placed.map((p) => p.region), this.staging);
    const members = targets.map(([, tracker], i) => {
      const { x0, y0, side } = placed[i].window;
      return tracker.groupMember({ frame: shared.frame, window: { x0: x0 - shared.origin.x, y0: y0 - shared.origin.y, side } });
    });
    const t1 = performance.now();
    const run = () => {
      const runs: Promise<{ preprocessMs: number; inferenceMs: number }>[] = [];
      for (let start = 0, batch = 0; start < members.length; start += this.chunk, batch++) {
        runs.push(this.engine.runGroup(`${this.groupName}:${batch}`, members.slice(start, start + this.chunk)));
      }
      this.batchesUsed = Math.max(this.batchesUsed, runs.length);
      return Promise.all(runs);
    };
    let times: { preprocessMs: number; inferenceMs: number }[];
    try {
      times = await run();
    } catch (error) {
      // A model whose inputs declare a batch but whose graph fixes it at 1 fails here: from now on
      // (this frame included, on the crops already staged) one target per inference, said once.
      if (!(error instanceof CtEdgeError) || error.code === 'ERR_DISPOSED' || this.chunk === 1 || members.length < 2) throw error;
      this.chunk = 1;
      this.warnUnbatched(`${this.engine.path} declares a batch, but a batch of ${Math.min(members.length, this.maxBatch)} failed (${error.message.split('\n')[0]})`);
      times = await run();
    }
    const inferences = times.length;
    const t2 = performance.now();
    const timings = {
      preprocessMs: t1 - t0 + times.reduce((a, t) => a + t.preprocessMs, 0),
      inferenceMs: times.reduce((a, t) => a + t.inferenceMs, 0),
      postprocessMs: 0,
      totalMs: 0,
    };
    const results = targets.map(([id, tracker]) => {
      const r = tracker.groupResult(timings);
      return { id, box: r.box, score: r.score, state: r.state };
    });
    const t3 = performance.now();
    this.frameIndex += 1;
    return { targets: results, frameIndex: this.frameIndex, inferences, timings: { ...timings, postprocessMs: t3 - t2, totalMs: t3 - t0 } };
  }

  /**
   * A batched group's frame on TensorRT: each target places its search window on the host; the
   * GPU crops them all in one launch and runs one enqueue per batch of at most maxBatch (each
   * TrtGroup reads the frame before its run() returns, so before the first await); each target
   * decodes its part of the maps.
   */
  private async trackOnGpu(frame: Frame, targets: [number, Tracker][], t0: number): Promise<GroupTrackResult> {
    const members = targets.map(([, tracker]) => tracker.gpuGroupMember(tracker.groupPlace(frame).window));
    const config = { ...targets[0][1].gpuGroupConfig, maxBatch: this.chunk };
    const t1 = performance.now(); // the runs' own stageMs counts their copies on this thread
    const runs: ReturnType<Engine['runGpuGroup']>[] = [];
    let refused: unknown;
    for (let start = 0, batch = 0; start < members.length; start += this.chunk, batch++) {
      this.batchesUsed = Math.max(this.batchesUsed, batch + 1); // dispose() frees every native group made
      try {
        runs.push(this.engine.runGpuGroup(`${this.groupName}:${batch}`, config, frame, members.slice(start, start + this.chunk)));
      } catch (error) {
        refused = error;
        break;
      }
    }
    // Every batch settles before this frame ends, failed or not: the next frame finds none busy.
    const settled = await Promise.allSettled(runs);
    if (refused !== undefined) throw refused;
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const outputs = settled.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<Engine['runGpuGroup']>>>).value);
    const t2 = performance.now();
    const timings = {
      preprocessMs: t1 - t0 + outputs.reduce((a, o) => a + o.timings.stageMs + o.timings.preprocessMs, 0),
      inferenceMs: outputs.reduce((a, o) => a + o.timings.inferMs, 0),
      postprocessMs: 0,
      totalMs: 0,
    };
    const cells = this.engine.config.featureSize ** 2;
    const results = targets.map(([id, tracker], i) => {
      const o = outputs[Math.floor(i / this.chunk)];
      const j = i % this.chunk;
      const maps = { score: o.score.subarray(j * cells, (j + 1) * cells), size: o.size.subarray(2 * j * cells, 2 * (j + 1) * cells), offset: o.offset.subarray(2 * j * cells, 2 * (j + 1) * cells) };
      const r = tracker.groupResult(timings, maps);
      return { id, box: r.box, score: r.score, state: r.state };
    });
    const t3 = performance.now();
    this.frameIndex += 1;
    return { targets: results, frameIndex: this.frameIndex, inferences: outputs.length, timings: { ...timings, postprocessMs: t3 - t2, totalMs: t3 - t0 } };
  }

  /**
   * Tracks a source frame by frame: adds the targets on the first frame (`initBoxes` or `init`),
   * yields that frame's result (`initial: true`), then one result per frame, with the back-pressure
   * and real-time modes of Tracker.stream().
   */
  stream(source: FrameStreamSource, options: GroupStreamOptions = {}): AsyncGenerator<GroupStreamResult, void, undefined> {
    if (options === null || typeof options !== 'object') {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `stream options must be an object (GroupStreamOptions) or left out, got ${options === null ? 'null' : typeof options}`);
    }
    if (options.initBoxes !== undefined && !Array.isArray(options.initBoxes)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `initBoxes must be an array of boxes, got ${typeof options.initBoxes}`);
    }
    let started = false;
    const stepper = {
      dropped: 0,
      step: async (s: SourceFrame): Promise<GroupStreamResult> => {
        const base = { index: s.index, timestampMs: s.timestampMs, frame: s.frame, dropped: stepper.dropped };
        /** Targets (re)initialised on this frame: reported at their init box, not tracked. */
        const fresh = new Set<number>();
        if (!started) {
          started = true;
          const boxes = options.initBoxes ?? (await options.init?.(s));
          if (Array.isArray(boxes) && boxes.length > 0) for (const box of boxes) fresh.add(this.add(s.frame, box));
          else if (this.size === 0 && !options.control) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give initBoxes or an init callback: where the targets are in the first frame');
        }
        const control = options.control;
        for (let c = control?.nextCommand(); c; c = control?.nextCommand()) {
          try {
            control!.commandDone(c, { frame: s.index, ...this.apply(c, s.frame, fresh) });
          } catch (error) {
            if (!(error instanceof CtEdgeError)) throw error;
            control!.commandDone(c, { error });
          }
        }
        const initial = [...fresh].filter((id) => this.targets.has(id));
        const inits = initial.map((id) => ({ id, box: { ...this.initBoxes.get(id)! }, score: 1, state: 'tracking' as const }));
        if (this.size === initial.length) return { ...base, targets: inits, initial: initial.length > 0, timings: undefined };
        const r = await this.trackOnly(s.frame, fresh);
        const targets = [...r.targets, ...inits].sort((a, b) => a.id - b.id);
        return { ...base, targets, initial: initial.length > 0, timings: r.timings };
      },
    };
    return streamSteps(source, options, stepper);
  }

  /** A stream command on `frame`; returns the target an init added. A refused command changes nothing. */
  private apply(c: StreamCommand, frame: Frame, fresh: Set<number>): { target?: number } {
    const ids = c.target === undefined ? this.ids : [c.target];
    if (c.target !== undefined) this.target(c.target); // ERR_TARGET_UNKNOWN before anything changes
    switch (c.command) {
      case 'init':
        if (c.target === undefined) {
          const id = this.add(frame, c.box);
          fresh.add(id);
          return { target: id };
        }
        this.reinit(c.target, frame, c.box);
        fresh.add(c.target);
        return { target: c.target };
      case 'stop':
        for (const id of ids) {
          this.remove(id);
          fresh.delete(id);
        }
        return {};
      case 'reset':
        if (ids.length === 0) throw new CtEdgeError('ERR_NOT_INITIALIZED', 'reset re-initialises targets at their last init boxes, and the group has none: send init with a box');
        for (const id of ids) {
          this.reinit(id, frame, this.initBoxes.get(id)!);
          fresh.add(id);
        }
        return c.target === undefined ? {} : { target: c.target };
    }
  }

  /** Drops every target and frees the group's inputs on the engine's thread. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const trackers = [...this.targets.values()];
    this.targets.clear();
    for (const t of trackers) t.dispose();
    for (let batch = 0; batch < this.batchesUsed; batch++) this.engine.releaseGroup(`${this.groupName}:${batch}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.queue;
    this.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
