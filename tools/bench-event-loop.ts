/**
 * Does tracking block the event loop, and what does the hand-over to the inference thread cost?
 * Side by side in one run, on the same frames and the same machine load:
 *
 *   - bare:    `await session.run(feeds)` of the same model on the main thread (onnxruntime-node,
 *              same session options), fed the tracker's own crops: the floor for one frame
 *   - shared:  `await tracker.track(frame)`, frames in shared memory (what ct-edge's sources deliver)
 *   - copied:  the same with frames in ordinary memory (the part the crop reads is copied first)
 *   - inline:  `inlinePreprocessing: true` (crop on the calling thread, inference on the thread)
 *
 * Per mode: the mean per-frame time and its ratio to bare, and the event-loop delay while that mode
 * tracks at full speed: perf_hooks.monitorEventLoopDelay with a 1 ms timer, which records the time
 * between the timer's runs; the delay reported is what exceeds the 1 ms. Modes run
 * in blocks of --block frames, rotated for --rounds rounds, so that slow phases of a shared machine
 * spread over all of them.
 *
 *   npx tsx tools/bench-event-loop.ts [--model PATH ...] [--sequence DIR] [--rounds N] [--block N] [--threads N] [--json PATH]
 *
 * Defaults: VitTrack and the shipped 2-block student on ../shared/data/sequences/bag, 1 thread.
 */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Engine, Tracker, type Box, type Frame } from '../ts/index.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { readImage } from '../ts/deploy/io/images.js';
import { loadOptions, SHARED_SEQUENCES, STUDENT_2_PATH, VITTRACK_PATH } from './lib/models.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', multiple: true },
    sequence: { type: 'string', default: join(SHARED_SEQUENCES, 'bag') },
    rounds: { type: 'string', default: '6' },
    block: { type: 'string', default: '60' },
    threads: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const models = values.model ?? [VITTRACK_PATH, STUDENT_2_PATH];
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const block = Number(values.block);

const sequence = await readOtbSequence(values.sequence!);
const ordinary: Frame[] = [];
for (const path of sequence.framePaths) ordinary.push(await readImage(path));
const toShared = (f: Frame): Frame => {
  const data = new Uint8Array(new SharedArrayBuffer((f.data as Uint8Array).byteLength));
  data.set(f.data as Uint8Array);
  return { ...f, data };
};
const sharedFrames = ordinary.map(toShared);
const initBox = sequence.groundTruth[0] as Box;

type Mode = 'bare' | 'shared' | 'copied' | 'inline';
const RESOLUTION_MS = 1;
const MODES: Mode[] = ['bare', 'shared', 'copied', 'inline'];

interface ModeResult {
  meanMs: number;
  ratio: number;
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

async function benchModel(path: string): Promise<Record<Mode, ModeResult>> {
  const engine = await Engine.load(path, loadOptions(path, threads));
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 });
  const { config } = engine;
  const trackers = { shared: new Tracker(engine), copied: new Tracker(engine), inline: new Tracker(engine, { inlinePreprocessing: true }) };
  // The bare session reads the inline tracker's crops, so that it runs on the same inputs.
  const crops = trackers.inline.inputs;
  const template = new Float32Array(crops.template.length);
  const search = new Float32Array(crops.search.length);
  const feeds = {
    [config.inputs.template]: new ort.Tensor('float32', template, [1, 3, config.templateSize, config.templateSize]),
    [config.inputs.search]: new ort.Tensor('float32', search, [1, 3, config.searchSize, config.searchSize]),
  };
  const times: Record<Mode, number[]> = { bare: [], shared: [], copied: [], inline: [] };
  // One histogram per block, merged per mode: a monitor disabled and enabled again would count the
  // time between as one long delay.
  const loop: Record<Mode, RecordableHistogram> = { bare: createHistogram(), shared: createHistogram(), copied: createHistogram(), inline: createHistogram() };
  for (const t of Object.values(trackers)) t.init(ordinary[0], initBox);
  template.set(crops.template);
  let next = 1;
  const frameAt = (i: number) => 1 + ((i - 1) % (ordinary.length - 1));
  for (let round = 0; round <= rounds; round++) {
    // Round 0 warms up every path; it is not measured.
    for (let m = 0; m < MODES.length; m++) {
      const mode = MODES[(m + round) % MODES.length];
      const first = next;
      const monitor = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      if (round > 0) monitor.enable();
      for (let k = 0; k < block; k++) {
        const i = frameAt(first + k);
        const t0 = performance.now();
        if (mode === 'bare') {
          await session.run(feeds);
        } else {
          const frames = mode === 'shared' ? sharedFrames : ordinary;
          await trackers[mode].track(frames[i]);
          if (mode === 'inline') search.set(crops.search);
        }
        if (round > 0) times[mode].push(performance.now() - t0);
      }
      if (round > 0) {
        monitor.disable();
        loop[mode].add(monitor as unknown as RecordableHistogram); // add() takes any histogram
      }
    }
    next += block;
  }
  for (const t of Object.values(trackers)) t.dispose();
  await engine.dispose();
  await session.release();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const bare = mean(times.bare);
  const out = {} as Record<Mode, ModeResult>;
  for (const mode of MODES) {
    const h = loop[mode];
    // The monitor records the time between its 1 ms timer's runs: the delay is what exceeds 1 ms.
    const delay = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    out[mode] = { meanMs: mean(times[mode]), ratio: mean(times[mode]) / bare, loopP50Ms: delay(h.percentile(50)), loopP99Ms: delay(h.percentile(99)), loopMaxMs: delay(h.max) };
  }
  return out;
}

const machine = `${cpus().length} x ${cpus()[0]?.model.trim()}`;
console.log(`onnxruntime-node ${ort.env.versions.common}, ${threads} thread(s), ${machine}; ${sequence.name} ${ordinary[0].width}x${ordinary[0].height}; ${rounds} rounds x ${block} frames per mode`);
const results: Record<string, Record<Mode, ModeResult>> = {};
for (const path of models) {
  const r = await benchModel(path);
  results[path] = r;
  console.log(`\n${path}`);
  console.log('mode     ms/frame  vs bare run   event-loop delay p50 / p99 / max (ms)');
  for (const mode of MODES) {
    const x = r[mode];
    console.log(`${mode.padEnd(7)} ${x.meanMs.toFixed(3).padStart(9)}  ${x.ratio.toFixed(3).padStart(10)}x   ${x.loopP50Ms.toFixed(2)} / ${x.loopP99Ms.toFixed(2)} / ${x.loopMaxMs.toFixed(2)}`);
  }
}
if (values.json) await writeFile(values.json, `${JSON.stringify({ machine, threads, rounds, block, sequence: sequence.name, results }, null, 1)}\n`);
