/**
 * Agreement where no ground truth exists: every model starts from the same box and tracks the same
 * frames, frame-interleaved (all see the same machine load); each model's boxes are compared with
 * the reference's (the first model's) by IoU. Also times every `Tracker.track()` call.
 */
import type { Box, Frame } from '../../contract/types.js';
import type { Engine } from '../engine.js';
import { Tracker } from '../tracker.js';
import { iou } from './metrics.js';

export interface TrackedSideBySide {
  /** Per model: a box per frame (frame 0 holds the start box). */
  boxes: Box[][];
  /** Per model: the wall time of each track() call, ms. */
  trackMs: number[][];
  /** Per model: whether each track() reported the target lost. */
  lost: boolean[][];
  /** Per model: each track()'s windowed peak score, the value the lost rule reads. */
  scores: number[][];
}

/** Each engine's tracker from `box` through `frames`, frame by frame in turn. */
export async function trackSideBySide(engines: readonly Engine[], frames: readonly Frame[], box: Box): Promise<TrackedSideBySide> {
  const trackers = engines.map((e) => new Tracker(e));
  const boxes: Box[][] = engines.map(() => [box]);
  const trackMs: number[][] = engines.map(() => []);
  const lost: boolean[][] = engines.map(() => []);
  const scores: number[][] = engines.map(() => []);
  try {
    trackers.forEach((t) => t.init(frames[0], box));
    for (let i = 1; i < frames.length; i++) {
      for (let k = 0; k < trackers.length; k++) {
        const t0 = performance.now();
        const r = await trackers[k].track(frames[i]);
        trackMs[k].push(performance.now() - t0);
        boxes[k].push(r.box);
        lost[k].push(r.state === 'lost');
        scores[k].push(r.score);
      }
    }
  } finally {
    trackers.forEach((t) => t.dispose());
  }
  return { boxes, trackMs, lost, scores };
}

/** Mean IoU of each engine's boxes with the first engine's over `frames`, from each of `starts`. */
export async function agreement(engines: readonly Engine[], frames: readonly Frame[], starts: readonly Box[]): Promise<{ meanIou: number[]; trackMs: number[][] }> {
  const sums = engines.map(() => 0);
  const trackMs: number[][] = engines.map(() => []);
  let counted = 0;
  for (const box of starts) {
    const run = await trackSideBySide(engines, frames, box);
    for (let i = 1; i < frames.length; i++) {
      engines.forEach((_, k) => (sums[k] += iou(run.boxes[k][i], run.boxes[0][i])));
      counted += 1;
    }
    run.trackMs.forEach((ms, k) => trackMs[k].push(...ms));
  }
  return { meanIou: sums.map((s) => (counted ? s / counted : 0)), trackMs };
}
