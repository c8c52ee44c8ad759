/**
 * Video files, network streams and V4L2 cameras through ffmpeg: ffprobe reads the size and rate,
 * ffmpeg decodes to raw frames (rgb24 by default, or nv12, ...) on its stdout, each decoded frame
 * once with its presentation time.
 */
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, join, resolve } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { Frame, PixelFormat } from '../../contract/types.js';
import { ManagedChild, runToCompletion } from './child.js';
import { checkPixelFormat, packedLayout, ProcessSource, type FrameSource, type FrameTimes, type SourceInfo, type SourceOptions } from './source.js';

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
  /** The colour of the NV12 frames ffmpeg makes from the stream (nv12Colour); undefined: one the crop cannot decode. */
  nv12Colour?: Pick<Frame, 'colorMatrix' | 'colorRange'>;
  /** The stream's colour matrix as ffprobe names it, for messages. */
  colorSpace?: string;
}

/**
 * The colour matrix and range of the NV12 frames ffmpeg outputs for a stream of this pixel format
 * and colour tags. From YUV ffmpeg repacks the planes, so they keep the stream's matrix (BT.709
 * where the stream says so, as HD video and hardware encoders do; else BT.601) and range; the JPEG
 * formats (yuvj*) and RGB or grey sources go through swscale, which writes BT.601 limited range.
 * Other matrices (BT.2020, SMPTE 240M, YCgCo) give undefined: the crop cannot decode them.
 */
export function nv12Colour(stream: { pix_fmt?: string; color_space?: string; color_range?: string }): Pick<Frame, 'colorMatrix' | 'colorRange'> | undefined {
  const pixFmt = stream.pix_fmt ?? '';
  const repacked = /^(yuv|nv)/.test(pixFmt) && !pixFmt.startsWith('yuvj');
  if (!repacked) return { colorMatrix: 'bt601', colorRange: 'limited' };
  const space = stream.color_space ?? 'unknown';
  const colorMatrix = space === 'bt709' ? 'bt709' : ['smpte170m', 'bt470bg', 'unknown', ''].includes(space) ? 'bt601' : undefined;
  return colorMatrix && { colorMatrix, colorRange: stream.color_range === 'pc' ? 'full' : 'limited' };
}

/** The colour NV12 frames of this probe carry; a matrix the crop cannot decode is ERR_FRAME_FORMAT, naming the way out. */
function nv12ColourOf(probe: VideoProbe, input: string): Pick<Frame, 'colorMatrix' | 'colorRange'> {
  if (probe.nv12Colour) return probe.nv12Colour;
  // Network streams are probed from ffmpeg's own banner, which names no colour: BT.601 limited.
  if (probe.colorSpace === undefined) return { colorMatrix: 'bt601', colorRange: 'limited' };
  throw new CtEdgeError(
    'ERR_FRAME_FORMAT',
    `${input} is in the ${probe.colorSpace} colour matrix, which NV12 frames cannot carry to the tracker (it reads bt601 and bt709): use pixelFormat 'rgb' (--pixel-format rgb), and ffmpeg converts the colours`,
  );
}

function parseRate(text: string | undefined): number | undefined {
  const [num, den] = (text ?? '').split('/').map(Number);
  const rate = den ? num / den : num;
  return Number.isFinite(rate) && rate > 0 ? rate : undefined;
}

/** Size, rate and frame count of the first video stream, as ffmpeg will decode it (rotation applied). */
export async function probeVideo(input: string, inputArgs: readonly string[] = [], options: FfmpegOptions = {}): Promise<VideoProbe> {
  const args = ['-v', 'error', ...inputArgs, '-select_streams', 'v:0', '-show_entries', 'stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,pix_fmt,color_space,color_range:stream_side_data=rotation:format=duration', '-of', 'json', input];
  const out = await runToCompletion(ffprobePath(options), args, `cannot read video ${input}`, 'ffprobe');
  const json = JSON.parse(out) as {
    streams?: { width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; nb_frames?: string; pix_fmt?: string; color_space?: string; color_range?: string; side_data_list?: { rotation?: number }[] }[];
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
  return { width: quarter ? s.height : s.width, height: quarter ? s.width : s.height, fps, frameCount, nv12Colour: nv12Colour(s), colorSpace: s.color_space };
}

const passthroughFlags = new Map<string, Promise<string[]>>();

/**
 * ffmpeg's flag for "every decoded frame once, with its own timestamp" (no duplicates or drops to
 * make a constant rate, which is what rawvideo output gets by default): `-fps_mode passthrough`
 * from ffmpeg 5.1, `-vsync passthrough` before (the npm build is 4.1). Asked once per ffmpeg.
 */
export function passthroughFlag(options: FfmpegOptions = {}): Promise<string[]> {
  const path = ffmpegPath(options);
  let flag = passthroughFlags.get(path);
  if (!flag) {
    const probe = ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'nullsrc=s=16x16:d=0.1', '-fps_mode', 'passthrough', '-f', 'null', '-'];
    flag = runToCompletion(path, probe, 'ffmpeg -fps_mode', 'ffmpeg').then(
      () => ['-fps_mode', 'passthrough'],
      () => ['-vsync', 'passthrough'],
    );
    passthroughFlags.set(path, flag);
  }
  return flag;
}

