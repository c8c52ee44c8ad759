/**
 * GStreamer pipelines through gst-launch-1.0, for Jetson cameras: CSI sensors through
 * `nvarguscamerasrc` (converted out of NVMM memory by `nvvidconv`) and USB cameras through `v4l2src`.
 *
 * The pipeline is given without a sink and must end in raw-video caps that fix the format and size
 * (`... ! video/x-raw,format=NV12,width=1280,height=720`); ct-edge appends `! fdsink fd=3` and reads
 * raw frames from that descriptor, because Argus prints its chatter on stdout.
 */
import type { Readable } from 'node:stream';
import { CtEdgeError } from '../../contract/errors.js';
import type { Frame, PixelFormat } from '../../contract/types.js';
import { ManagedChild } from './child.js';
import { ProcessSource, type FrameLayout, type FrameSource } from './source.js';

/** GStreamer format names to frame layouts; BGRx/RGBx carry an unused fourth byte, read as alpha. */
const GST_FORMATS: Record<string, PixelFormat> = { NV12: 'nv12', BGRx: 'bgra', BGRA: 'bgra', RGBx: 'rgba', RGBA: 'rgba', RGB: 'rgb', BGR: 'bgr', GRAY8: 'gray' };

export interface GStreamerOptions {
  /** gst-launch-1.0 to run (default `gst-launch-1.0` on PATH). */
  gstLaunchPath?: string;
  signal?: AbortSignal;
}

export interface PipelineCaps {
  layout: FrameLayout;
  /** The GStreamer name of the format, e.g. NV12. */
  gstFormat: string;
  fps: number | undefined;
  /** NV12: the caps' colorimetry as the crop reads it (BT.601 limited when the caps set none). */
  colour: Pick<Frame, 'colorMatrix' | 'colorRange'>;
}

/**
 * GStreamer's colorimetry (a name, or RANGE:MATRIX:TRANSFER:PRIMARIES with range 1 full, 2 limited
 * and matrix 3 BT.709, 4 BT.601) as NV12 colour; undefined for what the crop cannot decode.
 */
function colourOf(colorimetry: string | undefined): Pick<Frame, 'colorMatrix' | 'colorRange'> | undefined {
  if (colorimetry === undefined) return { colorMatrix: 'bt601', colorRange: 'limited' };
  const named: Record<string, Pick<Frame, 'colorMatrix' | 'colorRange'>> = {
    bt601: { colorMatrix: 'bt601', colorRange: 'limited' },
    bt709: { colorMatrix: 'bt709', colorRange: 'limited' },
  };
  if (named[colorimetry]) return named[colorimetry];
  const [range, matrix] = colorimetry.split(':');
  const colorMatrix = matrix === '3' ? 'bt709' : matrix === '4' ? 'bt601' : undefined;
  const colorRange = range === '1' ? 'full' : range === '2' ? 'limited' : undefined;
  return colorMatrix && colorRange ? { colorMatrix, colorRange } : undefined;
}

const roundUp4 = (n: number) => (n + 3) & ~3;

/**
 * Format, size and rate of the frames a pipeline ends with: the format from the last raw-video caps,
 * size and rate from the last caps that set them (nvvidconv keeps the size of the NVMM caps before it).
 * Strides follow GStreamer's defaults: rows of 3- and 1-byte formats and of NV12 rounded up to 4 bytes.
 */
