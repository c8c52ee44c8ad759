/**
 * Why does a model drift? The one-step check (ts/deploy/eval/one-step.ts) on held-out generated clips:
 * each measured frame is tracked from the true box of the frame before, so nothing accumulates and
 * the table shows each model's own per-frame size bias, IoU and centre error.
 *
 *   npx tsx tools/one-step-check.ts --model models/teacher.onnx [--model other.onnx] [--clips 20]
 *     [--frames 30] [--every 3] [--seed 1] [--difficulty moderate]
 */
import { parseArgs } from 'node:util';
import { parseIntFlag } from '../ts/cli/model-options.js';
import { parseDifficulty } from '../ts/cli/training-options.js';
import { oneStepCheck } from '../ts/deploy/eval/one-step.js';
import { markdownTable } from '../ts/deploy/eval/report.js';
import { Engine } from '../ts/deploy/engine.js';
import { CtEdgeError } from '../ts/contract/errors.js';
import { heldOutClips } from '../ts/train/data/generator.js';
import { runTool } from './lib/study.js';

runTool('one-step-check', async () => {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', multiple: true },
      clips: { type: 'string' },
      frames: { type: 'string' },
      every: { type: 'string' },
      seed: { type: 'string' },
      difficulty: { type: 'string', default: 'moderate' },
    },
  });
  if (!values.model?.length) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'usage: npx tsx tools/one-step-check.ts --model FILE.onnx [--model ...] [--clips N] [--frames N] [--every K] [--seed S] [--difficulty easy|moderate|hard]');
  }
  const difficulty = parseDifficulty(values.difficulty!);
  const frames = parseIntFlag(values.frames, 'frames', 30, 2);
  const every = parseIntFlag(values.every, 'every', 3);
  const seed = parseIntFlag(values.seed, 'seed', 1, 0);
  const clips = heldOutClips(parseIntFlag(values.clips, 'clips', 20), seed, { length: frames, difficulty });
  const rows: string[][] = [];
  for (const path of values.model) {
    const engine = await Engine.load(path);
    try {
      const s = await oneStepCheck(engine, clips, every);
      rows.push([path, String(s.frames), s.sizeRatio.toFixed(3), s.meanIou.toFixed(3), s.medianCentreError.toFixed(3)]);
    } finally {
      await engine.dispose();
    }
  }
  console.log(`${clips.length} held-out ${difficulty} clips (seed ${seed}), one frame in ${every} of the first ${frames}, each tracked from the true box of the frame before\n`);
  console.log(markdownTable(['Model', 'Frames', 'Size ratio', 'One-step IoU', 'Centre error / size (median)'], rows));
});