const SHOWINFO_WAIT_MS = 3000;

/**
 * The presentation time of each frame ffmpeg outputs, from its showinfo filter (a line per frame
 * on stderr, `n: <i> pts: <t> pts_time: <seconds>`), matched to frames by position.
 */
class ShowinfoTimes implements FrameTimes {
  private readonly times: number[] = [];
  private ended = false;
  private givenUp = false;
  private waiters: (() => void)[] = [];

  /** ManagedChild's stderrLine: consumes showinfo's lines. */
  readonly line = (text: string): boolean => {
    if (!text.includes('showinfo')) return false;
    const m = /\bn:\s*(\d+)\s.*\bpts_time:\s*(-?[\d.]+(?:e[-+]?\d+)?)/.exec(text);
    if (m && Number(m[1]) === this.times.length) {
      this.times.push(Number(m[2]));
      this.wake();
    }
    return true;
  };

  attach(child: ManagedChild): this {
    const end = () => {
      this.ended = true;
      this.wake();
    };
    // The end of stderr, not the process's exit: 'exit' can come while the last frames' showinfo
    // lines still wait in the pipe, and those frames then got the fallback timestamps.
    const stderr = child.process.stderr;
    if (stderr) stderr.once('close', end);
    else void child.exited.then(end);
    return this;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /**
   * ffmpeg writes a frame's showinfo line before the frame itself, so it is normally here already.
   * Should it not come within a few seconds (an ffmpeg whose showinfo reads differently), the
   * timestamps are given up for the whole stream (undefined: the caller's fallback), never mixed.
   */
  async at(index: number): Promise<number | undefined> {
    if (this.givenUp) return undefined;
    if (index >= this.times.length && !this.ended) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(() => {
        this.givenUp = true;
        resolve();
      }, SHOWINFO_WAIT_MS)));
      while (index >= this.times.length && !this.ended && !this.givenUp) {
        await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), late]);
      }
      clearTimeout(timer);
    }
    return this.givenUp ? undefined : this.times[index];
  }
}

/**
 * ffmpeg decoding to raw frames on its stdout, every frame once with its presentation time:
 * passthrough frame timing (no duplicates for variable-frame-rate input) and showinfo's timestamps.
 */
async function rawFrameSource(
  info: SourceInfo,
  inputArgs: readonly string[],
  options: FfmpegOptions & SourceOptions,
  what: string,
): Promise<ProcessSource> {
  const layout = packedLayout(info.width, info.height, info.format);
  const passthrough = await passthroughFlag(options);
  // -loglevel info: showinfo writes at that level; -nostats keeps the progress lines out.
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', ...inputArgs];
  args.push('-map', '0:v:0', '-vf', 'showinfo', ...passthrough, '-f', 'rawvideo', '-pix_fmt', FFMPEG_PIX_FMT[info.format], 'pipe:1');
  let times: ShowinfoTimes | undefined;
  return new ProcessSource({
    info,
    layout,
    signal: options.signal,
    start: () => {
      times = new ShowinfoTimes();
      return new ManagedChild(ffmpegPath(options), args, { stdio: ['ignore', 'pipe', 'pipe'], tool: 'ffmpeg', stderrLine: times.line });
    },
    output: (child) => child.process.stdout!,
    times: (child) => times!.attach(child),
    what,
  });
}

/**
 * Size and rate of a network stream, from ffmpeg itself decoding its first frame (its showinfo
 * line has the size, its input stream line the rate). Not ffprobe: the static ffprobe build of
 * @ffprobe-installer crashes (SIGSEGV) on network inputs, while its ffmpeg reads them.
 */
