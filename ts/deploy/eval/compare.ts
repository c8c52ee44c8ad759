/**
 * Models side by side on footage of your own (`ct-edge compare`): every model follows the same
 * targets through the same frames, frame-interleaved (all see the same machine load).
 *
 * - Unlabeled video or image folders: the last HELD_OUT_SHARE of each, the part label-free
 *   compression never trains on (ts/train/data/pseudo-label.ts keeps to the rest). Targets are
 *   given boxes on its first frame, or the ones that stand out most there (proposeTargets). Each
 *   model is scored by its agreement with the first model: mean IoU of their boxes, and the share
 *   of frames where the IoU exceeds 0.5.
 * - Labelled sequences: every frame, from the first ground-truth box; success AUC against the
 *   labels as well as the agreement.
 * Always: the median Tracker.track() time and the speed-up over the first model, and how often each
 * model reported the target lost.
 */
import type { Box, Frame } from '../../contract/types.js';
import type { Engine } from '../engine.js';
import { median } from './bench.js';
import { iou, SUCCESS_THRESHOLDS } from './metrics.js';
import { trackSideBySide } from './agreement.js';

/** Share of each unlabeled video, at its end, that compression leaves out and comparisons use. */
export const HELD_OUT_SHARE = 0.2;

/** One stretch of frames every model tracks from `start`; `labels` (per frame, null where absent) when labelled. */
export interface CompareClip {
  name: string;
  frames: readonly Frame[];
  starts: readonly Box[];
  labels?: readonly (Box | null)[];
}

export interface CompareRow {
  model: string;
  /** Mean IoU with the first model's boxes over every tracked frame (1 for the first model). */
  agreement: number;
  /** Share of tracked frames whose IoU with the first model's box exceeds 0.5. */
  agreementOver50: number;
  /** Success AUC over the labelled clips (mean over clips), when any clip is labelled. */
  auc?: number;
  /** Share of tracked frames reported lost. */
  lostShare: number;
  msPerFrame: number;
  /** The first model's median time over this one's. */
  speedup: number;
}

export interface CompareResult {
  rows: CompareRow[];
  clips: { name: string; frames: number; targets: number; labelled: boolean }[];
}

/** Runs every engine over every clip and target (see the top of this file). */
export async function compareModels(models: readonly { label: string; engine: Engine }[], clips: readonly CompareClip[], onClip?: (name: string) => void): Promise<CompareResult> {
  const engines = models.map((m) => m.engine);
  const ious = models.map(() => [] as number[]);
  const lost = models.map(() => 0);
  const times = models.map(() => [] as number[]);
  const aucs = models.map(() => [] as number[]);
  for (const clip of clips) {
    for (const start of clip.starts) {
      const run = await trackSideBySide(engines, clip.frames, start);
      models.forEach((_, k) => {
        times[k].push(...run.trackMs[k]);
        lost[k] += run.lost[k].filter(Boolean).length;
        for (let i = 1; i < clip.frames.length; i++) ious[k].push(iou(run.boxes[k][i], run.boxes[0][i]));
        if (clip.labels) {
          const scores = clip.labels.flatMap((gt, i) => (gt && i > 0 ? [SUCCESS_THRESHOLDS.filter((t) => iou(run.boxes[k][i], gt) > t).length / SUCCESS_THRESHOLDS.length] : []));
          if (scores.length) aucs[k].push(scores.reduce((a, b) => a + b, 0) / scores.length);
        }
      });
    }
    onClip?.(clip.name);
  }
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const base = median(times[0]);
  return {
    rows: models.map((m, k) => ({
      model: m.label,
      agreement: mean(ious[k]),
      agreementOver50: mean(ious[k].map((v) => (v > 0.5 ? 1 : 0))),
      ...(aucs[k].length > 0 && { auc: mean(aucs[k]) }),
      lostShare: lost[k] / Math.max(1, ious[k].length),
      msPerFrame: median(times[k]),
      speedup: base / median(times[k]),
    })),
    clips: clips.map((c) => ({ name: c.name, frames: c.frames.length, targets: c.starts.length, labelled: c.labels !== undefined })),
  };
}

/** The comparison as a Markdown table. */
export function compareTable(result: CompareResult): string {
  const labelled = result.rows.some((r) => r.auc !== undefined);
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  return [
    `| model | agreement (mean IoU with ${result.rows[0].model}) | frames IoU > 0.5 |${labelled ? ' success AUC |' : ''} lost | ms/frame (p50) | speed-up |`,
    `|---|---:|---:|${labelled ? '---:|' : ''}---:|---:|---:|`,
    ...result.rows.map(
      (r) =>
        `| ${r.model} | ${r.agreement.toFixed(3)} | ${pct(r.agreementOver50)} |${labelled ? ` ${r.auc === undefined ? '-' : (100 * r.auc).toFixed(1)} |` : ''} ${pct(r.lostShare)} | ${r.msPerFrame.toFixed(2)} | ${r.speedup.toFixed(2)}x |`,
    ),
  ].join('\n');
}
