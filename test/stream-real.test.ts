/**
 * Real video against its frames on disk: VitTrack through bag.avi (decoded by ffmpeg) must give the
 * boxes it gives through img/ (the same frames as JPEG files), up to the codecs' noise.
 */
import test from 'ava';
import { join } from 'node:path';
import { Engine, Tracker, type Box } from '../ts/index.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { iou } from '../ts/deploy/eval/metrics.js';
import { openVideo } from '../ts/deploy/io/ffmpeg.js';
import { openImageFolder } from '../ts/deploy/io/image-folder.js';
import type { FrameSource } from '../ts/deploy/io/source.js';
import { trackStream } from '../ts/deploy/stream.js';
import { hasSharedData, sequencesDir, sharedDataSkipReason, vitTrackOptions, vitTrackPath } from './helpers/data.js';

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

(hasSharedData ? test : test.skip)(`bag.avi tracks to the same boxes as its frames from img/${hasSharedData ? '' : ` (${sharedDataSkipReason})`}`, async (t) => {
  const bag = join(sequencesDir, 'bag');
  const sequence = await readOtbSequence(bag);
  await using engine = await Engine.load(vitTrackPath, { ...vitTrackOptions, threads: 1 });
  const track = async (source: FrameSource) => {
    using tracker = new Tracker(engine);
    const boxes: Box[] = [];
    for await (const r of trackStream(tracker, source, { initBox: sequence.groundTruth[0]! })) boxes.push(r.box);
    return boxes;
  };
  const fromVideo = await track(await openVideo(join(bag, 'bag.avi')));
  const fromImages = await track(await openImageFolder(join(bag, 'img')));
  t.is(fromVideo.length, 196);
  t.is(fromImages.length, 196);
  const agreement = fromVideo.map((b, i) => iou(b, fromImages[i]));
  const accuracy = (boxes: Box[]) => mean(boxes.slice(1).map((b, i) => iou(b, sequence.groundTruth[i + 1]!)));
  t.log(`video vs images: mean IoU ${mean(agreement).toFixed(3)}, min ${Math.min(...agreement).toFixed(3)}`);
  t.log(`against ground truth: video ${accuracy(fromVideo).toFixed(3)}, images ${accuracy(fromImages).toFixed(3)}`);
  t.true(mean(agreement) >= 0.9);
  t.true(Math.abs(accuracy(fromVideo) - accuracy(fromImages)) < 0.05);
});
