/**
 * Why does a model drift? Tracks one frame at a time from the ground truth: for frames i of the
 * held-out clips, init() on frame i-1 with its true box, track() frame i, and compare with the
 * true box there. No error can accumulate, so what it prints is the model's own per-frame bias:
 *
 * - size ratio: geometric mean of sqrt(predicted area / true area). A tracker crops the next
 *   search region from its last box, so a ratio of 1.10 compounds to 1.1^10 = 2.6x in ten frames.
 * - one-step IoU and the centre error in units of the target's size (median).
 *
 *   npx tsx tools/one-step-check.ts --model models/teacher.onnx [--model other.onnx] [--clips 20]
 *     [--frames 30] [--every 3] [--seed 1] [--difficulty moderate]
 */
import { parseArgs } from 'node:util';
import { iou } from '../ts/eval/metrics.js';
import { markdownTable } from '../ts/eval/report.js';
import { Engine } from '../ts/runtime/engine.js';
import { Tracker } from '../ts/runtime/tracker.js';
import { heldOutClips, type ClipDifficulty } from '../ts/train/data/generator.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', multiple: true },
    clips: { type: 'string', default: '20' },
    frames: { type: 'string', default: '30' },
    every: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    difficulty: { type: 'string', default: 'moderate' },
  },
});
if (!values.model?.length) {
  console.error('usage: npx tsx tools/one-step-check.ts --model FILE.onnx [--model ...] [--clips N] [--frames N] [--every K] [--seed S] [--difficulty easy|moderate|hard]');
  process.exit(2);
}
const clips = heldOutClips(Number(values.clips), Number(values.seed), { length: Number(values.frames), difficulty: values.difficulty as ClipDifficulty });
const every = Number(values.every);

const rows: string[][] = [];
for (const path of values.model) {
  const engine = await Engine.load(path);
  const logRatios: number[] = [];
  const ious: number[] = [];
  const centreErrors: number[] = [];
  for (const clip of clips) {
    const tracker = new Tracker(engine);
    for (let i = 1; i < clip.length; i += every) {
      if (!clip.visible[i - 1] || !clip.visible[i]) continue;
      tracker.init(clip.renderFrame(i - 1), clip.boxes[i - 1]);
      const { box } = await tracker.track(clip.renderFrame(i));
      const truth = clip.boxes[i];
      const size = Math.sqrt(truth.width * truth.height);
      logRatios.push(0.5 * Math.log((box.width * box.height) / (truth.width * truth.height)));
      ious.push(iou(box, truth));
      centreErrors.push(Math.hypot(box.x + box.width / 2 - truth.x - truth.width / 2, box.y + box.height / 2 - truth.y - truth.height / 2) / size);
    }
    tracker.dispose();
  }
  await engine.dispose();
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  rows.push([path, String(ious.length), Math.exp(mean(logRatios)).toFixed(3), mean(ious).toFixed(3), median(centreErrors).toFixed(3)]);
}
console.log(`${clips.length} held-out ${values.difficulty} clips (seed ${values.seed}), one frame in ${every} of the first ${values.frames}, each tracked from the true box of the frame before\n`);
console.log(markdownTable(['Model', 'Frames', 'Size ratio', 'One-step IoU', 'Centre error / size (median)'], rows));
