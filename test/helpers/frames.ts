/** Frames for unit tests: synthetic ones, and the shipped video's first frames. */
import { join } from 'node:path';
import { openSource, type Box, type Frame, type PixelFormat } from '../../ts/index.js';
import { toRgb } from '../../ts/deploy/io/convert.js';
import { repoRoot } from './data.js';

/** An RGB frame with a smooth gradient background and a bright square at (x, y). */
export function squareFrame(width: number, height: number, x: number, y: number, size: number): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const o = (j * width + i) * 3;
      const inside = i >= x && i < x + size && j >= y && j < y + size;
      data[o] = inside ? 240 : (i * 7) % 90;
      data[o + 1] = inside ? 60 : (j * 5) % 90;
      data[o + 2] = inside ? 30 : ((i + j) * 3) % 90;
    }
  }
  return { data, width, height, format: 'rgb' };
}

/** The same RGB pixels re-packed in another layout (NV12 through BT.601 limited range). */
export function convertFrame(rgb: Frame, format: PixelFormat, padding = 0): Frame {
  const src = rgb.data as Uint8Array;
  const { width, height } = rgb;
  const bpp = { rgb: 3, bgr: 3, rgba: 4, bgra: 4, gray: 1, nv12: 1 }[format];
  const stride = width * bpp + padding;
  const rows = format === 'nv12' ? height * 1.5 : height;
  const data = new Uint8Array(stride * rows);
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const s = (j * width + i) * 3;
      const [r, g, b] = [src[s], src[s + 1], src[s + 2]];
      const d = j * stride + i * bpp;
      if (format === 'rgb' || format === 'rgba') [data[d], data[d + 1], data[d + 2]] = [r, g, b];
      if (format === 'bgr' || format === 'bgra') [data[d], data[d + 1], data[d + 2]] = [b, g, r];
      if (format === 'rgba' || format === 'bgra') data[d + 3] = 255;
      if (format === 'gray') data[d] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      if (format === 'nv12') {
        data[d] = Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b);
        if (i % 2 === 0 && j % 2 === 0) {
          const uv = height * stride + (j / 2) * stride + i;
          data[uv] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
          data[uv + 1] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
        }
      }
    }
  }
  return { data, width, height, format, stride };
}

/** The first `count` frames of the shipped video (models/tree.avi, real footage), RGB in ordinary memory. */
export async function shippedVideoFrames(count: number): Promise<Frame[]> {
  const source = await openSource(join(repoRoot, 'models', 'tree.avi'));
  const out: Frame[] = [];
  try {
    for await (const { frame } of source) {
      const rgb = toRgb(frame);
      out.push({ ...rgb, data: Uint8Array.from(rgb.data as Uint8Array) });
      if (out.length === count) break;
    }
  } finally {
    await source.close();
  }
  return out;
}

/** `n` boxes a fifth of the frame's short side, on a grid of `columns` across the frame (rows as needed), heights varied. */
export function spreadBoxes(frame: Frame, n: number, columns: number): Box[] {
  const side = Math.round(Math.min(frame.width, frame.height) / 5);
  return Array.from({ length: n }, (_, i) => ({
    x: Math.round(((i % columns) + 0.5) * (frame.width / columns) - side / 2),
    y: Math.round((Math.floor(i / columns) + 0.5) * (frame.height / Math.ceil(n / columns)) - side / 2),
    width: side,
    height: Math.round(side * (0.8 + 0.1 * (i % 3))),
  }));
}
