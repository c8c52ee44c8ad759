/**
 * Does tracking block the event loop, and what does the hand-over to the inference thread cost?
 * Side by side in one run, on the same frames and the same machine load:
 *
 *   - bare:    `await session.run(feeds)` of the same model on the main thread (onnxruntime-node,
 *              same session options), fed the tracker's own crops: the floor for one frame
 *   - shared:  `await tracker.track(frame)`, frames in shared memory (what ct-edge's sources deliver)
 *   - copied:  the same with frames in ordinary memory (the part the crop reads is copied first)
 *   - inline:  `inlinePreprocessing: true` (crop on the calling thread, inference on the thread)
 *   - idle:    nothing but 2 ms timers: the event-loop delay the machine itself causes (other
 *              processes on a shared machine), the floor for the others
 *   - wake:    a round trip to a worker thread that only busy-waits as long as the bare run takes:
 *              what handing a frame to another thread and waking the main thread for the answer
 *              costs on this machine, without any of ct-edge's work
 *
 * Per mode: the mean per-frame time and its ratio to bare, the search crop's mean time (the
 * tracker's timings; bare and wake have none), the main thread's CPU time per frame
 * (what a frame takes from the event loop, whatever else the machine runs), and the event-loop
 * delay while that mode tracks at full speed: how late a 1 ms timer runs, as perf_hooks.monitorEventLoopDelay measures
 * it (delay = time between the timer's runs minus 1 ms). Modes run
 * in blocks of --block frames, rotated for --rounds rounds, so that slow phases of a shared machine
 * spread over all of them.
 *
 *   npx tsx tools/bench-event-loop.ts [--model PATH ...] [--sequence DIR] [--rounds N] [--block N] [--threads N] [--json PATH]
 *
 * Defaults: models/vittrack.onnx and models/vittrack-student-2.onnx on ../shared/data/sequences/bag, 1 thread.
 * After each model: track() minus bare, split into the crop, the hand-over (wake minus bare) and the rest.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Engine, Tracker, type Box, type Frame } from '../ts/index.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { readImage } from '../ts/deploy/io/images.js';
import { Worker } from 'node:worker_threads';
import { median } from '../ts/deploy/eval/bench.js';
import { loadOptions, SHARED_SEQUENCES, VITTRACK_PATH, VITTRACK_STUDENT_2_PATH } from './lib/models.js';

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
const models = values.model ?? [VITTRACK_PATH, VITTRACK_STUDENT_2_PATH];
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

type Mode = 'idle' | 'bare' | 'wake' | 'shared' | 'copied' | 'inline';
const RESOLUTION_MS = 1;
const MODES: Mode[] = ['idle', 'bare', 'wake', 'shared', 'copied', 'inline'];

/** A thread that answers each message after busy-waiting the milliseconds it names (the `wake` mode). */
function busyThread(): { roundTrip(ms: number): Promise<void>; close(): Promise<number> } {
  const worker = new Worker(
    "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (ms) => { const end = performance.now() + ms; while (performance.now() < end); parentPort.postMessage(0); });",
    { eval: true },
  );
  return { roundTrip: (ms) => new Promise((resolve) => (worker.once('message', () => resolve()), worker.postMessage(ms))), close: () => worker.terminate() };
}

/**
 * Event-loop delay as perf_hooks.monitorEventLoopDelay measures it (a 1 ms timer; how late each run
 * comes), recorded into `into` in ns until stop(). A monitor of our own because the built-in one,
 * disabled and enabled again between blocks, counts the time between as one long delay, and its
 * histogram cannot be merged into another.
 */
function loopDelay(into: RecordableHistogram): { stop(): void } {
  let last = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const now = performance.now();
    into.record(Math.max(1, Math.round((now - last - RESOLUTION_MS) * 1e6)));
    last = now;
    timer = setTimeout(tick, RESOLUTION_MS);
  };
  timer = setTimeout(tick, RESOLUTION_MS);
  return { stop: () => clearTimeout(timer) };
}

