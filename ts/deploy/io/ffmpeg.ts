/**
 * Video files and V4L2 cameras through ffmpeg: ffprobe reads the size and rate, ffmpeg decodes to
 * raw frames (rgb24 by default, or nv12, ...) on its stdout.
 */
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { PixelFormat } from '../../contract/types.js';
import { ManagedChild, runToCompletion } from './child.js';
import { checkPixelFormat, packedLayout, ProcessSource, type FrameSource, type SourceOptions } from './source.js';

export interface FfmpegOptions {
  /** ffmpeg to run (default `$FFMPEG_PATH` or `ffmpeg` on PATH). */
  ffmpegPath?: string;
  /** ffprobe to run (default `$FFPROBE_PATH` or `ffprobe` on PATH). */
  ffprobePath?: string;
}

export const ffmpegPath = (o: FfmpegOptions = {}): string => o.ffmpegPath ?? process.env.FFMPEG_PATH ?? 'ffmpeg';
export const ffprobePath = (o: FfmpegOptions = {}): string => o.ffprobePath ?? process.env.FFPROBE_PATH ?? 'ffprobe';

/** ffmpeg's names for the frame layouts. */
export const FFMPEG_PIX_FMT: Record<PixelFormat, string> = { rgb: 'rgb24', bgr: 'bgr24', rgba: 'rgba', bgra: 'bgra', gray: 'gray', nv12: 'nv12' };

export interface VideoProbe {
  width: number;
  height: number;
  fps: number | undefined;
  frameCount: number | undefined;
}

function parseRate(text: string | undefined): number | undefined {
  const [num, den] = (text ?? '').split('/').map(Number);
  const rate = den ? num / den : num;
  return Number.isFinite(rate) && rate > 0 ? rate : undefined;
}

/** Size, rate and frame count of the first video stream, as ffmpeg will decode it (rotation applied). */
export async function probeVideo(input: string, inputArgs: readonly string[] = [], options: FfmpegOptions = {}): Promise<VideoProbe> {
  const args = ['-v', 'error', ...inputArgs, '-select_streams', 'v:0', '-show_entries', 'stream=width,height,avg_frame_rate,r_frame_rate,nb_frames:stream_side_data=rotation:format=duration', '-of', 'json', input];
  const out = await runToCompletion(ffprobePath(options), args, `cannot read video ${input}`, 'ffprobe');
  const json = JSON.parse(out) as {
    streams?: { width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; nb_frames?: string; side_data_list?: { rotation?: number }[] }[];
    format?: { duration?: string };
  };
  const s = json.streams?.[0];
  if (!s?.width || !s.height) throw new CtEdgeError('ERR_SOURCE', `cannot read video ${input}: ffprobe found no video stream in it (is it a video file?)`);
  // ffmpeg turns frames upright by the display matrix (phone videos), which swaps the sides at 90 degrees.
  const rotation = s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? 0;
  const quarter = Math.abs(rotation) % 180 === 90;
  const fps = parseRate(s.avg_frame_rate) ?? parseRate(s.r_frame_rate);
  const counted = Number(s.nb_frames);
  const duration = Number(json.format?.duration);
  const frameCount = counted > 0 ? counted : fps && duration > 0 ? Math.round(duration * fps) : undefined;
  return { width: quarter ? s.height : s.width, height: quarter ? s.width : s.height, fps, frameCount };
}

export interface VideoOptions extends SourceOptions, FfmpegOptions {
  /** Deliver frames at the video's own rate (ffmpeg -re), as a camera would: a live-camera rehearsal. */
  paced?: boolean;
}

