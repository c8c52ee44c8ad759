/**
 * The CUDA pre-processing kernels' logic checked without a GPU: test/native/cuda_emulation_check.cpp
 * compiles the kernel bodies (native/cuda/preprocess_kernels.cuh) for the host, runs them thread by
 * thread and compares every output with the CPU crop for every pixel format, several windows, both
 * channel orders, float32 and float16 (the CPU crop is float32 only: its output rounded to float16).
 * The GPU itself is covered by cuda-preprocess.test.ts. The same program checks that staging only
 * the rows a crop reads (the GPU tracker's FrameStager) gives the same crops as the whole frame.
 * And a group's crops in one launch (crop_normalize_batch_async) equal each window's crop alone.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cxx = process.env.CXX ?? 'g++';

function hasCompiler(): boolean {
  try {
    execFileSync(cxx, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const maybe = hasCompiler() ? test : test.skip;

maybe('CUDA crop kernels, emulated on the host, equal the CPU crop', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-edge-cuda-emu-'));
  try {
    // The core as the addon compiles it (binding.gyp: -O3), the kernels without FMA contraction.
    execFileSync(cxx, ['-std=c++17', '-O3', '-c', join(root, 'native/core/frame.cpp'), join(root, 'native/core/crop.cpp')], { cwd: dir });
    const exe = join(dir, 'check');
    execFileSync(cxx, [
      '-std=c++17', '-O1', '-ffp-contract=off', '-Wno-unknown-pragmas',
      join(root, 'test/native/cuda_emulation_check.cpp'), join(dir, 'frame.o'), join(dir, 'crop.o'), '-o', exe,
    ]);
    const out = execFileSync(exe, { encoding: 'utf8' });
    t.log(out.trim());
    t.regex(out, / 0 of \d+ outputs beyond tolerance/);
    t.regex(out, /half_to_float round trip: 0 of/);
    t.regex(out, /staging only the rows a crop reads: 0 of [1-9]\d* crops differ/);
    // A group's search crops in one launch, from the merged rows of all its windows.
    t.regex(out, /batched crops \(one launch per frame\): 0 of [1-9]\d* differ/);
    // The TensorRT tracker's host copies per frame: only the rows the crop reads, no whole frame.
    const copies = [...out.matchAll(/bytes copied per frame, (\w+) (\d+)x(\d+): before (\d+) \(whole frame (\d+) \+ rows (\d+)\), now (\d+)/g)];
    t.is(copies.length, 4);
    for (const [, , w, h, before, whole, rows, now] of copies) {
      t.is(Number(now), Number(rows));
      t.is(Number(before), Number(whole) + Number(rows));
      t.true(Number(now) < Number(whole) * 0.6, `${w}x${h}: ${now} of ${whole} bytes`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
