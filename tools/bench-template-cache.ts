/**
 * What computing the template once buys: VitTrack beside 2-block full-width students cut from it
 * (stages 1,2: blocks 0 and 2), with joint attention (one graph), with asymmetric attention as one
 * graph (the template still recomputed every frame), and asymmetric in two parts (the template part
 * once per init(): what `ct-edge export` writes). Speed does not depend on training, so the
 * students are the untrained cuts. Two measures, frame-interleaved in one run (each round runs
 * every model once, the order rotating):
 *   - model only: one onnxruntime session.run per frame (the two-part model: its per-frame part);
 *   - per tracked frame: Tracker.track() on real video frames (models/tree.avi), crop and decode
 *     included, the way an application sees it.
 *
 *   npx tsx tools/bench-template-cache.ts [--rounds 300] [--threads 1]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Engine, Tracker, openSource } from '../ts/index.js';
import type { Frame } from '../ts/contract/types.js';
import { median } from '../ts/deploy/eval/bench.js';
import { importTrackerOnnx } from '../ts/train/import-onnx.js';
import { validateNetConfig } from '../ts/train/model/config.js';
import type { WeightMap } from '../ts/train/model/params.js';
import { writeTrackerOnnx } from '../ts/train/export-onnx.js';
import { loadOptions, VITTRACK_PATH } from './lib/models.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '300' }, threads: { type: 'string', default: '1' } } });
const rounds = Number(values.rounds);
const threads = Number(values.threads);
if (!(Number.isInteger(rounds) && rounds > 0 && Number.isInteger(threads) && threads > 0)) {
  console.error('usage: npx tsx tools/bench-template-cache.ts [--rounds N] [--threads N]');
  process.exit(2);
}

const dir = await mkdtemp(join(tmpdir(), 'ct-edge-bench-cache-'));
const engines: Engine[] = [];
try {
  const options = await loadOptions(VITTRACK_PATH, threads);
  const teacher = await importTrackerOnnx(VITTRACK_PATH, options);
  // Student block i is teacher block KEPT[i] (stages 1,2: the last block of each stage).
  const KEPT = [0, 2];
  const weights: WeightMap = new Map();
  for (const [name, w] of teacher.weights) {
    const m = /^blocks\.(\d+)\.(.*)$/.exec(name);
    if (!m) weights.set(name, w);
    else if (KEPT.includes(Number(m[1]))) weights.set(`blocks.${KEPT.indexOf(Number(m[1]))}.${m[2]}`, w);
  }
  const joint = validateNetConfig({ ...teacher.config, depth: 2 });
  const asymmetric = validateNetConfig({ ...joint, attention: 'asymmetric' });
  const paths = { joint: join(dir, 'joint.onnx'), asymOne: join(dir, 'asym-one.onnx'), asymTwo: join(dir, 'asym.onnx') };
  await writeTrackerOnnx(paths.joint, joint, weights);
  await writeTrackerOnnx(paths.asymOne, asymmetric, weights);
  const [, templatePart] = await writeTrackerOnnx(paths.asymTwo, asymmetric, weights, { twoPart: true });

  const models = [
    { label: 'VitTrack (3 blocks)', path: VITTRACK_PATH, options },
    { label: '2 blocks, joint attention', path: paths.joint, options: { threads } },
    { label: '2 blocks, asymmetric, one graph', path: paths.asymOne, options: { threads } },
    { label: '2 blocks, asymmetric, template once', path: paths.asymTwo, options: { threads } },
  ];

  // Model only: the sessions onnxruntime runs per frame, with fixed inputs.
  const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 };
  const image = (side: number) => new ort.Tensor('float32', Float32Array.from({ length: 3 * side * side }, (_, i) => Math.sin(i) * 2), [1, 3, side, side]);
  const sessions = await Promise.all(models.map((m) => ort.InferenceSession.create(m.path, sessionOptions)));
  const feeds: Record<string, ort.Tensor>[] = [];
  for (const [k, session] of sessions.entries()) {
    const names = k === 0 ? ['template', 'search'].map((role) => (options.inputs as Record<string, string> | undefined)?.[role] ?? role) : ['template', 'search'];
    if (k === 3) {
      const template = await ort.InferenceSession.create(templatePart, sessionOptions);
      feeds.push({ search: image(256), ...(await template.run({ template: image(128) })) });
      await template.release();
    } else {
      feeds.push({ [names[0]]: image(128), [names[1]]: image(256) });
    }
    for (let i = 0; i < 5; i++) await session.run(feeds[k]); // warm-up
  }
  const modelMs: number[][] = models.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < models.length; j++) {
      const k = (j + r) % models.length;
      const t0 = performance.now();
      await sessions[k].run(feeds[k]);
      modelMs[k].push(performance.now() - t0);
    }
  }
  await Promise.all(sessions.map((s) => s.release()));

  // Per tracked frame: Tracker.track() on real frames, every model following the same target.
  const frames: Frame[] = [];
  const source = await openSource(join(import.meta.dirname, '..', 'models', 'tree.avi'));
  for await (const { frame } of source) frames.push(frame);
  await source.close();
  for (const m of models) engines.push(await Engine.load(m.path, m.options));
  const trackers = engines.map((e) => new Tracker(e));
  const box = { x: frames[0].width * 0.4, y: frames[0].height * 0.35, width: frames[0].width * 0.2, height: frames[0].height * 0.25 };
  trackers.forEach((t) => t.init(frames[0], box));
  const trackMs: number[][] = models.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const frame = frames[1 + (r % (frames.length - 1))];
    if (r > 0 && r % (frames.length - 1) === 0) trackers.forEach((t) => t.init(frames[0], box)); // the video starts again
    for (let j = 0; j < models.length; j++) {
      const k = (j + r) % models.length;
      const t0 = performance.now();
      await trackers[k].track(frame);
      trackMs[k].push(performance.now() - t0);
    }
  }
  trackers.forEach((t) => t.dispose());

  console.log(`onnxruntime-node ${ort.env.versions.common} CPU, ${cpus().length} x ${cpus()[0]?.model.trim()}, ${threads} thread(s), ${rounds} interleaved rounds; medians`);
  console.log('| model | model only, ms | speed-up | per tracked frame, ms | speed-up |');
  console.log('|---|---:|---:|---:|---:|');
  const [baseModel, baseTrack] = [median(modelMs[0]), median(trackMs[0])];
  models.forEach((m, k) => {
    const [a, b] = [median(modelMs[k]), median(trackMs[k])];
    console.log(`| ${m.label} | ${a.toFixed(3)} | ${(baseModel / a).toFixed(2)}x | ${b.toFixed(3)} | ${(baseTrack / b).toFixed(2)}x |`);
  });
} finally {
  await Promise.all(engines.map((e) => e.dispose()));
  await rm(dir, { recursive: true, force: true });
}
