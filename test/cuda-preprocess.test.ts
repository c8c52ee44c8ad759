/**
 * The CUDA crop/resize/normalise kernel (native/cuda/preprocess.cu) against the CPU crop
 * (native/core/crop.cpp) on the same frames: every pixel format, windows inside and across the frame
 * border, both channel orders, float32 and float16 (what FP16 TensorRT engines get; the CPU crop is
 * float32 only, so its output rounded to float16 is the reference). Runs where the addon was built
 * with CUDA (`npm run build:native:cmake` on a machine with nvcc) and a GPU is present; skipped
 * otherwise, with the reason in the test title.
 */
import test from 'ava';
import { loadNative } from '../ts/deploy/native.js';
import type { Frame, PixelFormat } from '../ts/index.js';
import { convertFrame, squareFrame } from './helpers/frames.js';

const addon = loadNative();
const cuda = addon.cuda;
const probe = cuda?.probe();
const skipReason = !cuda
  ? 'this addon was built without CUDA (node-gyp, or cmake-js found no nvcc); build it with `npm run build:native:cmake` where CUDA is installed'
  : !probe?.available
    ? `CUDA is compiled in but no GPU is usable: ${probe?.reason ?? 'unknown reason'}`
    : undefined;

const imagenet = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** float32 values to float16 bits, rounded to nearest even (__float2half_rn). */
function toHalf(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  return Uint16Array.from(bits, (f) => {
    const sign = (f >>> 16) & 0x8000;
    const abs = f & 0x7fffffff;
    if (abs >= 0x7f800000) return sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0);
    if (abs >= 0x477ff000) return sign | 0x7c00; // rounds to infinity
    let result: number;
    let rem: number;
    let halfway: number;
    if (abs < 0x38800000) { // subnormal half (or zero)
      if (abs < 0x33000000) return sign;
      const mant = (abs & 0x7fffff) | 0x800000;
      const shift = 126 - (abs >>> 23);
      result = mant >>> shift;
      rem = mant & ((1 << shift) - 1);
      halfway = 1 << (shift - 1);
    } else {
      result = (abs - 0x38000000) >>> 13;
      rem = abs & 0x1fff;
      halfway = 0x1000;
    }
    if (rem > halfway || (rem === halfway && (result & 1))) result += 1;
    return sign | result;
  });
}

/** A frame of deterministic noise: every tap reads a different value, so any index slip shows. */
function noiseFrame(width: number, height: number, seed: number): Frame {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return { data, width, height, format: 'rgb' };
}

const sources: { name: string; frame: Frame }[] = [
  { name: 'square 98x62', frame: squareFrame(98, 62, 30, 20, 15) },
  { name: 'noise 320x240', frame: noiseFrame(320, 240, 1) },
  { name: 'noise 1280x720', frame: noiseFrame(1280, 720, 2) },
];
const windows = [
  { name: 'inside, downscaled', win: { x0: 10, y0: 5, side: 50 }, out: 32 },
  { name: 'inside, upscaled', win: { x0: 20, y0: 10, side: 20 }, out: 48 },
  { name: 'across the top-left corner', win: { x0: -25, y0: -30, side: 70 }, out: 40 },
  { name: 'across the bottom-right corner', win: { x0: 60, y0: 30, side: 256 }, out: 128 },
  { name: 'larger than the frame (search crop)', win: { x0: -300, y0: -200, side: 1500 }, out: 256 },
  { name: 'wholly outside', win: { x0: 5000, y0: 5000, side: 30 }, out: 16 },
];
const formats: PixelFormat[] = ['rgb', 'bgr', 'rgba', 'bgra', 'gray', 'nv12'];

if (skipReason) {
  // One skip for all of them; on a bare CUDA machine (no Node) tools/gpu-check.sh compares every kernel with the CPU crop on real frames.
  test.skip(
    `CUDA crop equals the CPU crop: ${sources.length * formats.length + 1} cases (${sources.length} frames x ${formats.length} pixel formats x ${windows.length} windows, and bad frames) ` +
      `skipped as one: ${skipReason} (tools/gpu-check.sh checks the kernels on a CUDA machine without Node)`,
    () => {},
  );
} else {
  test(`CUDA device: ${probe!.name} (sm ${probe!.computeCapability})`, (t) => t.pass());
  for (const { name, frame: rgb } of sources) {
    for (const format of formats) {
      test(`CUDA crop equals the CPU crop: ${name}, ${format}, every window, rgb/bgr, float32/float16`, (t) => {
        const frame = convertFrame(rgb, format, 6); // rows padded: the stride is honoured
        let worst32 = 0;
        let worst16 = 0;
        let exact = 0;
        let total = 0;
        for (const { win, out } of windows) {
          for (const channelOrder of ['rgb', 'bgr'] as const) {
            const norm = { ...imagenet, channelOrder };
            const cpu = new Float32Array(3 * out * out);
            const gpu = new Float32Array(3 * out * out);
            addon.cropToTensor(frame, win, out, cpu, norm);
            cuda!.cropToTensor(frame, win, out, gpu, norm);
            for (let i = 0; i < cpu.length; i++) {
              const d = Math.abs(cpu[i] - gpu[i]);
              worst32 = Math.max(worst32, d);
              exact += d === 0 ? 1 : 0;
            }
            total += cpu.length;
            const cpu16 = toHalf(cpu);
            const gpu16 = new Uint16Array(3 * out * out);
            cuda!.cropToTensor(frame, win, out, gpu16, norm);
            for (let i = 0; i < cpu16.length; i++) worst16 = Math.max(worst16, Math.abs(cpu16[i] - gpu16[i]));
          }
        }
        t.log(`float32: ${exact}/${total} values bit-identical, max abs diff ${worst32}; float16: max ${worst16} ulp`);
        // Bit-identical on x86-64; an aarch64 CPU build may fuse a multiply-add the GPU does not.
        t.true(worst32 < 1e-5, `float32 max abs difference ${worst32}`);
        t.true(worst16 <= 1, `float16 differs by ${worst16} ulp`);
      });
    }
  }

  test('CUDA crop rejects a bad frame with the same typed error as the CPU crop', (t) => {
    const bad = { data: new Uint8Array(10), width: 64, height: 48, format: 'rgb' };
    const dst = new Float32Array(3 * 16 * 16);
    const norm = { ...imagenet, channelOrder: 'rgb' as const };
    const e = t.throws(() => cuda!.cropToTensor(bad, { x0: 0, y0: 0, side: 32 }, 16, dst, norm));
    t.is((e as Error & { code?: string }).code, 'ERR_FRAME_BUFFER');
  });
}
