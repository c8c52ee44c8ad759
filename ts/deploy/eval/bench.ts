/**
 * Latency benchmark of one or more trackers on the same frames. Models run interleaved frame by
 * frame, and the order they run in rotates every frame, so a slow spell of a noisy machine hits
 * every model alike and the ratios between them hold even when the absolute numbers wander.
 */
import { performance } from 'node:perf_hooks';
import type { Engine } from '../engine.js';
import { Tracker } from '../tracker.js';
import type { Box, Frame } from '../../contract/types.js';

/** Where the frames come from: `frame(i)` for i = 0, 1, ...; the source loops with `length`. */
export interface FrameSource {
  description: string;
  /** Frames before the source repeats (at least 2); trackers start again, untimed, at each repeat. */
  length: number;
  /** The box to start the trackers from at frame 0. */
  initBox: Box;
  /** Frame `index`, 0 <= index < length. */
  frame(index: number): Frame | Promise<Frame>;
}

export interface BenchModel {
  label: string;
  engine: Engine;
  /** Resident memory the process grew by while this model loaded (MiB), when the caller measured it. */
  loadRssMiB?: number;
}

export interface LatencyStats {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

export interface BenchResult {
  label: string;
  path: string;
  backend: string;
  frames: number;
  /** Wall time of `await tracker.track(frame)` as the caller sees it, in ms. */
  latency: LatencyStats;
  /** 1000 / mean latency. */
  fps: number;
  /** Mean ms per frame of each stage; glue = latency - the three (promise hops, queueing, timing overhead). */
  split: { preprocessMs: number; inferenceMs: number; postprocessMs: number; glueMs: number };
  /** Resident memory the process grew by while this model loaded, in MiB. */
  loadRssMiB: number;
  /** This model's FPS over the first model's. */
  speedup: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The median (the lower middle value of an even count, as percentile 50). */
export const median = (values: readonly number[]): number => percentile([...values].sort((a, b) => a - b), 50);

/** A synthetic clip: a textured square moving along a smooth loop over a gradient background. */
export function movingSquareSource(width: number, height: number, length = 240): FrameSource {
  const side = Math.round(Math.min(width, height) / 6);
  const position = (i: number) => {
    const t = (2 * Math.PI * i) / length;
    return {
      x: Math.round((width - side) / 2 + ((width - side) / 3) * Math.sin(t)),
      y: Math.round((height - side) / 2 + ((height - side) / 3) * Math.sin(2 * t)),
    };
  };
  const start = position(0);
  return {
    description: `synthetic ${width}x${height}, moving ${side}px square, ${length}-frame loop`,
    length,
    initBox: { x: start.x, y: start.y, width: side, height: side },
    frame(index) {
      const { x, y } = position(index);
      const data = new Uint8Array(width * height * 3);
      for (let j = 0; j < height; j++) {
        for (let i = 0; i < width; i++) {
          const o = (j * width + i) * 3;
          if (i >= x && i < x + side && j >= y && j < y + side) {
            // A checker pattern inside the square gives the tracker something to lock on to.
            const on = ((((i - x) >> 3) + ((j - y) >> 3)) & 1) === 0;
            data[o] = on ? 230 : 150;
            data[o + 1] = on ? 60 : 30;
            data[o + 2] = 40;
          } else {
            data[o] = 40 + ((i * 5) % 60);
            data[o + 1] = 60 + ((j * 3) % 60);
            data[o + 2] = 90 + (((i + j) * 2) % 60);
          }
        }
      }
      return { data, width, height, format: 'rgb' };
    },
  };
}

export interface BenchOptions {
  frames: number;
  warmup: number;
  onFrame?(): void;
}

export async function benchmark(models: readonly BenchModel[], source: FrameSource, options: BenchOptions): Promise<BenchResult[]> {
  const trackers = models.map((m) => new Tracker(m.engine));
  const samples = models.map(() => ({ total: [] as number[], pre: 0, inf: 0, post: 0 }));
  try {
    // `tracked` counts frames run through the trackers, warm-up included; init frames are not timed.
    for (let i = 0, tracked = 0; tracked < options.warmup + options.frames; i++) {
      const frame = await source.frame(i % source.length);
      if (i % source.length === 0) {
        for (const t of trackers) t.init(frame, source.initBox);
        continue;
      }
      const timed = tracked >= options.warmup;
      for (let k = 0; k < models.length; k++) {
        const m = (i + k) % models.length;
        const t0 = performance.now();
        const r = await trackers[m].track(frame);
        const wall = performance.now() - t0;
        if (!timed) continue;
        const s = samples[m];
        s.total.push(wall);
        s.pre += r.timings.preprocessMs;
        s.inf += r.timings.inferenceMs;
        s.post += r.timings.postprocessMs;
      }
      tracked += 1;
      if (timed) options.onFrame?.();
    }
  } finally {
    for (const t of trackers) t.dispose();
  }
  const results = models.map((model, m) => {
    const s = samples[m];
    const n = s.total.length;
    const sorted = [...s.total].sort((a, b) => a - b);
    const mean = s.total.reduce((a, b) => a + b, 0) / n;
    return {
      label: model.label,
      path: model.engine.path,
      backend: model.engine.backend,
      frames: n,
      latency: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), mean },
      fps: 1000 / mean,
      split: { preprocessMs: s.pre / n, inferenceMs: s.inf / n, postprocessMs: s.post / n, glueMs: mean - (s.pre + s.inf + s.post) / n },
      loadRssMiB: model.loadRssMiB ?? NaN,
      speedup: 1,
    };
  });
  return results.map((r) => ({ ...r, speedup: r.fps / results[0].fps }));
}
