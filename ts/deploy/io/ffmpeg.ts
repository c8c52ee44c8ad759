/**
 * Video files and V4L2 cameras through ffmpeg: ffprobe reads the size and rate, ffmpeg decodes to
 * raw frames (rgb24 by default, or nv12, ...) on its stdout.
 */
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, join, resolve } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { PixelFormat } from '../../contract/types.js';
import { ManagedChild, runToCompletion } from './child.js';
import { checkPixelFormat, packedLayout, ProcessSource, type FrameSource, type SourceOptions } from './source.js';

export interface FfmpegOptions {
  /** ffmpeg to run (default: `$FFMPEG_PATH`, else ffmpeg on PATH, else the one of `@ffmpeg-installer/ffmpeg`). */
  ffmpegPath?: string;
  /** ffprobe to run (default: `$FFPROBE_PATH`, else ffprobe on PATH, else the one of `@ffprobe-installer/ffprobe`). */
  ffprobePath?: string;
}

export type FfmpegTool = 'ffmpeg' | 'ffprobe';
/** Where the tool came from: the caller's option, `$FFMPEG_PATH`/`$FFPROBE_PATH`, the system's PATH, or the npm package. */
export type FfmpegToolSource = 'option' | 'env' | 'system' | 'npm';
export interface ResolvedFfmpegTool {
  path: string;
  source: FfmpegToolSource;
}

const TOOL_ORIGINS: Record<FfmpegTool, { option: keyof FfmpegOptions; env: string; npm: string }> = {
  ffmpeg: { option: 'ffmpegPath', env: 'FFMPEG_PATH', npm: '@ffmpeg-installer/ffmpeg' },
  ffprobe: { option: 'ffprobePath', env: 'FFPROBE_PATH', npm: '@ffprobe-installer/ffprobe' },
};

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable file called `name` in the folders of `searchPath` (default `$PATH`). */
export function findOnPath(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const names = process.platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const folder of searchPath.split(delimiter).filter(Boolean)) {
    const hit = names.map((n) => join(folder, n)).find(isExecutableFile);
    if (hit) return hit;
  }
  return undefined;
}

const requireOptional = createRequire(import.meta.url);

/** The binary an ffmpeg-installer package ships, when it is installed and has one for this platform. */
function npmBinary(tool: FfmpegTool): string | undefined {
  try {
    const { path } = requireOptional(TOOL_ORIGINS[tool].npm) as { path?: unknown };
    if (typeof path !== 'string') return undefined;
    // The package's own postinstall is `chmod u+x`; where install scripts did not run
    // (--ignore-scripts, npm's allowScripts), do what it would have done.
    if (!isExecutableFile(path) && statSync(path).isFile()) chmodSync(path, statSync(path).mode | 0o100);
    return isExecutableFile(path) ? path : undefined;
  } catch {
    return undefined; // not installed, or no build for this platform (the packages throw then)
  }
}

/** The system's tool on `searchPath`, else the npm package's; undefined when neither is there. Not cached. */
export function locateFfmpegTool(tool: FfmpegTool, searchPath?: string): ResolvedFfmpegTool | undefined {
  const system = findOnPath(tool, searchPath);
  if (system) return { path: system, source: 'system' };
  const npm = npmBinary(tool);
  return npm ? { path: npm, source: 'npm' } : undefined;
}

const located = new Map<FfmpegTool, ResolvedFfmpegTool | undefined>();

/**
 * Which ffmpeg or ffprobe runs, and why: the option, else the environment variable, else the
 * system's on PATH, else the npm package's (PATH and the package are looked up once per process).
 * Undefined when there is none.
 */
export function resolveFfmpegTool(tool: FfmpegTool, options: FfmpegOptions = {}): ResolvedFfmpegTool | undefined {
  const origin = TOOL_ORIGINS[tool];
  const option = options[origin.option];
  if (option) return { path: option, source: 'option' };
  const env = process.env[origin.env];
  if (env) return { path: env, source: 'env' };
  if (!located.has(tool)) located.set(tool, locateFfmpegTool(tool));
  return located.get(tool);
}

/** The command to run; the bare name when none is found, so that starting it fails with the install hint. */
export const ffmpegPath = (o: FfmpegOptions = {}): string => resolveFfmpegTool('ffmpeg', o)?.path ?? 'ffmpeg';
export const ffprobePath = (o: FfmpegOptions = {}): string => resolveFfmpegTool('ffprobe', o)?.path ?? 'ffprobe';

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
