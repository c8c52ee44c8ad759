/**
 * Track one target through a video file on any machine (onnxruntime on the CPU), with Node streams:
 * frames from ffmpeg -> TrackTransform -> a Writable that draws each result and encodes the video.
 * `pipeline()` carries back-pressure end to end: the decoder waits for the tracker, the tracker for
 * the encoder, and nothing piles up in memory.
 *
 *   npx tsx examples/track-video.ts <video> <model.onnx> <x,y,w,h> [annotated.mp4] [--vittrack]
 *
 * For example, with the shared test data (VitTrack needs its tensor names and BGR input: --vittrack):
 *   npx tsx examples/track-video.ts ../shared/data/sequences/bag/bag.avi \
 *     ../shared/data/models/vittrack/vitTracker.onnx 292,128,146,132 bag-tracked.mp4 --vittrack
 *
 * Everything comes from the package's entry (here its source, ../ts/index.js): in an app,
 * import from 'ct-edge'.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { drawResult, Engine, openVideo, toRgb, Tracker, TrackTransform, VideoWriter, type EngineOptions, type StreamResult } from '../ts/index.js';

/** OpenCV's VitTrack: outputs named output1..3, trained on BGR, OpenCV's box mapping. */
const VITTRACK: EngineOptions = { outputs: { score: 'output1', size: 'output2', offset: 'output3' }, channelOrder: 'bgr', boxMapping: 'opencv' };

const { values, positionals } = parseArgs({ options: { vittrack: { type: 'boolean', default: false } }, allowPositionals: true });
const [videoPath, modelPath, boxText, outPath = 'annotated.mp4'] = positionals;
if (!videoPath || !modelPath || !boxText) {
  console.error('usage: npx tsx examples/track-video.ts <video> <model.onnx> <x,y,w,h> [annotated.mp4] [--vittrack]');
  process.exit(2);
}
const [x, y, width, height] = boxText.split(',').map(Number);

const engine = await Engine.load(modelPath, values.vittrack ? VITTRACK : {});
const tracker = new Tracker(engine);
const source = await openVideo(videoPath);
const { width: w, height: h, fps = 30, frameCount } = source.info;
const video = await VideoWriter.open(outPath, { width: w, height: h, fps });
console.log(`${videoPath}: ${w}x${h}, ${frameCount ?? '?'} frames at ${fps} fps; tracking on ${engine.backend}`);

let tracked = 0;
let lost = 0;
let trackMs = 0;
const annotate = new Writable({
  objectMode: true,
  write(r: StreamResult, _encoding, done) {
    if (!r.initial) tracked += 1;
    if (r.state === 'lost') lost += 1;
    trackMs += r.timings?.totalMs ?? 0;
    const frame = toRgb(r.frame);
    drawResult(frame, r);
    video.write(frame).then(() => done(), done);
  },
});

try {
  await pipeline(Readable.from(source), new TrackTransform(tracker, { initBox: { x, y, width, height } }), annotate);
  await video.close();
} finally {
  await source.close();
  tracker.dispose();
  await engine.dispose();
}
console.log(`wrote ${outPath}; ${lost} frames lost; ${(trackMs / Math.max(1, tracked)).toFixed(1)} ms per tracked frame`);
