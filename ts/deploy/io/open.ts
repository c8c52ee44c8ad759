/**
 * One entry point for every source, chosen from the text the user gives (the `track` command's
 * input): `gst:PIPELINE`, `/dev/videoN`, a stream URL (rtsp://, http://, udp://, ...), a folder of images (or an OTB sequence folder with img/),
 * else a video file. `pixelFormat` applies to what ffmpeg decodes (files, cameras); a pipeline's
 * caps set its format, and folders give RGB.
 */
import { join } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { Frame } from '../../contract/types.js';
import { isDirectory } from '../datasets/common.js';
import { isStreamUrl, openCamera, openVideo, type CameraOptions, type VideoOptions } from './ffmpeg.js';
import { openGStreamer, type GStreamerOptions } from './gstreamer.js';
import { openImageFolder } from './image-folder.js';
import type { FrameSource } from './source.js';

export type OpenSourceOptions = VideoOptions & CameraOptions & GStreamerOptions;

export async function openSource(input: string, options: OpenSourceOptions = {}): Promise<FrameSource> {
  if (typeof input !== 'string' || input === '') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `openSource needs a path, /dev/videoN or gst:PIPELINE (a string), got ${input === '' ? "''" : typeof input}`);
  if (options === null || typeof options !== 'object') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `openSource options must be an object or left out, got ${options === null ? 'null' : typeof options}`);
  if (input.startsWith('gst:')) return openGStreamer(input.slice(4).trim(), options);
  if (input.startsWith('/dev/')) return openCamera(input, options);
  if (isStreamUrl(input)) return openVideo(input, options);
  if (await isDirectory(input)) {
    const img = join(input, 'img');
    return openImageFolder((await isDirectory(img)) ? img : input, { fps: options.fps, signal: options.signal });
  }
  return openVideo(input, options);
}

/** The first `limit` frames of a video file or image folder, decoded into memory (each its own buffer). */
export async function decodeFrames(input: string, limit = Infinity): Promise<Frame[]> {
  const source = await openSource(input);
  const frames: Frame[] = [];
  try {
    for await (const { frame } of source) {
      if (frames.length === limit) break;
      frames.push(frame);
    }
  } finally {
    await source.close();
  }
  return frames;
}
