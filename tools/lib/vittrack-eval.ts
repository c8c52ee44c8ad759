/**
 * VitTrack and its students side by side, in one run, frame-interleaved (every frame is tracked by
 * each model in turn, so all see the same machine load): what tools/vittrack-students.ts prints and
 * tools/vittrack-ablation.ts summarises.
 *  - success AUC on the real sequences, with bootstrap 90% intervals (sequences resampled, then
 *    frames within them), and each student's share of VitTrack's AUC;
 *  - the median `Tracker.track()` time and the speed-up, with the frames in ordinary memory (the
 *    tracker copies the region its crop reads) and in shared memory (what ct-edge's sources
 *    deliver; read in place on the engine's thread);
 *  - agreement on footage nobody trained on (the validation figure: choices are made on it, never
 *    on the AUC): `ct-edge compare`'s rule (compareModels) on each video's held-out tail, from
 *    `targets` boxes the target rule picks on its first frame; mean IoU with VitTrack's boxes and
 *    the share of frames above 0.5.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine, type Frame } from '../../ts/index.js';
import { openDataset } from '../../ts/deploy/datasets/dataset.js';
import { median } from '../../ts/deploy/eval/bench.js';
import { iou, SUCCESS_THRESHOLDS } from '../../ts/deploy/eval/metrics.js';
import { modelOptionsFor } from '../../ts/cli/model-options.js';
import { readImage } from '../../ts/deploy/io/images.js';
import { openSource } from '../../ts/deploy/io/open.js';
import { trackSideBySide } from '../../ts/deploy/eval/agreement.js';
import { compareModels, HELD_OUT_SHARE } from '../../ts/deploy/eval/compare.js';
import { proposeTargets } from '../../ts/deploy/eval/targets.js';
import { Rng } from '../../ts/train/data/random.js';
import { SHARED_SEQUENCES, SHARED_UNLABELED, VITTRACK_PATH } from './models.js';

export const VITTRACK_EVAL_DEFAULTS = {
  vittrack: VITTRACK_PATH,
  sequences: SHARED_SEQUENCES,
  unlabeled: SHARED_UNLABELED,
  threads: 1,
  rounds: 1,
  /** The share of each unlabeled video, from its end, that pseudo-labelling never uses. */
  heldOut: HELD_OUT_SHARE,
  /** Targets per held-out tail. */
  targets: 4,
};

export interface VitTrackEvalOptions {
  students: readonly { label: string; path: string }[];
  vittrack?: string;
  sequences?: string;
  unlabeled?: string;
  threads?: number;
  rounds?: number;
  heldOut?: number;
  targets?: number;
  onProgress?: (line: string) => void;
}

export interface ModelRow {
  model: string;
  auc: number;
  /** Bootstrap 90% interval of the AUC. */
  interval: [number, number];
  aucKept: number;
  perSequence: { name: string; auc: number }[];
  msPerFrame: number;
  speedup: number;
  /** The same with every frame in shared memory. */
  msPerFrameShared: number;
  speedupShared: number;
  /** Mean IoU with VitTrack's boxes on the held-out footage; undefined without footage. */
  agreement: number | undefined;
  /** Share of those frames with IoU above 0.5. */
  agreementOver50: number | undefined;
}

export interface VitTrackEval {
  rows: ModelRow[];
  sequences: string[];
  agreement: { video: string; frames: number; targets: number }[];
}

/** A frame's contribution to the success AUC: the share of thresholds its IoU clears. */
const frameScore = (overlap: number) => SUCCESS_THRESHOLDS.filter((t) => overlap > t).length / SUCCESS_THRESHOLDS.length;
const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const auc = (perSequence: number[][]) => mean(perSequence.map(mean));

/** 90% interval of the AUC: sequences resampled with replacement, then frames within each. */
function bootstrap(perSequence: number[][], rng: Rng, draws = 2000): [number, number] {
  const stats: number[] = [];
  for (let d = 0; d < draws; d++) {
    const picked = perSequence.map(() => perSequence[rng.int(perSequence.length)]);
    stats.push(mean(picked.map((s) => mean(s.map(() => s[rng.int(s.length)])))));
  }
  stats.sort((a, b) => a - b);
  return [stats[Math.floor(0.05 * draws)], stats[Math.floor(0.95 * draws)]];
}