async function probeStream(url: string, inputArgs: readonly string[], options: FfmpegOptions): Promise<VideoProbe> {
  let size: { width: number; height: number } | undefined;
  let fps: number | undefined;
  const child = new ManagedChild(
    ffmpegPath(options),
    ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', ...inputArgs, '-i', url, '-map', '0:v:0', '-vf', 'showinfo', '-frames:v', '1', '-f', 'null', '-'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      tool: 'ffmpeg',
      stderrLine: (line) => {
        const s = /showinfo.*\bs:\s*(\d+)x(\d+)/.exec(line);
        if (s) size ??= { width: Number(s[1]), height: Number(s[2]) };
        const r = /Stream #.*Video:.*?([\d.]+) (?:fps|tbr)\b/.exec(line);
        if (r) fps ??= parseRate(r[1]);
        return Boolean(s);
      },
    },
  );
  const status = await child.exited;
  const notStarted = child.startError();
  if (notStarted) throw notStarted;
  if (!size) throw new CtEdgeError('ERR_SOURCE', `cannot read stream ${url}: ${child.stderr() || `ffmpeg exited with ${status.code ?? status.signal}`}`);
  return { ...size, fps, frameCount: undefined };
}

/** A network stream ffmpeg reads: rtsp://, rtmp://, http(s)://, udp://, tcp://, srt:// and the like. */
export function isStreamUrl(input: string): boolean {
  return /^(rtsps?|rtmps?|rtp|https?|udp|tcp|srt|mms):\/\//i.test(input);
}

export interface VideoOptions extends SourceOptions, FfmpegOptions {
  /** Deliver frames at the video's own rate (ffmpeg -re), as a camera would: a live-camera rehearsal. */
  paced?: boolean;
}

function checkOptions(options: unknown, what: string): void {
  if (options === null || typeof options !== 'object') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `${what} options must be an object or left out, got ${options === null ? 'null' : typeof options}`);
}

/**
 * A video file (anything ffmpeg reads) as a frame source, or a network stream (rtsp://, http://,
 * udp://, ...: a live source). Every decoded frame comes once, in decoding order, with its
 * presentation time (variable frame rates included).
 */
export async function openVideo(path: string, options: VideoOptions = {}): Promise<FrameSource> {
  checkOptions(options, 'openVideo');
  const format = checkPixelFormat(options.pixelFormat ?? 'rgb');
  const url = isStreamUrl(path);
  const full = url ? path : resolve(path);
  if (!url) {
    const info = await stat(full).catch(() => undefined);
    if (!info) throw new CtEdgeError('ERR_SOURCE', `video not found: ${full}`);
    if (!info.isFile()) throw new CtEdgeError('ERR_SOURCE', `${full} is not a video file`);
  }
  // RTSP over TCP: no lost packets on a busy network (ffmpeg's default is UDP).
  const inputArgs = /^rtsps?:/i.test(path) ? ['-rtsp_transport', 'tcp'] : [];
  const probe = url ? await probeStream(full, inputArgs, options) : await probeVideo(full, inputArgs, options);
  const info = {
    kind: 'video' as const,
    uri: full,
    width: probe.width,
    height: probe.height,
    format,
    fps: probe.fps,
    frameCount: url ? undefined : probe.frameCount,
    live: url,
    ...(format === 'nv12' && { colour: nv12ColourOf(probe, full) }),
  };
  return rawFrameSource(info, [...(options.paced && !url ? ['-re'] : []), ...inputArgs, '-i', full], options, `${url ? 'reading' : 'decoding'} ${full}`);
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
  checkOptions(options, 'openCamera');
  const format = checkPixelFormat(options.pixelFormat ?? 'rgb');
  const deviceInfo = await stat(device).catch(() => undefined);
  if (!deviceInfo) {
    const present = await listCameras();
    throw new CtEdgeError('ERR_SOURCE', `camera ${device} does not exist; cameras present: ${present.length ? present.join(', ') : 'none'} (\`v4l2-ctl --list-devices\` lists them)`);
  }
  if (!deviceInfo.isCharacterDevice()) throw new CtEdgeError('ERR_SOURCE', `${device} is not a camera device`);
  await access(device, constants.R_OK | constants.W_OK).catch(() => {
    throw new CtEdgeError('ERR_SOURCE', `no permission to open ${device}; add your user to the video group: \`sudo usermod -aG video $USER\`, then log in again`);
  });
  const inputArgs = ['-f', 'v4l2'];
  if (options.inputFormat) inputArgs.push('-input_format', options.inputFormat);
  if (options.fps) inputArgs.push('-framerate', String(options.fps));
  if (options.width && options.height) inputArgs.push('-video_size', `${options.width}x${options.height}`);
  const probe = await probeVideo(device, inputArgs, options);
  const info = {
    kind: 'camera' as const,
    uri: device,
    width: probe.width,
    height: probe.height,
    format,
    fps: options.fps ?? probe.fps,
    frameCount: undefined,
    live: true,
    ...(format === 'nv12' && { colour: nv12ColourOf(probe, device) }),
  };
  // The driver's timestamps (when each frame was captured), each frame once.
  return rawFrameSource(info, [...inputArgs, '-i', device], options, `reading camera ${device}`);
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
