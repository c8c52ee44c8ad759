/**
 * Loads the compiled addon (build/Release/ct_edge.node, made by `npm install` through node-gyp, or
 * by `npm run build:native:cmake` through cmake-js with CUDA/TensorRT when they are present).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CtEdgeError } from './errors.js';

export interface NativeTrackerConfig {
  templateSize: number;
  searchSize: number;
  featureSize: number;
  templateFactor: number;
  searchFactor: number;
  mean: readonly number[];
  std: readonly number[];
  channelOrder: 'rgb' | 'bgr';
  boxMapping: 'ostrack' | 'opencv';
  lostThreshold: number;
  dtype: 'float32' | 'float16';
}

export interface NativeUpdate {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
  rawScore: number;
  peakX: number;
  peakY: number;
  lost: boolean;
}

export interface NativeTracker {
  init(frame: object, box: object): void;
  prepareSearch(frame: object): void;
  prepareSearchAsync(frame: object): Promise<void>;
  update(score: Float32Array, size: Float32Array, offset: Float32Array): NativeUpdate;
  dispose(): void;
}

export interface NativeAddon {
  NativeTracker: new (
    config: NativeTrackerConfig,
    template: Float32Array | Uint16Array,
    search: Float32Array | Uint16Array,
  ) => NativeTracker;
  cropToTensor(
    frame: object,
    window: { x0: number; y0: number; side: number },
    outSize: number,
    dst: Float32Array | Uint16Array,
    norm: { mean: readonly number[]; std: readonly number[]; channelOrder: 'rgb' | 'bgr' },
  ): void;
  hannWindow(featureSize: number): Float32Array;
  halfToFloat(values: Uint16Array): Float32Array;
  features: { cuda: boolean; tensorrt: boolean };
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let addon: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (addon) return addon;
  const candidates = [join(packageRoot, 'build', 'Release', 'ct_edge.node'), join(packageRoot, 'build', 'Debug', 'ct_edge.node')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new CtEdgeError(
      'ERR_NATIVE_MISSING',
      `the ct-edge native addon is not built (looked for ${candidates.join(', ')}). ` +
        'Run `npm rebuild ct-edge` (needs python3, make and a C++17 compiler), or `npm run build:native` inside the package.',
    );
  }
  addon = createRequire(import.meta.url)(found) as NativeAddon;
  return addon;
}
