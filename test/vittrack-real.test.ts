/**
 * Proof on real data: VitTrack (OpenCV's pretrained tracker) on the four shared sequences, started
 * from the first ground-truth box and never re-initialised, must reach the mean IoU that a plain
 * re-implementation of OpenCV's loop reaches (../shared/data/README.md) within 0.02.
 */
import test from 'ava';
import { join } from 'node:path';
import { Engine, Tracker } from '../ts/index.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { iou } from '../ts/deploy/eval/metrics.js';
import { readImage } from '../ts/deploy/io/images.js';
import { hasSharedData, sequencesDir, sharedDataSkipReason, vitTrackOptions, vitTrackPath } from './helpers/data.js';

const reference: Record<string, number> = { crossing: 0.66, couple: 0.74, football1: 0.66, bag: 0.79 };

for (const [name, expected] of Object.entries(reference)) {
  (hasSharedData ? test : test.skip)(`VitTrack tracks ${name} to mean IoU >= ${expected - 0.02}${hasSharedData ? '' : ` (${sharedDataSkipReason})`}`, async (t) => {
    const engine = await Engine.load(vitTrackPath, { ...vitTrackOptions, threads: 1 });
    const sequence = await readOtbSequence(join(sequencesDir, name));
    await using tracker = new Tracker(engine);
    let sum = 0;
    let count = 0;
    for (let i = 0; i < sequence.framePaths.length; i++) {
      const frame = await readImage(sequence.framePaths[i]);
      if (i === 0) {
        tracker.init(frame, sequence.groundTruth[0]!);
        continue;
      }
      const result = await tracker.track(frame);
      t.is(result.frameIndex, i - 1);
      const gt = sequence.groundTruth[i];
      if (gt) {
        sum += iou(result.box, gt);
        count += 1;
      }
    }
    const meanIou = sum / count;
    t.log(`${name}: mean IoU ${meanIou.toFixed(3)} over ${count} frames (reference ${expected})`);
    t.true(meanIou >= expected - 0.02, `mean IoU ${meanIou.toFixed(3)} < ${expected - 0.02}`);
    await engine.dispose();
  });
}
