/**
 * VitTrack and its compressed students side by side, in one run, frame-interleaved (every frame is
 * tracked by each model in turn, so all see the same machine load):
 *  - success AUC on the real sequences, with bootstrap 90% intervals (sequences resampled, then
 *    frames within them), and each student's share of VitTrack's AUC;
 *  - the median `Tracker.track()` time (onnxruntime, --threads threads) and the speed-up;
 *  - agreement on footage nobody trained on: from boxes the target rule picks on the first frame
 *    of each video's held-out last 20% (ts/train/data/pseudo-label.ts), VitTrack and each student
 *    track the rest of it; the mean IoU between their boxes.
 *
 *   npx tsx tools/vittrack-students.ts --student models/vittrack-student.onnx [--student ...]
 *     [--vittrack models/vittrack.onnx] [--sequences ../shared/data/sequences] [--unlabeled ../shared/data/unlabeled] [--threads 1]
 *     [--rounds 1] [--out ct-edge-vittrack]
 *
 * Prints a markdown table and writes it with the raw figures (results.json) into --out.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine, type Frame } from '../ts/index.js';
import { openDataset } from '../ts/deploy/datasets/dataset.js';
import { median } from '../ts/deploy/eval/bench.js';
import { iou, SUCCESS_THRESHOLDS } from '../ts/deploy/eval/metrics.js';
import { modelOptionsFor } from '../ts/cli/model-options.js';
import { readImage } from '../ts/deploy/io/images.js';
import { openSource } from '../ts/deploy/io/open.js';
import { agreement as agreementOf, trackSideBySide } from '../ts/deploy/eval/agreement.js';
import { proposeTargets } from '../ts/deploy/eval/targets.js';
import { Rng } from '../ts/train/data/random.js';

const shared = join(import.meta.dirname, '..', '..', 'shared', 'data');
const { values } = parseArgs({
  options: {
    student: { type: 'string', multiple: true },
    vittrack: { type: 'string', default: join(import.meta.dirname, '..', 'models', 'vittrack.onnx') },
    sequences: { type: 'string', default: join(shared, 'sequences') },
    unlabeled: { type: 'string', default: join(shared, 'unlabeled') },
    threads: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    'held-out': { type: 'string', default: '0.2' },
    out: { type: 'string', default: 'ct-edge-vittrack' },
  },
});
if (!values.student?.length) {
  console.error('usage: npx tsx tools/vittrack-students.ts --student STUDENT.onnx [--student ...] [options] (see the header of this file)');
  process.exit(2);
}
const threads = Number(values.threads);
const rounds = Number(values.rounds);

const models = [
  // its conventions from the sidecar beside it (models/vittrack.onnx.json), as the CLI reads them
  { label: 'VitTrack', engine: await Engine.load(values.vittrack!, { ...(await modelOptionsFor(values.vittrack!, {})), threads }) },
  ...(await Promise.all(values.student.map(async (path) => ({ label: basename(path, '.onnx'), engine: await Engine.load(path, { threads }) })))),
];
const engines = models.map((m) => m.engine);

/** A frame's contribution to the success AUC: the share of thresholds its IoU clears. */
const frameScore = (overlap: number) => SUCCESS_THRESHOLDS.filter((t) => overlap > t).length / SUCCESS_THRESHOLDS.length;
const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

// 1. Real sequences: AUC (mean over sequences of the mean frame score) and times.
const dataset = await openDataset(values.sequences!, 'otb');
const scores: number[][][] = models.map(() => []); // [model][sequence][frame]
const times: number[][] = models.map(() => []);
for (const sequence of dataset.sequences) {
  const frames = await Promise.all(sequence.framePaths.map(readImage));
  for (let round = 0; round < rounds; round++) {
    const { boxes, trackMs: ms } = await trackSideBySide(engines, frames, sequence.groundTruth[0]!);
    models.forEach((_, k) => {
      times[k].push(...ms[k]);
      if (round === 0) scores[k].push(sequence.groundTruth.flatMap((gt, i) => (gt ? [frameScore(iou(boxes[k][i], gt))] : [])));
    });
  }
  console.error(`${sequence.name}: ${frames.length} frames`);
}
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

// 2. Agreement on the held-out tail of each unlabeled video.
const agreement: { video: string; frames: number; targets: number; meanIou: number[] }[] = [];
for (const name of (await readdir(values.unlabeled!).catch(() => [])).filter((n) => /\.(avi|mp4|mkv|mov)$/i.test(n)).sort()) {
  const source = await openSource(join(values.unlabeled!, name));
  const frames: Frame[] = [];
  for await (const { frame } of source) frames.push(frame);
  await source.close();
  const tail = frames.slice(Math.floor(frames.length * (1 - Number(values['held-out']))));
  const targets = proposeTargets(tail[0], 2);
  const { meanIou } = await agreementOf(engines, tail, targets);
  agreement.push({ video: name, frames: tail.length, targets: targets.length, meanIou });
  console.error(`${name}: held-out tail of ${tail.length} frames, ${targets.length} targets`);
}

const rng = new Rng(7);
const rows = models.map((m, k) => {
  const a = auc(scores[k]);
  const [lo, hi] = bootstrap(scores[k], rng);
  const ms = median(times[k]);
  return {
    model: m.label,
    auc: a,
    interval: [lo, hi],
    aucKept: a / auc(scores[0]),
    perSequence: dataset.sequences.map((s, j) => ({ name: s.name, auc: mean(scores[k][j]) })),
    msPerFrame: ms,
    speedup: median(times[0]) / ms,
    agreement: agreement.length ? mean(agreement.map((v) => v.meanIou[k])) : undefined,
  };
});
const pct = (v: number) => (100 * v).toFixed(1);
const table = [
  '| model | AUC (90% CI) | AUC kept | ms/frame (p50) | speed-up | agreement with VitTrack (mean IoU, held-out footage) |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.model} | ${pct(r.auc)} (${pct(r.interval[0])}-${pct(r.interval[1])}) | ${pct(r.aucKept)}% | ${r.msPerFrame.toFixed(2)} | ${r.speedup.toFixed(2)}x | ${r.agreement === undefined ? '-' : r.agreement.toFixed(3)} |`),
].join('\n');
console.log(table);
await mkdir(values.out!, { recursive: true });
await writeFile(join(values.out!, 'table.md'), `${table}\n`);
await writeFile(join(values.out!, 'results.json'), JSON.stringify({ threads, rounds, sequences: dataset.sequences.map((s) => s.name), models: rows, agreement }, null, 1));
for (const m of models) await m.engine.dispose();
