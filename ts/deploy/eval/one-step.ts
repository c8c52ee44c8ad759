/**
 * The one-step check: why a model drifts. For frames i of some clips, init() on frame i-1 with its
 * true box, track() frame i, and compare with the true box there. No error can accumulate, so the
 * figures are the model's own per-frame bias. The size ratio matters most: a tracker crops the
 * next search region from its last box, so a ratio of 1.10 compounds to 1.1^10 = 2.6x in ten frames.
 */
import type { Engine } from '../engine.js';
import { CtEdgeError } from '../../contract/errors.js';
import { Tracker } from '../tracker.js';
import type { Box, Frame } from '../../contract/types.js';
import { iou } from './metrics.js';

/** A clip as the check needs it (SyntheticClip is one). */
export interface OneStepClip {
  length: number;
  boxes: readonly Box[];
  visible: readonly boolean[];
  renderFrame(index: number): Frame;
}

export interface OneStepStats {
  /** Frames measured: every `every`-th frame whose target and previous target are visible. */
  frames: number;
  /** Geometric mean of sqrt(predicted area / true area); 1 = unbiased. */
  sizeRatio: number;
  meanIou: number;
  /** Median distance between predicted and true centres, in units of sqrt(true area). */
  medianCentreError: number;
}

export async function oneStepCheck(engine: Engine, clips: readonly OneStepClip[], every = 1): Promise<OneStepStats> {
  if (!(Number.isInteger(every) && every >= 1)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `every must be a whole number >= 1, got ${every}`);
  let logRatios = 0;
  let ious = 0;
  const centreErrors: number[] = [];
  for (const clip of clips) {
    const tracker = new Tracker(engine);
    try {
      for (let i = 1; i < clip.length; i += every) {
        if (!clip.visible[i - 1] || !clip.visible[i]) continue;
        tracker.init(clip.renderFrame(i - 1), clip.boxes[i - 1]);
        const { box } = await tracker.track(clip.renderFrame(i));
        const truth = clip.boxes[i];
        logRatios += 0.5 * Math.log((box.width * box.height) / (truth.width * truth.height));
        ious += iou(box, truth);
        const dx = box.x + box.width / 2 - (truth.x + truth.width / 2);
        const dy = box.y + box.height / 2 - (truth.y + truth.height / 2);
        centreErrors.push(Math.hypot(dx, dy) / Math.sqrt(truth.width * truth.height));
      }
    } finally {
      tracker.dispose();
    }
  }
  const frames = centreErrors.length;
  if (frames === 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'the one-step check found no pair of consecutive frames with a visible target; give more or longer clips');
  centreErrors.sort((a, b) => a - b);
  return { frames, sizeRatio: Math.exp(logRatios / frames), meanIou: ious / frames, medianCentreError: centreErrors[frames >> 1] };
}