export function parsePipelineCaps(pipeline: string): PipelineCaps {
  const fields: Record<string, string> = {};
  let format: string | undefined;
  for (const element of pipeline.split('!').map((e) => e.trim())) {
    const raw = element.startsWith('video/x-raw');
    if (!raw && !element.startsWith('image/')) continue;
    for (const pair of element.split(',').slice(1)) {
      const [key, value] = pair.split('=').map((p) => p.trim().replace(/^\(\w+\)/, ''));
      if (key && value) fields[key] = value;
    }
    if (raw) format = fields.format;
  }
  const example = 'e.g. `... ! video/x-raw,format=NV12,width=1280,height=720`';
  if (!format) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `the pipeline must end in raw-video caps with a format, ${example}`);
  const pixel = GST_FORMATS[format];
  if (!pixel) {
    throw new CtEdgeError(
      'ERR_FRAME_FORMAT',
      `unknown pixel format '${format}' at the end of the pipeline; end it in one of ${Object.keys(GST_FORMATS).join(', ')} (add \`nvvidconv ! video/x-raw,format=NV12\` on a Jetson, or \`videoconvert ! video/x-raw,format=BGR\`)`,
    );
  }
  const width = Number(fields.width);
  const height = Number(fields.height);
  if (!(width > 0 && height > 0)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `the pipeline's caps must set width and height, ${example}`);
  if (pixel === 'nv12' && (width % 2 !== 0 || height % 2 !== 0)) {
    throw new CtEdgeError('ERR_FRAME_SIZE', `NV12 frames need an even width and height, got ${width}x${height}`);
  }
  const [num, den] = (fields.framerate ?? '').split('/').map(Number);
  const fps = num > 0 ? num / (den || 1) : undefined;
  const stride = { rgb: roundUp4(width * 3), bgr: roundUp4(width * 3), gray: roundUp4(width), nv12: roundUp4(width), rgba: width * 4, bgra: width * 4 }[pixel];
  const colour = colourOf(fields.colorimetry) ?? (pixel === 'nv12' ? undefined : {});
  if (!colour) {
    throw new CtEdgeError('ERR_FRAME_FORMAT', `colorimetry=${fields.colorimetry} in the pipeline's caps: NV12 is read as bt601 or bt709, limited or full range; set colorimetry=bt601 or bt709 there`);
  }
  return { layout: { width, height, format: pixel, stride }, gstFormat: format, fps, colour };
}

export interface CameraPipelineOptions {
  width?: number;
  height?: number;
  fps?: number;
}

/**
 * A Jetson CSI camera (Argus): NV12 in NVMM memory, copied to system memory by nvvidconv.
 * flipMethod 2 turns the image by 180 degrees (for sensors mounted upside down).
 */
export function csiCameraPipeline(options: CameraPipelineOptions & { sensorId?: number; flipMethod?: number } = {}): string {
  const { width = 1280, height = 720, fps = 30, sensorId = 0, flipMethod = 0 } = options;
  return (
    `nvarguscamerasrc sensor-id=${sensorId} ! video/x-raw(memory:NVMM),width=${width},height=${height},framerate=${fps}/1,format=NV12 ` +
    `! nvvidconv flip-method=${flipMethod} ! video/x-raw,format=NV12,width=${width},height=${height},colorimetry=bt601`
  );
}

/** A USB (UVC) camera through v4l2src; `mjpeg` for cameras that reach their rate only compressed. */
export function usbCameraPipeline(options: CameraPipelineOptions & { device?: string; mjpeg?: boolean } = {}): string {
  const { width = 640, height = 480, fps = 30, device = '/dev/video0', mjpeg = false } = options;
  const mode = `width=${width},height=${height},framerate=${fps}/1`;
  const input = mjpeg ? `image/jpeg,${mode} ! jpegdec` : `video/x-raw,${mode}`;
  return `v4l2src device=${device} ! ${input} ! videoconvert ! video/x-raw,format=NV12,width=${width},height=${height},colorimetry=bt601`;
}

/** A GStreamer pipeline (without its sink) as a live frame source. */
export async function openGStreamer(pipeline: string, options: GStreamerOptions = {}): Promise<FrameSource> {
  if (/\b(fdsink|appsink|filesink|autovideosink)\b/.test(pipeline)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give the pipeline without a sink: ct-edge appends `! fdsink fd=3` to read the frames');
  }
  const { layout, fps, colour } = parsePipelineCaps(pipeline);
  const command = options.gstLaunchPath ?? 'gst-launch-1.0';
  // -e: on SIGINT send end-of-stream, so Argus releases the sensor cleanly (a SIGKILL can leave it busy until nvargus-daemon restarts).
  const args = ['-q', '-e', `${pipeline} ! fdsink fd=3 sync=false`];
  return new ProcessSource({
    info: { kind: 'gstreamer', uri: pipeline, width: layout.width, height: layout.height, format: layout.format, fps, frameCount: undefined, live: true, ...(layout.format === 'nv12' && { colour }) },
    layout,
    signal: options.signal,
    start: () => new ManagedChild(command, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], tool: 'gst-launch-1.0', stopSignal: 'SIGINT', killAfterMs: 3000 }),
    output: (child) => child.process.stdio[3] as Readable,
    what: `running the GStreamer pipeline ${pipeline}`,
  });
}
