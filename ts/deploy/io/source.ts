/**
 * Frame sources: async iterables of `{ frame, timestampMs, index }` from a video file, a camera, a
 * GStreamer pipeline or an image folder. Sources that run a child process (ffmpeg, gst-launch)
 * start it when iteration starts and kill it, waiting for its exit, on every way out: the end, an
 * error, `break`/`return` from `for await`, the AbortSignal, `close()`.
 */
import type { Readable } from 'node:stream';
import { CtEdgeError } from '../../contract/errors.js';
import type { SourceFrame } from '../stream.js';
import type { Frame, PixelFormat } from '../../contract/types.js';
import type { ManagedChild } from './child.js';

export type { SourceFrame } from '../stream.js';

export interface SourceInfo {
  kind: 'video' | 'camera' | 'gstreamer' | 'images';
  /** What was opened: a path, a device or the pipeline. */
  uri: string;
  width: number;
  height: number;
  format: PixelFormat;
  /** Frames per second when known (the file's rate, or the camera mode asked for). */
  fps: number | undefined;
  /** Frames in a file or folder when known (from the container's count, or duration x rate); undefined for live sources. */
  frameCount: number | undefined;
  /** Cameras and pipelines: frames come at their own pace and are timestamped on arrival. */
  live: boolean;
  /** NV12 sources: the colour matrix and range every frame carries (Frame.colorMatrix, colorRange). */
  colour?: Pick<Frame, 'colorMatrix' | 'colorRange'>;
}

export interface FrameSource extends AsyncIterable<SourceFrame> {
  readonly info: SourceInfo;
  /** Stops every iteration in progress (killing its child process, awaiting its exit). Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface SourceOptions {
  /** Pixel layout of the frames (default rgb); nv12 halves the bytes per frame. */
  pixelFormat?: PixelFormat;
  /** Aborting stops the source: its child is killed and iteration rejects with the signal's reason. */
  signal?: AbortSignal;
}

export const PIXEL_FORMATS: readonly PixelFormat[] = ['rgb', 'bgr', 'rgba', 'bgra', 'gray', 'nv12'];

export function checkPixelFormat(format: unknown): PixelFormat {
  if (!PIXEL_FORMATS.includes(format as PixelFormat)) {
    throw new CtEdgeError('ERR_FRAME_FORMAT', `unknown pixel format '${String(format)}'; use one of ${PIXEL_FORMATS.join(', ')}`);
  }
  return format as PixelFormat;
}

/** Packed row layout: bytes per row, and rows per frame (NV12 adds half a frame of chroma rows). */
export interface FrameLayout {
  width: number;
  height: number;
  format: PixelFormat;
  stride: number;
}

export const BYTES_PER_PIXEL: Record<PixelFormat, number> = { rgb: 3, bgr: 3, rgba: 4, bgra: 4, gray: 1, nv12: 1 };

export function frameBytes(l: FrameLayout): number {
  return l.stride * (l.format === 'nv12' ? l.height + Math.ceil(l.height / 2) : l.height);
}

/** Tight rows (what ffmpeg's rawvideo writes); NV12 must have even sizes to keep the planes aligned. */
export function packedLayout(width: number, height: number, format: PixelFormat): FrameLayout {
  if (format === 'nv12' && (width % 2 !== 0 || height % 2 !== 0)) {
    throw new CtEdgeError('ERR_FRAME_SIZE', `nv12 frames need an even width and height, got ${width}x${height}; use rgb for this source`);
  }
  return { width, height, format, stride: width * BYTES_PER_PIXEL[format] };
}

/**
 * A frame buffer in shared memory: a Tracker's inference thread reads such frames in place (no
 * copy), and they cannot be detached while a track() reads them.
 */
export function sharedFrameBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}

/** Cuts a byte stream into whole frames; each frame gets its own buffer. Returns the bytes left over. */
async function* splitFrames(stream: Readable, size: number): AsyncGenerator<Buffer, number> {
  let frame = sharedFrameBuffer(size);
  let filled = 0;
  // The stream's iterator reads only when asked, so a slow consumer stalls the child on a full pipe.
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(size - filled, chunk.length - offset);
      chunk.copy(frame, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled === size) {
        yield frame;
        frame = sharedFrameBuffer(size);
        filled = 0;
      }
    }
  }
  return filled;
}

