/**
 * NV12's colour matrix and range (frame.colorMatrix, frame.colorRange): the native crop decodes
 * BT.601 and BT.709, limited and full range, as the published conversions do, and a frame tagged
 * with its real matrix comes back as the colours it was encoded from, where the wrong tag does not.
 * The CUDA kernels use the same constants (test/native/cuda_emulation_check.cpp runs all four).
 */
import test from 'ava';
import { loadNative } from '../ts/deploy/native.js';
import { CtEdgeError, type Frame } from '../ts/index.js';
import { convertFrame, squareFrame } from './helpers/frames.js';
import { maxAbsDiff, referenceCrop } from './helpers/reference-crop.js';

const addon = loadNative();
const norm = { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb' as const }; // the crop in RGB levels / 255
const colours = [
  ['bt601', 'limited'],
  ['bt709', 'limited'],
  ['bt601', 'full'],
  ['bt709', 'full'],
] as const;

for (const [colorMatrix, colorRange] of colours) {
  test(`NV12 ${colorMatrix} ${colorRange}: the crop matches the published conversion`, (t) => {
    const frame: Frame = { ...convertFrame(squareFrame(98, 62, 30, 20, 15), 'nv12', 5), colorMatrix, colorRange };
    for (const win of [{ x0: 10, y0: 5, side: 50 }, { x0: -25, y0: -30, side: 70 }]) {
      const dst = new Float32Array(3 * 40 * 40);
      addon.cropToTensor(frame, win, 40, dst, norm);
      // 3-decimal published constants against the exact ones: well under a level (1/255).
      const diff = maxAbsDiff(dst, referenceCrop(frame, win, 40, norm));
      t.true(diff < 0.5 / 255, `max difference ${(diff * 255).toFixed(3)} levels`);
    }
  });
}

/** A flat frame of one colour, encoded to NV12 with the given matrix and range (exact forward transform). */
function flatNv12(rgb: [number, number, number], matrix: 'bt601' | 'bt709', range: 'limited' | 'full'): Frame {
  const [kr, kb] = matrix === 'bt601' ? [0.299, 0.114] : [0.2126, 0.0722];
  const [r, g, b] = rgb;
  const y = kr * r + (1 - kr - kb) * g + kb * b;
  const u = (b - y) / (2 * (1 - kb));
  const v = (r - y) / (2 * (1 - kr));
  const Y = range === 'limited' ? 16 + (219 / 255) * y : y;
  const [U, V] = range === 'limited' ? [128 + (224 / 255) * u, 128 + (224 / 255) * v] : [128 + u, 128 + v];
  const width = 16;
  const height = 16;
  const data = new Uint8Array(width * height * 1.5);
  data.fill(Math.round(Y), 0, width * height);
  for (let i = width * height; i < data.length; i += 2) [data[i], data[i + 1]] = [Math.round(U), Math.round(V)];
  return { data, width, height, format: 'nv12' };
}

test('an HD frame tagged bt709 decodes to the colours it was encoded from; read as BT.601 it is off by several levels', (t) => {
  for (const rgb of [[200, 40, 60], [30, 160, 220], [240, 200, 30]] as [number, number, number][]) {
    for (const range of ['limited', 'full'] as const) {
      const frame = flatNv12(rgb, 'bt709', range);
      const levels = (f: Frame) => {
        const dst = new Float32Array(3 * 8 * 8);
        addon.cropToTensor(f, { x0: 2, y0: 2, side: 8 }, 8, dst, norm);
        return [0, 1, 2].map((c) => dst[c * 64 + 27] * 255);
      };
      const right = levels({ ...frame, colorMatrix: 'bt709', colorRange: range });
      const wrong = levels({ ...frame, colorRange: range }); // the default matrix, bt601
      const error = (got: number[]) => Math.max(...got.map((v, c) => Math.abs(v - rgb[c])));
      t.true(error(right) <= 1.5, `${rgb} (${range}): decoded ${right.map((v) => v.toFixed(1))}`);
      t.true(error(wrong) >= 5, `${rgb} (${range}) read as BT.601: ${wrong.map((v) => v.toFixed(1))}`);
    }
  }
});

test('a colour matrix or range other than the four is a typed error naming the field', (t) => {
  const frame = convertFrame(squareFrame(16, 16, 2, 2, 4), 'nv12');
  const dst = new Float32Array(3 * 8 * 8);
  for (const [field, value, message] of [
    ['colorMatrix', 'bt2020', /frame\.colorMatrix must be 'bt601' or 'bt709' .*got 'bt2020'/],
    ['colorMatrix', 709, /frame\.colorMatrix must be .*got a non-string/],
    ['colorRange', 'tv', /frame\.colorRange must be 'limited' or 'full' .*got 'tv'/],
  ] as const) {
    const error = t.throws(() => addon.cropToTensor({ ...frame, [field]: value }, { x0: 0, y0: 0, side: 8 }, 8, dst, norm));
    t.is((error as CtEdgeError & { code: string }).code, 'ERR_FRAME_FORMAT');
    t.regex(error!.message, message);
  }
});
