import test from 'ava';
import { loadNative } from '../ts/deploy/native.js';
import type { PixelFormat } from '../ts/index.js';
import { convertFrame, squareFrame } from './helpers/frames.js';
import { maxAbsDiff, referenceCrop } from './helpers/reference-crop.js';

const addon = loadNative();
const imagenet = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channelOrder: 'rgb' as const };
const rgb = squareFrame(98, 62, 30, 20, 15); // even: NV12 needs it

const windows = [
  { name: 'inside, downscaled', win: { x0: 10, y0: 5, side: 50 }, out: 32 },
  { name: 'inside, upscaled', win: { x0: 20, y0: 10, side: 20 }, out: 48 },
  { name: 'overlapping the top-left corner', win: { x0: -25, y0: -30, side: 70 }, out: 40 },
  { name: 'overlapping the bottom-right corner', win: { x0: 60, y0: 30, side: 64 }, out: 64 },
  { name: 'larger than the frame', win: { x0: -50, y0: -80, side: 200 }, out: 56 },
  { name: 'wholly outside (all padding)', win: { x0: 200, y0: 200, side: 30 }, out: 16 },
];

for (const format of ['rgb', 'bgr', 'rgba', 'bgra', 'gray', 'nv12'] as PixelFormat[]) {
  for (const { name, win, out } of windows) {
    test(`crop ${format}, ${name}, matches the plain reference`, (t) => {
      const frame = convertFrame(rgb, format, 5); // stride with 5 bytes of row padding
      for (const channelOrder of ['rgb', 'bgr'] as const) {
        const norm = { ...imagenet, channelOrder };
        const dst = new Float32Array(3 * out * out);
        addon.cropToTensor(frame, win, out, dst, norm);
        const diff = maxAbsDiff(dst, referenceCrop(frame, win, out, norm));
        t.true(diff < 1e-4, `max abs difference ${diff}`);
      }
    });
  }
}

test('padding reads as black: an all-outside crop is -mean/std everywhere', (t) => {
  const dst = new Float32Array(3 * 8 * 8);
  addon.cropToTensor(rgb, { x0: -100, y0: -100, side: 20 }, 8, dst, imagenet);
  for (let c = 0; c < 3; c++) {
    t.true(Math.abs(dst[c * 64 + 17] + imagenet.mean[c] / imagenet.std[c]) < 1e-6);
  }
});

test('a 1:1 crop inside the frame is the pixels themselves, normalised', (t) => {
  const dst = new Float32Array(3 * 10 * 10);
  addon.cropToTensor(rgb, { x0: 25, y0: 15, side: 10 }, 10, dst, imagenet);
  const data = rgb.data as Uint8Array;
  for (let y = 0; y < 10; y++) {
    for (let x = 0; x < 10; x++) {
      for (let c = 0; c < 3; c++) {
        const px = data[((15 + y) * rgb.width + 25 + x) * 3 + c];
        t.true(Math.abs(dst[c * 100 + y * 10 + x] - (px / 255 - imagenet.mean[c]) / imagenet.std[c]) < 1e-5);
      }
    }
  }
});

test('the CPU crop is float32 only: a Uint16Array (float16) destination is refused', (t) => {
  const half = new Uint16Array(3 * 8 * 8) as unknown as Float32Array;
  t.throws(() => addon.cropToTensor(rgb, { x0: 0, y0: 0, side: 10 }, 8, half, imagenet), { code: 'ERR_INVALID_ARGUMENT', message: /Float32Array of 192 elements/ });
});

test('crop rejects a destination of the wrong size and a bad window', (t) => {
  t.throws(() => addon.cropToTensor(rgb, { x0: 0, y0: 0, side: 10 }, 8, new Float32Array(10), imagenet), { message: /192 elements/ });
  t.throws(() => addon.cropToTensor(rgb, { x0: 0, y0: 0, side: 0 }, 8, new Float32Array(192), imagenet), { message: /side must be positive/ });
  t.throws(() => addon.cropToTensor(rgb, { x0: 0.5, y0: 0, side: 4 }, 8, new Float32Array(192), imagenet), { message: /integer/ });
});

test("cropBatch (a group's crops into one batched tensor) gives each item's cropToTensor bit for bit, on 1 to 3 threads", (t) => {
  const frames = ['rgb', 'nv12', 'bgra', 'gray', 'rgb'].map((format) => convertFrame(rgb, format as PixelFormat, 3));
  const items = frames.map((frame, i) => ({ frame, window: { x0: -10 + 9 * i, y0: 5 - 4 * i, side: 40 + 7 * i } }));
  const out = 24;
  const per = 3 * out * out;
  const expected = new Float32Array(items.length * per);
  items.forEach((it, i) => addon.cropToTensor(it.frame, it.window, out, expected.subarray(i * per, (i + 1) * per), imagenet));
  for (const threads of [1, 2, 3]) {
    const dst = new Float32Array(items.length * per);
    addon.cropBatch(items, out, dst, imagenet, threads);
    t.deepEqual(dst, expected, `${threads} threads`);
  }
  // Bad items are typed errors, raised before any thread starts.
  t.throws(() => addon.cropBatch([{ frame: frames[0], window: { x0: 0, y0: 0, side: 10 } }], out, new Float32Array(per - 1), imagenet, 2), { code: 'ERR_INVALID_ARGUMENT' } as never);
  t.throws(() => addon.cropBatch([items[0], 7 as never], out, new Float32Array(2 * per), imagenet, 2), { code: 'ERR_INVALID_ARGUMENT' } as never);
  t.throws(() => addon.cropBatch([{ frame: { ...frames[0], data: new Uint8Array(3) }, window: items[0].window }], out, new Float32Array(per), imagenet, 2), { code: 'ERR_FRAME_BUFFER' } as never);
});