/** Presentation times of the frames a child writes, in seconds, by the frame's position in its output. */
export interface FrameTimes {
  /** The time of frame `index`; undefined when the child will never tell (it ended first). */
  at(index: number): Promise<number | undefined>;
}

export interface ProcessSourceSpec {
  info: SourceInfo;
  layout: FrameLayout;
  signal: AbortSignal | undefined;
  /** Starts the child; frames are read from the stream `output` returns. */
  start(): ManagedChild;
  output(child: ManagedChild): Readable;
  /**
   * The frames' presentation times as the child reports them (ffmpeg: the decoder's timestamps),
   * made relative to the first frame. Without it: index / fps for files, arrival time for live sources.
   */
  times?(child: ManagedChild): FrameTimes;
  /** What a failure message names, e.g. `decoding bag.avi`. */
  what: string;
}

/** A source whose frames a child process writes as raw bytes to a pipe. */
export class ProcessSource implements FrameSource {
  readonly info: SourceInfo;
  private readonly running = new Set<ManagedChild>();
  private closed = false;

  constructor(private readonly spec: ProcessSourceSpec) {
    this.info = spec.info;
  }

  [Symbol.asyncIterator](): AsyncIterator<SourceFrame> {
    if (this.closed) throw new CtEdgeError('ERR_SOURCE', `${this.info.uri}: the source was closed`);
    let child: ManagedChild | undefined;
    const frames = this.read((c) => (child = c));
    return {
      next: () => frames.next(),
      // Kill first: a next() still waiting for output then ends, and the generator can finish.
      return: async () => {
        await child?.stop();
        await frames.return();
        return { done: true, value: undefined };
      },
    };
  }

  /** Starts the child on the first next(), so an iterator never started holds no process. */
  private async *read(started: (child: ManagedChild) => void): AsyncGenerator<SourceFrame, void> {
    const { layout, signal } = this.spec;
    signal?.throwIfAborted();
    const child = this.spec.start();
    started(child);
    this.running.add(child);
    const stop = () => void child.stop();
    signal?.addEventListener('abort', stop, { once: true });
    const { width, height, format, stride } = layout;
    const tightStride = width * BYTES_PER_PIXEL[format];
    const live = this.info.live;
    const msPerFrame = 1000 / (this.info.fps ?? 30);
    let t0: number | undefined;
    let pts0: number | undefined;
    let index = 0;
    const times = this.spec.times?.(child);
    const frames = splitFrames(this.spec.output(child), frameBytes(layout));
    try {
      let step = await frames.next();
      // Once stopped (close, abort), frames still in the pipe buffers are not handed out.
      while (!step.done && !child.stopping) {
        const now = performance.now();
        t0 ??= now;
        const pts = await times?.at(index);
        if (pts !== undefined) pts0 ??= pts;
        const timestampMs = pts !== undefined ? (pts - pts0!) * 1000 : live ? now - t0 : index * msPerFrame;
        const frame: Frame = { data: step.value, width, height, format, ...(stride !== tightStride ? { stride } : {}), ...(format === 'nv12' ? this.info.colour : {}) };
        yield { frame, timestampMs, index };
        index += 1;
        step = await frames.next();
      }
      const status = await child.exited;
      signal?.throwIfAborted();
      const notStarted = child.startError();
      if (notStarted) throw notStarted;
      if (child.stopping) return;
      if (status.code !== 0) {
        throw new CtEdgeError('ERR_SOURCE', `${this.spec.what} failed: ${child.stderr() || `${child.command} exited with ${status.code ?? status.signal}`}`);
      }
      if (step.done && step.value !== 0) throw new CtEdgeError('ERR_SOURCE', `${this.spec.what}: the stream ended inside frame ${index}`);
      if (index === 0) throw new CtEdgeError('ERR_SOURCE', `${this.spec.what}: no frames came out`);
    } catch (error) {
      signal?.throwIfAborted();
      throw error;
    } finally {
      signal?.removeEventListener('abort', stop);
      await child.stop();
      await frames.return(0);
      this.running.delete(child);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.running].map((c) => c.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
