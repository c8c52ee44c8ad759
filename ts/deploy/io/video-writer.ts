/**
 * Writes frames to a video file through ffmpeg: raw RGB into its stdin, out in the container the
 * file's extension names (VIDEO_CONTAINERS) with a codec that container plays everywhere: H.264
 * (libx264, or mpeg4 when this ffmpeg lacks it) in MP4, MOV and Matroska, MPEG-4 Part 2 in AVI.
 */
import { once } from 'node:events';
import { extname, resolve } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { Frame } from '../../contract/types.js';
import { ManagedChild } from './child.js';
import { bytesOf, toRgb } from './convert.js';
import { ffmpegPath, pickH264Encoder, type FfmpegOptions } from './ffmpeg.js';

export interface VideoWriterOptions extends FfmpegOptions {
  width: number;
  height: number;
  fps: number;
  /** ffmpeg encoder (default libx264 if present, else mpeg4). */
  codec?: string;
}

/** Extensions VideoWriter writes, and whether their container takes H.264 (AVI gets MPEG-4 Part 2, what AVI players decode). */
export const VIDEO_CONTAINERS: Readonly<Record<string, { h264: boolean }>> = { '.mp4': { h264: true }, '.m4v': { h264: true }, '.mov': { h264: true }, '.mkv': { h264: true }, '.avi': { h264: false } };

/** The container of `path`, or a typed error listing the supported extensions. */
export function videoContainerOf(path: string): { h264: boolean; ext: string } {
  const ext = extname(path).toLowerCase();
  const container = VIDEO_CONTAINERS[ext];
  if (!container) throw new CtEdgeError('ERR_OUTPUT', `${path}: cannot write a '${ext || 'no extension'}' video; name it ${Object.keys(VIDEO_CONTAINERS).join(', ')}`);
  return { ...container, ext };
}

export class VideoWriter {
  private failure: Error | undefined;

  private constructor(
    readonly path: string,
    readonly codec: string,
    private readonly options: VideoWriterOptions,
    private readonly child: ManagedChild,
  ) {
    // A dead encoder makes writes fail with EPIPE; keep the error for the next write or close.
    child.process.stdin!.on('error', (error) => (this.failure ??= error));
  }

  static async open(path: string, options: VideoWriterOptions): Promise<VideoWriter> {
    const { width, height, fps } = options;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && fps > 0)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `a video needs a positive whole width and height and a positive fps, got ${width}x${height} at ${fps}`);
    }
    const full = resolve(path);
    const container = videoContainerOf(path);
    const codec = options.codec ?? (container.h264 ? await pickH264Encoder(options) : 'mpeg4');
    const quality = codec === 'libx264' ? ['-preset', 'veryfast', '-crf', '23'] : ['-q:v', '4'];
    const mp4Family = container.ext !== '.mkv' && container.ext !== '.avi';
    const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0'];
    // yuv420p (what players decode) needs even sides: pad odd ones by a pixel.
    args.push('-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-c:v', codec, ...quality, '-pix_fmt', 'yuv420p', ...(mp4Family ? ['-movflags', '+faststart'] : []), full);
    const child = new ManagedChild(ffmpegPath(options), args, { stdio: ['pipe', 'ignore', 'pipe'], tool: 'ffmpeg' });
    return new VideoWriter(full, codec, options, child);
  }

  private check(): void {
    const notStarted = this.child.startError();
    if (notStarted) throw notStarted;
    if (this.failure || this.child.process.exitCode !== null) {
      throw new CtEdgeError('ERR_OUTPUT', `ffmpeg stopped encoding ${this.path}: ${this.child.stderr() || this.failure?.message}`, { cause: this.failure });
    }
  }

  /** Appends a frame (any layout; converted to RGB); waits while ffmpeg's input pipe is full. */
  async write(frame: Frame): Promise<void> {
    if (frame.width !== this.options.width || frame.height !== this.options.height) {
      throw new CtEdgeError('ERR_FRAME_SIZE', `${this.path} is ${this.options.width}x${this.options.height}, got a ${frame.width}x${frame.height} frame`);
    }
    this.check();
    const stdin = this.child.process.stdin!;
    if (!stdin.write(bytesOf(toRgb(frame)))) {
      await Promise.race([once(stdin, 'drain'), this.child.exited]);
      this.check();
    }
  }

  /** Ends the input and waits for ffmpeg to finish the file. */
  async close(): Promise<void> {
    const stdin = this.child.process.stdin!;
    if (!stdin.writableEnded) stdin.end();
    const status = await this.child.exited;
    const notStarted = this.child.startError();
    if (notStarted) throw notStarted;
    if (status.code !== 0) {
      throw new CtEdgeError('ERR_OUTPUT', `ffmpeg could not write ${this.path}: ${this.child.stderr() || `exit ${status.code ?? status.signal}`}`);
    }
  }

  /** Stops ffmpeg at once, leaving whatever part of the file it wrote. */
  async abort(): Promise<void> {
    await this.child.stop();
  }
}