/** CPU time the main thread has run, in ms (Linux /proc/<pid>/task/<pid>/schedstat; undefined elsewhere). */
function mainThreadCpuMs(): number | undefined {
  try {
    return Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

interface ModeResult {
  meanMs: number;
  /** Median per-frame time: the split below uses medians, as the wake mode waits a median bare run. */
  medianMs: number;
  ratio: number;
  /** Mean and median search-crop time (Tracker timings.preprocessMs); undefined for idle, bare and wake. */
  cropMs: number | undefined;
  cropMedianMs: number | undefined;
  /** CPU time of the main thread per frame (Linux: /proc schedstat), what the frame takes from the event loop. */
  mainCpuMsPerFrame: number | undefined;
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

async function benchModel(path: string): Promise<Record<Mode, ModeResult>> {
  const engine = await Engine.load(path, await loadOptions(path, threads));
  const busy = busyThread();
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 });
  const { config } = engine;
  const trackers = { shared: new Tracker(engine), copied: new Tracker(engine), inline: new Tracker(engine, { inlinePreprocessing: true }) };
  // The bare session reads the inline tracker's crops, so that it runs on the same inputs.
  const inlineInputs = trackers.inline.inputs;
  const template = new Float32Array(inlineInputs.template.length);
  const search = new Float32Array(inlineInputs.search.length);
  const feeds = {
    [config.inputs.template]: new ort.Tensor('float32', template, [1, 3, config.templateSize, config.templateSize]),
    [config.inputs.search]: new ort.Tensor('float32', search, [1, 3, config.searchSize, config.searchSize]),
  };
  const perMode = <T>(make: () => T) => Object.fromEntries(MODES.map((m) => [m, make()])) as Record<Mode, T>;
  const times = perMode<number[]>(() => []);
  const crops = perMode<number[]>(() => []);
  const mainCpu = perMode(() => 0);
  const loop = perMode(() => createHistogram());
  for (const t of Object.values(trackers)) t.init(ordinary[0], initBox);
  template.set(inlineInputs.template);
  // wake busy-waits as long as a bare run takes: the median of 30 runs.
  const calibration: number[] = [];
  for (let k = 0; k < 30; k++) {
    const t0 = performance.now();
    await session.run(feeds);
    calibration.push(performance.now() - t0);
  }
  const bareMs = median(calibration);
  let next = 1;
  const frameAt = (i: number) => 1 + ((i - 1) % (ordinary.length - 1));
  for (let round = 0; round <= rounds; round++) {
    // Round 0 warms up every path; it is not measured.
    for (let m = 0; m < MODES.length; m++) {
      const mode = MODES[(m + round) % MODES.length];
      const first = next;
      const monitor = round > 0 ? loopDelay(loop[mode]) : undefined;
      const cpu0 = mainThreadCpuMs();
      for (let k = 0; k < block; k++) {
        const i = frameAt(first + k);
        const t0 = performance.now();
        if (mode === 'idle') {
          await new Promise((resolve) => setTimeout(resolve, 2));
        } else if (mode === 'bare') {
          await session.run(feeds);
        } else if (mode === 'wake') {
          await busy.roundTrip(bareMs);
        } else {
          const frames = mode === 'shared' ? sharedFrames : ordinary;
          const r = await trackers[mode].track(frames[i]);
          if (mode === 'inline') search.set(inlineInputs.search);
          if (round > 0) crops[mode].push(r.timings.preprocessMs);
        }
        if (round > 0) times[mode].push(performance.now() - t0);
      }
      monitor?.stop();
      if (round > 0 && cpu0 !== undefined) mainCpu[mode] += mainThreadCpuMs()! - cpu0;
    }
    next += block;
  }
  for (const t of Object.values(trackers)) t.dispose();
  await engine.dispose();
  await session.release();
  await busy.close();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const bare = mean(times.bare);
  const out = {} as Record<Mode, ModeResult>;
  for (const mode of MODES) {
    const h = loop[mode];
    const cropped = crops[mode].length > 0;
    out[mode] = { meanMs: mean(times[mode]), medianMs: times[mode].length ? median(times[mode]) : NaN, ratio: mean(times[mode]) / bare, cropMs: cropped ? mean(crops[mode]) : undefined, cropMedianMs: cropped ? median(crops[mode]) : undefined, mainCpuMsPerFrame: mainThreadCpuMs() === undefined ? undefined : mainCpu[mode] / times[mode].length, loopP50Ms: h.percentile(50) / 1e6, loopP99Ms: h.percentile(99) / 1e6, loopMaxMs: h.max / 1e6 };
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
  console.log('mode     ms/frame  vs bare run  crop ms  main thread CPU ms/frame   event-loop delay p50 / p99 / max (ms)');
  for (const mode of MODES) {
    const x = r[mode];
    console.log(
      `${mode.padEnd(7)} ${(mode === 'idle' ? '-' : x.meanMs.toFixed(3)).padStart(9)}  ${(mode === 'idle' ? '-' : `${x.ratio.toFixed(3)}x`).padStart(11)}  ${(x.cropMs?.toFixed(3) ?? '-').padStart(7)}  ${(x.mainCpuMsPerFrame?.toFixed(3) ?? '-').padStart(23)}   ${x.loopP50Ms.toFixed(2)} / ${x.loopP99Ms.toFixed(2)} / ${x.loopMaxMs.toFixed(2)}`,
    );
  }
  // What track() adds to a bare run, in medians: the crop, one hand-over (as cheap as this machine makes it), the rest.
  const handover = r.wake.medianMs - r.bare.medianMs;
  for (const mode of ['shared', 'copied', 'inline'] as const) {
    const extra = r[mode].medianMs - r.bare.medianMs;
    const crop = r[mode].cropMedianMs!;
    console.log(`${mode}: track() - bare (medians) = ${extra.toFixed(3)} ms = crop ${crop.toFixed(3)} + hand-over ${handover.toFixed(3)} + rest ${(extra - crop - handover).toFixed(3)}`);
  }
}
if (values.json) await writeFile(values.json, `${JSON.stringify({ machine, threads, rounds, block, sequence: sequence.name, results }, null, 1)}\n`);
