/**
 * The cmake-js build (native/CMakeLists.txt) builds the same addon as node-gyp (binding.gyp) from the
 * same source list (native/sources.json): built here CPU-only into a temporary directory, it loads,
 * exposes the same functions and crops bit for bit like the addon in build/Release.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNative, type NativeAddon } from '../ts/deploy/native.js';
import { convertFrame, squareFrame } from './helpers/frames.js';
import type { PixelFormat } from '../ts/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');

function missingTool(): string | undefined {
  if (!existsSync(cmakeJs)) return 'cmake-js is not installed (npm install)';
  try {
    execFileSync('cmake', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'cmake is not installed';
  }
  return undefined;
}

const why = missingTool();
const maybe = why ? test.skip : test;

maybe(`cmake-js builds the CPU addon and it crops like the node-gyp one${why ? ` (skipped: ${why})` : ''}`, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-edge-cmake-'));
  try {
    // cmake-js wants Node headers unless native/package.json declares binary.napi_versions (then it
    // uses node-api-headers); point it at the running Node's own headers instead of a download.
    const env = { ...process.env };
    const nodePrefix = dirname(dirname(process.execPath));
    if (!env.npm_config_nodedir && existsSync(join(nodePrefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = nodePrefix;
    const log = execFileSync(
      process.execPath,
      [cmakeJs, 'compile', '--directory', join(root, 'native'), '--out', join(dir, 'build'),
        '--CDCT_EDGE_WITH_CUDA=OFF', `--CDCT_EDGE_OUTPUT_DIR=${join(dir, 'out')}`, '--parallel', '2'],
      { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.regex(log, /ct-edge: addon features: cpu;/);
    const built = createRequire(import.meta.url)(join(dir, 'out', 'ct_edge.node')) as NativeAddon;
    const reference = loadNative();
    for (const key of Object.keys(reference)) t.true(key in built, `the cmake-js addon lacks ${key}`);
    t.false(built.features.cuda);

    const rgb = squareFrame(98, 62, 30, 20, 15);
    const norm = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channelOrder: 'bgr' as const };
    for (const format of ['rgb', 'bgra', 'gray', 'nv12'] as PixelFormat[]) {
      const frame = convertFrame(rgb, format, 3);
      for (const [win, out] of [[{ x0: -20, y0: -10, side: 90 }, 64], [{ x0: 30, y0: 20, side: 16 }, 32]] as const) {
        const a = new Float32Array(3 * out * out);
        const b = new Float32Array(3 * out * out);
        reference.cropToTensor(frame, win, out, a, norm);
        built.cropToTensor(frame, win, out, b, norm);
        t.deepEqual(Buffer.from(b.buffer), Buffer.from(a.buffer), `${format} ${JSON.stringify(win)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
