/**
 * Memory soak tests.
 *
 * Frames (default): N frames tracked on one tracker, RSS and V8 heap reported every --every
 * frames, and the growth after warm-up (from the first report to the last). Frames come from a
 * real sequence, cycled, alternately in ordinary and in shared memory (both paths of the tracker).
 *
 *   npx tsx tools/soak.ts [--frames 100000] [--every 5000] [--model PATH] [--sequence DIR] [--json PATH]
 *
 * Load cycles (--cycles N): where do Engine.load + dispose cycles leave memory? Side by side, each
 * N times in this order: Engine.load + dispose (ours: a worker thread and its onnxruntime
 * session), a bare worker thread started and terminated (the thread alone), and a bare
 * onnxruntime-node session created and released on the main thread (onnxruntime alone). RSS after
 * each block; growth per cycle after the first quarter (warm-up), as a least-squares slope.
 *
 *   npx tsx --expose-gc tools/soak.ts --cycles 500 [--model PATH] [--only Engine|worker|onnxruntime]
 *
 * --only runs one kind, in a process of its own (the first kind to run pays the warm-up).
 *
 * Run with --expose-gc so that every report is taken after a full garbage collection.
 */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { Engine, Tracker, type Box, type Frame } from '../ts/index.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { readImage } from '../ts/deploy/io/images.js';
import { loadOptions, SHARED_SEQUENCES, VITTRACK_STUDENT_2_PATH } from './lib/models.js';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '100000' },
    every: { type: 'string', default: '5000' },
    cycles: { type: 'string' },
    model: { type: 'string', default: VITTRACK_STUDENT_2_PATH },
    sequence: { type: 'string', default: join(SHARED_SEQUENCES, 'bag') },
    only: { type: 'string' },
    json: { type: 'string' },
  },
});
const gc = (globalThis as { gc?: () => void }).gc;
const MiB = 2 ** 20;

function sample(): { rssMiB: number; heapMiB: number; externalMiB: number } {
  gc?.();
  const m = process.memoryUsage();
  return { rssMiB: m.rss / MiB, heapMiB: m.heapUsed / MiB, externalMiB: (m.external + m.arrayBuffers) / MiB };
}

async function soakFrames(): Promise<unknown> {
  const total = Number(values.frames);
  const every = Number(values.every);
  const sequence = await readOtbSequence(values.sequence!);
  const ordinary: Frame[] = [];
  for (const path of sequence.framePaths) ordinary.push(await readImage(path));
  const inShared = ordinary.map((f) => {
    const data = new Uint8Array(new SharedArrayBuffer((f.data as Uint8Array).byteLength));
    data.set(f.data as Uint8Array);
    return { ...f, data };
  });
  const engine = await Engine.load(values.model!, await loadOptions(values.model!, 1));
  const tracker = new Tracker(engine);
  const box = sequence.groundTruth[0] as Box;
  tracker.init(ordinary[0], box);
  const reports: { frames: number; rssMiB: number; heapMiB: number; externalMiB: number; msPerFrame: number }[] = [];
  let t0 = performance.now();
  for (let i = 1; i <= total; i++) {
    const k = i % ordinary.length;
    // Restart the track at each pass over the sequence, so that it never drifts off.
    if (k === 0) tracker.init(ordinary[0], box);
    else await tracker.track((i & 1 ? ordinary : inShared)[k]);
    if (i % every === 0) {
      const now = performance.now();
      reports.push({ frames: i, ...sample(), msPerFrame: (now - t0) / every });
      const r = reports[reports.length - 1];
      console.log(`${String(i).padStart(8)} frames  RSS ${r.rssMiB.toFixed(1)} MiB  heap ${r.heapMiB.toFixed(1)} MiB  external ${r.externalMiB.toFixed(1)} MiB  ${r.msPerFrame.toFixed(3)} ms/frame`);
      t0 = performance.now();
    }
  }
  tracker.dispose();
  await engine.dispose();
  const first = reports[0];
  const last = reports[reports.length - 1];
  const growth = { rssMiB: last.rssMiB - first.rssMiB, heapMiB: last.heapMiB - first.heapMiB };
  console.log(`growth after warm-up (frame ${first.frames} to ${last.frames}): RSS ${growth.rssMiB.toFixed(2)} MiB, heap ${growth.heapMiB.toFixed(2)} MiB`);
  return { mode: 'frames', model: values.model, frames: total, every, reports, growth };
}

async function soakLoads(cycles: number): Promise<unknown> {
  const path = values.model!;
  const options = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' as const, intraOpNumThreads: 1, interOpNumThreads: 1 };
  const kinds = {
    'Engine.load + dispose': async () => (await Engine.load(path, await loadOptions(path, 1))).dispose(),
    'worker thread only': async () => {
      const w = new Worker('require("node:worker_threads").parentPort.postMessage(1)', { eval: true });
      await new Promise((resolve) => w.once('message', resolve));
      await w.terminate();
    },
    'onnxruntime session only': async () => (await ort.InferenceSession.create(path, options)).release(),
  };
  const result: Record<string, { cycles: number; rssMiB: number[]; perCycleKiB: number }> = {};
  const chosen = Object.entries(kinds).filter(([name]) => !values.only || name.startsWith(values.only));
  if (chosen.length === 0) throw new Error(`--only ${values.only}: no such kind; kinds are ${Object.keys(kinds).join(', ')}`);
  for (const [name, cycle] of chosen) {
    const rss: number[] = [sample().rssMiB];
    const block = Math.max(1, Math.floor(cycles / 20));
    for (let i = 1; i <= cycles; i++) {
      await cycle();
      if (i % block === 0) rss.push(sample().rssMiB);
    }
    // Growth after warm-up: the least-squares slope of RSS over the cycles after the first quarter
    // (two end points alone would read noise of a few MiB as growth).
    const warm = Math.floor(rss.length / 4);
    const xs = rss.map((_, k) => k * block).slice(warm);
    const ys = rss.slice(warm);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const slope = xs.reduce((a, x, k) => a + (x - mx) * (ys[k] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    const perCycleKiB = slope * 1024;
    result[name] = { cycles, rssMiB: rss, perCycleKiB };
    console.log(`${name.padEnd(26)} RSS ${rss[0].toFixed(1)} -> ${rss[warm].toFixed(1)} (after ${warm * block}) -> ${rss[rss.length - 1].toFixed(1)} MiB; after warm-up ${perCycleKiB.toFixed(1)} KiB per cycle (slope)`);
  }
  return { mode: 'cycles', model: path, cycles, result };
}

console.log(`node ${process.version}, onnxruntime-node ${ort.env.versions.common}, ${cpus().length} x ${cpus()[0]?.model.trim()}${gc ? '' : ' (no --expose-gc: reports without a full GC)'}`);
const report = values.cycles ? await soakLoads(Number(values.cycles)) : await soakFrames();
if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 1)}\n`);
