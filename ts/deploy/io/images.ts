/** Image files to frames, decoded by sharp (libvips): JPEG, PNG, WebP, TIFF, ... */
import type { default as Sharp } from 'sharp';
import { CtEdgeError } from '../../contract/errors.js';
import type { Frame } from '../../contract/types.js';

/** sharp, loaded on first use: a tracker fed by a camera never pays for libvips. */
export async function loadSharp(): Promise<typeof Sharp> {
  return (await import('sharp')).default;
}

export async function readImage(path: string): Promise<Frame> {
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, format: 'rgb' };
  } catch (error) {
    throw new CtEdgeError('ERR_FRAME_DATA', `cannot read image ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Writes an RGB or gray frame as PNG or JPEG (by extension). */
export async function writeImage(path: string, frame: Frame): Promise<void> {
  const channels = frame.format === 'gray' ? 1 : 3;
  if (frame.format !== 'rgb' && frame.format !== 'gray') {
    throw new CtEdgeError('ERR_FRAME_FORMAT', `writeImage takes rgb or gray frames, got ${frame.format}`);
  }
  const data = frame.data instanceof ArrayBuffer ? new Uint8Array(frame.data) : frame.data;
  const sharp = await loadSharp();
  await sharp(data, { raw: { width: frame.width, height: frame.height, channels } }).toFile(path);
}
