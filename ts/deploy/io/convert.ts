/** Any frame layout to tight RGB, for drawing and encoding. */
import { CtEdgeError } from '../../contract/errors.js';
import type { Frame } from '../../contract/types.js';
import { BYTES_PER_PIXEL } from './source.js';

export function bytesOf(frame: Frame): Uint8Array {
  return frame.data instanceof ArrayBuffer ? new Uint8Array(frame.data) : new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
}

/**
 * The frame as tight RGB: the frame itself when it already is, else a converted copy. NV12 is read
 * as BT.601 limited range, which is what ffmpeg writes and Jetson cameras deliver.
 */
export function toRgb(frame: Frame): Frame {
  const { width, height, format } = frame;
  const bpp = BYTES_PER_PIXEL[format];
  if (bpp === undefined) throw new CtEdgeError('ERR_FRAME_FORMAT', `unknown pixel format '${String(format)}'`);
  const stride = frame.stride ?? width * bpp;
  if (format === 'rgb' && stride === width * 3) return frame;
  const src = bytesOf(frame);
  const dst = new Uint8Array(width * height * 3);
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const chroma = height * stride + (y >> 1) * stride;
    for (let x = 0; x < width; x++) {
      const d = (y * width + x) * 3;
      if (format === 'nv12') {
        const c = chroma + (x & ~1);
        const l = 1.164 * (src[row + x] - 16);
        const u = src[c] - 128;
        const v = src[c + 1] - 128;
        dst[d] = clamp(l + 1.596 * v);
        dst[d + 1] = clamp(l - 0.392 * u - 0.813 * v);
        dst[d + 2] = clamp(l + 2.017 * u);
      } else if (format === 'gray') {
        dst[d] = dst[d + 1] = dst[d + 2] = src[row + x];
      } else {
        const s = row + x * bpp;
        const swap = format === 'bgr' || format === 'bgra';
        dst[d] = src[s + (swap ? 2 : 0)];
        dst[d + 1] = src[s + 1];
        dst[d + 2] = src[s + (swap ? 0 : 2)];
      }
    }
  }
  return { data: dst, width, height, format: 'rgb' };
}
