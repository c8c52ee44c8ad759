/**
 * A deliberately plain re-implementation of OSTrack's crop (pad with 0, cv::resize INTER_LINEAR,
 * normalise) to check the native one against: one output value at a time, no tables.
 */
import type { Frame } from '../../ts/index.js';

export interface NormOptions {
  mean: readonly number[];
  std: readonly number[];
  channelOrder: 'rgb' | 'bgr';
}

/**
 * YUV to RGB as published (Y scale, Y offset, then the V->R, U->G, V->G and U->B factors): BT.601
 * limited as camera pipelines use it; BT.709 limited (HD video); the full-range forms (JPEG's for
 * BT.601). Written out, not derived, so that the native derivation is checked against them.
 */
export const YUV_TO_RGB: Record<string, readonly number[]> = {
  'bt601-limited': [1.164, 16, 1.596, 0.392, 0.813, 2.017],
  'bt709-limited': [1.164, 16, 1.793, 0.213, 0.533, 2.112],
  'bt601-full': [1, 0, 1.402, 0.344136, 0.714136, 1.772],
  'bt709-full': [1, 0, 1.5748, 0.187324, 0.468124, 1.8556],
};

function rgbAt(frame: Frame, x: number, y: number): [number, number, number] {
  if (x < 0 || y < 0 || x >= frame.width || y >= frame.height) return [0, 0, 0];
  const d = frame.data as Uint8Array;
  const bpp = { rgb: 3, bgr: 3, rgba: 4, bgra: 4, gray: 1, nv12: 1 }[frame.format];
  const stride = frame.stride ?? frame.width * bpp;
  const o = y * stride + x * bpp;
  switch (frame.format) {
    case 'rgb':
    case 'rgba':
      return [d[o], d[o + 1], d[o + 2]];
    case 'bgr':
    case 'bgra':
      return [d[o + 2], d[o + 1], d[o]];
    case 'gray':
      return [d[o], d[o], d[o]];
    case 'nv12': {
      const uv = frame.height * stride + (y >> 1) * stride + (x & ~1);
      const [yScale, yOffset, rv, gu, gv, bu] = YUV_TO_RGB[`${frame.colorMatrix ?? 'bt601'}-${frame.colorRange ?? 'limited'}`];
      const Y = yScale * (d[y * stride + x] - yOffset);
      const U = d[uv] - 128;
      const V = d[uv + 1] - 128;
      const clamp = (v: number) => Math.min(255, Math.max(0, v));
      return [clamp(Y + rv * V), clamp(Y - gu * U - gv * V), clamp(Y + bu * U)];
    }
  }
}

export function referenceCrop(frame: Frame, win: { x0: number; y0: number; side: number }, out: number, norm: NormOptions): Float32Array {
  const dst = new Float32Array(3 * out * out);
  const tap = (o: number) => {
    const u = Math.min(Math.max((o + 0.5) * (win.side / out) - 0.5, 0), win.side - 1);
    const c0 = Math.floor(u);
    return { c0, c1: Math.min(c0 + 1, win.side - 1), f: u - c0 };
  };
  for (let oy = 0; oy < out; oy++) {
    const ty = tap(oy);
    for (let ox = 0; ox < out; ox++) {
      const tx = tap(ox);
      const p = (cx: number, cy: number) => rgbAt(frame, win.x0 + cx, win.y0 + cy);
      const [a, b, c, d] = [p(tx.c0, ty.c0), p(tx.c1, ty.c0), p(tx.c0, ty.c1), p(tx.c1, ty.c1)];
      for (let ch = 0; ch < 3; ch++) {
        const k = norm.channelOrder === 'rgb' ? ch : 2 - ch;
        const v = (1 - ty.f) * ((1 - tx.f) * a[k] + tx.f * b[k]) + ty.f * ((1 - tx.f) * c[k] + tx.f * d[k]);
        dst[ch * out * out + oy * out + ox] = (v / 255 - norm.mean[k]) / norm.std[k];
      }
    }
  }
  return dst;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
