/**
 * Where the time goes in one tracked frame: the tracker's stages (pre-processing, inference,
 * post-processing, glue) against a bare onnxruntime `session.run` of the same model on the same
 * crops, interleaved frame by frame so that both see the same machine load.
 *
 *   npx tsx tools/bench-runtime.ts [--sequence DIR] [--model PATH] [--rounds N] [--threads N]
 *
 * Defaults: VitTrack on ../shared/data/sequences/bag, 3 rounds over the sequence, 1 thread.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Engine, Tracker, type Frame } from '../ts/index.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { readImage } from '../ts/deploy/io/images.js';

const { values } = parseArgs({
  options: {
    sequence: { type: 'string', default: join(import.meta.dirname, '..', '..', 'shared', 'data', 'sequences', 'bag') },
    model: { type: 'string', default: join(import.meta.dirname, '..', '..', 'shared', 'data', 'models', 'vittrack', 'vitTracker.onnx') },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
  },
});
const threads = Number(values.threads);
const vitTrack = values.model!.endsWith('vitTracker.onnx');
const engine = await Engine.load(values.model!, {
  threads,
  ...(vitTrack ? { outputs: { score: 'output1', size: 'output2', offset: 'output3' }, channelOrder: 'bgr', boxMapping: 'opencv' } : {}),
});
// The bare session: same model, same session options as the Engine's.
const raw = await ort.InferenceSession.create(values.model!, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
});
const { config } = engine;
const sequence = await readOtbSequence(values.sequence!);
const frames: Frame[] = [];
for (const path of sequence.framePaths) frames.push(await readImage(path));

// Two trackers, the default (crop and inference on the engine's inference thread) and
// inlinePreprocessing (crop on the calling thread), and the bare session, all stepped frame by
// frame in turn.
type Stage = 'pre' | 'inference' | 'post' | 'glue' | 'total';
const modes = { worker: new Tracker(engine), inline: new Tracker(engine, { inlinePreprocessing: true }) };
const samples = { worker: [] as Record<Stage, number>[], inline: [] as Record<Stage, number>[] };
const sessionRun: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  for (const tracker of Object.values(modes)) tracker.init(frames[0], sequence.groundTruth[0]!);
  const feeds = {
    [config.inputs.template]: new ort.Tensor('float32', Float32Array.from(modes.worker.inputs.template as Float32Array), [1, 3, config.templateSize, config.templateSize]),
    [config.inputs.search]: new ort.Tensor('float32', new Float32Array(3 * config.searchSize ** 2), [1, 3, config.searchSize, config.searchSize]),
  };
  for (const frame of frames.slice(1)) {
    for (const [mode, tracker] of Object.entries(modes) as [keyof typeof modes, Tracker][]) {
      const { preprocessMs, inferenceMs, postprocessMs, totalMs } = (await tracker.track(frame)).timings;
      const glue = totalMs - preprocessMs - inferenceMs - postprocessMs;
      if (round > 0) samples[mode].push({ pre: preprocessMs, inference: inferenceMs, post: postprocessMs, glue, total: totalMs });
    }
    (feeds[config.inputs.search].data as Float32Array).set(modes.worker.inputs.search as Float32Array);
    const t0 = performance.now();
    await raw.run(feeds);
    if (round > 0) sessionRun.push(performance.now() - t0); // round 0 warms up
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const bare = mean(sessionRun);
console.log(`${values.model} on ${engine.backend}, ${threads} thread(s); ${sequence.name} (${frames[0].width}x${frames[0].height}), ${sessionRun.length} frames measured per mode`);
console.log(`bare session.run: ${bare.toFixed(3)} ms; goal: everything but inference <= 5% of inference`);
console.log('mode     pre ms  infer ms  post ms  glue ms  total ms   (pre+post+glue)/infer   (total - bare run)/bare run');
for (const [mode, rows] of Object.entries(samples)) {
  const m = (k: Stage) => mean(rows.map((r) => r[k]));
  const stages = (100 * (m('pre') + m('post') + m('glue'))) / m('inference');
  const versusBare = (100 * (m('total') - bare)) / bare;
  console.log(
    `${mode.padEnd(7)} ${m('pre').toFixed(3).padStart(7)} ${m('inference').toFixed(3).padStart(9)} ${m('post').toFixed(3).padStart(8)} ${m('glue').toFixed(3).padStart(8)} ${m('total').toFixed(3).padStart(9)}   ${stages.toFixed(1).padStart(20)}%   ${versusBare.toFixed(1).padStart(25)}%`,
  );
}
for (const tracker of Object.values(modes)) tracker.dispose();
await engine.dispose();
await raw.release();
