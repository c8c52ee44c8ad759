/**
 * One-pass evaluation of one or more models on a dataset: each tracker starts from the first
 * ground-truth box and is never re-initialised. Every frame is decoded once and fed to every
 * model's tracker in turn, so side-by-side models see exactly the same pixels.
 */
import type { Dataset, SkippedSequence } from '../datasets/dataset.js';
import type { Sequence } from '../datasets/common.js';
import { readImage } from '../io/images.js';
import type { Engine } from '../engine.js';
import { CtEdgeError, type ErrorCode } from '../../contract/errors.js';
import { Tracker } from '../tracker.js';
import type { Box } from '../../contract/types.js';
import { averageMetrics, sequenceMetrics, type Curves, type Scores, type SequenceMetrics } from './metrics.js';

export interface EvalModel {
  /** Short name for tables and plot legends. */
  label: string;
  engine: Engine;
}

export interface ModelRun {
  /** One box per frame; frame 0 holds the initialisation box. */
  boxes: Box[];
  metrics: SequenceMetrics;
  /** Frames tracked (all but the first) and the time track() took on them. */
  trackedFrames: number;
  trackMs: number;
  fps: number;
}

export interface SequenceResult {
  name: string;
  frames: number;
  /** One entry per model, in the order the models were given. */
  runs: ModelRun[];
}

export interface ModelSummary extends Curves, Scores {
  label: string;
  path: string;
  backend: string;
  /** Frames per second of track() alone (pre-processing, inference, post-processing), not image decoding. */
  fps: number;
  /** This model's AUC over the reference (first) model's. */
  aucKept: number;
  /** This model's FPS over the reference model's. */
  speedup: number;
}

export interface EvalResult {
  models: ModelSummary[];
  sequences: SequenceResult[];
  /** Sequences left out: unreadable when the dataset was opened, a frame that failed to decode, a refused first box. */
  skipped: SkippedSequence[];
}

export interface EvalHooks {
  /** Called before each sequence starts. */
  onSequence?(sequence: Sequence): void;
  /** Called after each frame has gone through every model. */
  onFrame?(): void;
  onSkip?(skipped: SkippedSequence): void;
}

const SEQUENCE_ERRORS: readonly ErrorCode[] = ['ERR_FRAME_DATA', 'ERR_BOX_INVALID', 'ERR_BOX_OUTSIDE'];

async function runSequence(models: readonly EvalModel[], sequence: Sequence, hooks: EvalHooks): Promise<SequenceResult> {
  const trackers = models.map((m) => new Tracker(m.engine));
  try {
    const init = sequence.groundTruth[0]!;
    const runs = models.map(() => ({ boxes: [init], trackMs: 0 }));
    for (let i = 0; i < sequence.framePaths.length; i++) {
      const frame = await readImage(sequence.framePaths[i]);
      for (let m = 0; m < models.length; m++) {
        if (i === 0) {
          trackers[m].init(frame, init);
          continue;
        }
        const result = await trackers[m].track(frame);
        runs[m].boxes.push(result.box);
        runs[m].trackMs += result.timings.totalMs;
      }
      hooks.onFrame?.();
    }
    const trackedFrames = sequence.framePaths.length - 1;
    return {
      name: sequence.name,
      frames: sequence.framePaths.length,
      runs: runs.map((r) => ({
        boxes: r.boxes,
        metrics: sequenceMetrics(r.boxes, sequence.groundTruth),
        trackedFrames,
        trackMs: r.trackMs,
        fps: r.trackMs > 0 ? (trackedFrames * 1000) / r.trackMs : 0,
      })),
    };
  } finally {
    for (const t of trackers) t.dispose();
  }
}

export async function evaluate(models: readonly EvalModel[], dataset: Dataset, hooks: EvalHooks = {}): Promise<EvalResult> {
  if (models.length === 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'evaluate needs at least one model');
  const sequences: SequenceResult[] = [];
  const skipped = [...dataset.skipped];
  for (const sequence of dataset.sequences) {
    hooks.onSequence?.(sequence);
    try {
      sequences.push(await runSequence(models, sequence, hooks));
    } catch (error) {
      // A frame that does not decode, or a first box the tracker refuses, spoils only its own sequence.
      if (!(error instanceof CtEdgeError) || !SEQUENCE_ERRORS.includes(error.code)) throw error;
      const entry = { name: sequence.name, reason: error.code.startsWith('ERR_BOX') ? `first ground-truth box: ${error.message}` : error.message };
      skipped.push(entry);
      hooks.onSkip?.(entry);
    }
  }
  if (sequences.length === 0) throw new CtEdgeError('ERR_DATASET', `no sequence of ${dataset.root} could be evaluated; see the skipped list`);

  const summaries = models.map((model, m) => {
    const runs = sequences.map((s) => s.runs[m]);
    const frames = runs.reduce((n, r) => n + r.trackedFrames, 0);
    const ms = runs.reduce((n, r) => n + r.trackMs, 0);
    return { label: model.label, path: model.engine.path, backend: model.engine.backend, ...averageMetrics(runs.map((r) => r.metrics)), fps: ms > 0 ? (frames * 1000) / ms : 0 };
  });
  const reference = summaries[0];
  return {
    models: summaries.map((s) => ({ ...s, aucKept: s.auc / reference.auc, speedup: s.fps / reference.fps })),
    sequences,
    skipped,
  };
}
