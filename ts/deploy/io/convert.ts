/** Any frame layout to tight RGB, for drawing and encoding. */
import { CtEdgeError } from '../../contract/errors.js';
import type { Frame } from '../../contract/types.js';
import { BYTES_PER_PIXEL } from './source.js';

export function bytesOf(frame: Frame): Uint8Array {
  return frame.data instanceof ArrayBuffer ? new Uint8Array(frame.data) : new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
}

/**
 * NV12 to RGB for drawing (Y scale, Y offset, V->R, U->G, V->G, U->B), per colour matrix and range;
 * the crop's own exact constants are native/core/frame.cpp yuv_to_rgb.
 */
const NV12_TO_RGB = {
  'bt601-limited': [1.164, 16, 1.596, 0.392, 0.813, 2.017],
  'bt709-limited': [1.164, 16, 1.793, 0.213, 0.533, 2.112],
  'bt601-full': [1, 0, 1.402, 0.344, 0.714, 1.772],
  'bt709-full': [1, 0, 1.575, 0.187, 0.468, 1.856],
} as const;

/**
 * The frame as tight RGB: the frame itself when it already is, else a converted copy. NV12 is read
 * in its colorMatrix and colorRange (default BT.601 limited, what Jetson cameras deliver).
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
  const [ys, yo, rv, gu, gv, bu] = NV12_TO_RGB[`${frame.colorMatrix ?? 'bt601'}-${frame.colorRange ?? 'limited'}`] ?? NV12_TO_RGB['bt601-limited'];
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const chroma = height * stride + (y >> 1) * stride;
    for (let x = 0; x < width; x++) {
      const d = (y * width + x) * 3;
      if (format === 'nv12') {
        const c = chroma + (x & ~1);
        const l = ys * (src[row + x] - yo);
        const u = src[c] - 128;
        const v = src[c + 1] - 128;
        dst[d] = clamp(l + rv * v);
        dst[d + 1] = clamp(l - gu * u - gv * v);
        dst[d + 2] = clamp(l + bu * u);
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