/** A video file (anything ffmpeg reads) as a frame source. */
export async function openVideo(path: string, options: VideoOptions = {}): Promise<FrameSource> {
  const full = resolve(path);
  const format = checkPixelFormat(options.pixelFormat ?? 'rgb');
  const info = await stat(full).catch(() => undefined);
  if (!info) throw new CtEdgeError('ERR_SOURCE', `video not found: ${full}`);
  if (!info.isFile()) throw new CtEdgeError('ERR_SOURCE', `${full} is not a video file`);
  const probe = await probeVideo(full, [], options);
  const layout = packedLayout(probe.width, probe.height, format);
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', ...(options.paced ? ['-re'] : []), '-i', full];
  args.push('-map', '0:v:0', '-f', 'rawvideo', '-pix_fmt', FFMPEG_PIX_FMT[format], 'pipe:1');
  return new ProcessSource({
    info: { kind: 'video', uri: full, width: probe.width, height: probe.height, format, fps: probe.fps, frameCount: probe.frameCount, live: false },
    layout,
    signal: options.signal,
    start: () => new ManagedChild(ffmpegPath(options), args, { stdio: ['ignore', 'pipe', 'pipe'], tool: 'ffmpeg' }),
    output: (child) => child.process.stdout!,
    what: `decoding ${full}`,
  });
}

export interface CameraOptions extends SourceOptions, FfmpegOptions {
  /** Camera mode to ask for; default the driver's current one. */
  width?: number;
  height?: number;
  fps?: number;
  /** The camera's own encoding, e.g. `mjpeg` (most USB cameras reach 30 fps at 720p only in MJPEG) or `yuyv422`. */
  inputFormat?: string;
}

async function listCameras(): Promise<string[]> {
  const names = await readdir('/dev').catch(() => [] as string[]);
  return names.filter((n) => /^video\d+$/.test(n)).map((n) => `/dev/${n}`);
}

/** A V4L2 camera (`/dev/videoN`) through ffmpeg; frames are timestamped as they arrive. */
export async function openCamera(device: string, options: CameraOptions = {}): Promise<FrameSource> {
  const format = checkPixelFormat(options.pixelFormat ?? 'rgb');
  const info = await stat(device).catch(() => undefined);
  if (!info) {
    const present = await listCameras();
    throw new CtEdgeError('ERR_SOURCE', `camera ${device} does not exist; cameras present: ${present.length ? present.join(', ') : 'none'} (\`v4l2-ctl --list-devices\` lists them)`);
  }
  if (!info.isCharacterDevice()) throw new CtEdgeError('ERR_SOURCE', `${device} is not a camera device`);
  await access(device, constants.R_OK | constants.W_OK).catch(() => {
    throw new CtEdgeError('ERR_SOURCE', `no permission to open ${device}; add your user to the video group: \`sudo usermod -aG video $USER\`, then log in again`);
  });
  const inputArgs = ['-f', 'v4l2'];
  if (options.inputFormat) inputArgs.push('-input_format', options.inputFormat);
  if (options.fps) inputArgs.push('-framerate', String(options.fps));
  if (options.width && options.height) inputArgs.push('-video_size', `${options.width}x${options.height}`);
  const probe = await probeVideo(device, inputArgs, options);
  const layout = packedLayout(probe.width, probe.height, format);
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', ...inputArgs, '-i', device, '-f', 'rawvideo', '-pix_fmt', FFMPEG_PIX_FMT[format], 'pipe:1'];
  return new ProcessSource({
    info: { kind: 'camera', uri: device, width: probe.width, height: probe.height, format, fps: options.fps ?? probe.fps, frameCount: undefined, live: true },
    layout,
    signal: options.signal,
    start: () => new ManagedChild(ffmpegPath(options), args, { stdio: ['ignore', 'pipe', 'pipe'], tool: 'ffmpeg' }),
    output: (child) => child.process.stdout!,
    what: `reading camera ${device}`,
  });
}

const encoders = new Map<string, Promise<string>>();

/** libx264 when this ffmpeg has it (Debian's and Homebrew's do), else its built-in mpeg4. */
export function pickH264Encoder(options: FfmpegOptions = {}): Promise<string> {
  const path = ffmpegPath(options);
  let pick = encoders.get(path);
  if (!pick) {
    pick = runToCompletion(path, ['-hide_banner', '-encoders'], 'cannot list ffmpeg encoders', 'ffmpeg').then((out) => (/\blibx264\b/.test(out) ? 'libx264' : 'mpeg4'));
    pick.catch(() => encoders.delete(path));
    encoders.set(path, pick);
  }
  return pick;
}