export async function evaluateWithVitTrack(options: VitTrackEvalOptions): Promise<VitTrackEval> {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as VitTrackEvalOptions;
  const o = { ...VITTRACK_EVAL_DEFAULTS, ...given };
  const log = o.onProgress ?? (() => undefined);
  const threads = o.threads;
  const models: { label: string; engine: Engine }[] = [];
  try {
    // VitTrack's conventions from the sidecar beside it (models/vittrack.onnx.json), as the CLI reads them.
    models.push({ label: 'VitTrack', engine: await Engine.load(o.vittrack, { ...(await modelOptionsFor(o.vittrack, {})), threads }) });
    for (const s of o.students) models.push({ label: s.label, engine: await Engine.load(s.path, { threads }) });
    const engines = models.map((m) => m.engine);

    // 1. Real sequences: AUC (mean over sequences of the mean frame score) and times.
    const dataset = await openDataset(o.sequences, 'otb');
    const scores: number[][][] = models.map(() => []); // [model][sequence][frame]
    const times: number[][] = models.map(() => []);
    const timesShared: number[][] = models.map(() => []);
    const inSharedMemory = (f: Frame): Frame => {
      const data = new Uint8Array(new SharedArrayBuffer(f.data.byteLength));
      data.set(f.data as Uint8Array);
      return { ...f, data };
    };
    for (const sequence of dataset.sequences) {
      const frames = await Promise.all(sequence.framePaths.map(readImage));
      const shared = frames.map(inSharedMemory);
      for (let round = 0; round < o.rounds; round++) {
        const { boxes, trackMs: ms } = await trackSideBySide(engines, frames, sequence.groundTruth[0]!);
        const { trackMs: msShared } = await trackSideBySide(engines, shared, sequence.groundTruth[0]!);
        models.forEach((_, k) => {
          times[k].push(...ms[k]);
          timesShared[k].push(...msShared[k]);
          if (round === 0) scores[k].push(sequence.groundTruth.flatMap((gt, i) => (gt ? [frameScore(iou(boxes[k][i], gt))] : [])));
        });
      }
      log(`${sequence.name}: ${frames.length} frames`);
    }

    // 2. Agreement on the held-out tail of each unlabeled video (ct-edge compare's figures).
    const clips = [];
    for (const name of (await readdir(o.unlabeled).catch(() => [])).filter((n) => /\.(avi|mp4|mkv|mov)$/i.test(n)).sort()) {
      const source = await openSource(join(o.unlabeled, name));
      const frames: Frame[] = [];
      for await (const { frame } of source) frames.push(frame);
      await source.close();
      const tail = frames.slice(Math.floor(frames.length * (1 - o.heldOut)));
      clips.push({ name, frames: tail, starts: proposeTargets(tail[0], o.targets) });
      log(`${name}: held-out tail of ${tail.length} frames`);
    }
    const compared = clips.length ? await compareModels(models, clips) : undefined;
    const agreement: VitTrackEval['agreement'] = (compared?.clips ?? []).map((c) => ({ video: c.name, frames: c.frames, targets: c.targets }));

    const rng = new Rng(7);
    const rows = models.map((m, k): ModelRow => {
      const a = auc(scores[k]);
      const ms = median(times[k]);
      return {
        model: m.label,
        auc: a,
        interval: bootstrap(scores[k], rng),
        aucKept: a / auc(scores[0]),
        perSequence: dataset.sequences.map((s, j) => ({ name: s.name, auc: mean(scores[k][j]) })),
        msPerFrame: ms,
        speedup: median(times[0]) / ms,
        msPerFrameShared: median(timesShared[k]),
        speedupShared: median(timesShared[0]) / median(timesShared[k]),
        agreement: compared?.rows[k].agreement,
        agreementOver50: compared?.rows[k].agreementOver50,
      };
    });
    return { rows, sequences: dataset.sequences.map((s) => s.name), agreement };
  } finally {
    await Promise.all(models.map((m) => m.engine.dispose()));
  }
}

const pct = (v: number) => (100 * v).toFixed(1);

/** The side-by-side table as Markdown. */
export function vittrackTable(rows: readonly ModelRow[]): string {
  return [
    '| model | AUC (90% CI) | AUC kept | ms/frame (p50) | speed-up | ms/frame, shared memory | speed-up | validation: agreement with VitTrack (mean IoU; frames > 0.5) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${pct(r.auc)} (${pct(r.interval[0])}-${pct(r.interval[1])}) | ${pct(r.aucKept)}% | ${r.msPerFrame.toFixed(2)} | ${r.speedup.toFixed(2)}x | ${r.msPerFrameShared.toFixed(2)} | ${r.speedupShared.toFixed(2)}x | ` +
        `${r.agreement === undefined ? '-' : `${r.agreement.toFixed(3)}; ${pct(r.agreementOver50!)}%`} |`,
    ),
  ].join('\n');
}
