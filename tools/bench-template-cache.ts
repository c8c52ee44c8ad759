/**
 * What computing the template once buys, and what the student shapes of the search cost (issue 23:
 * depth, MLP ratio, head width): VitTrack beside students cut from it. 2 full-width blocks (stages
 * 1,2: blocks 0 and 2) with joint attention (one graph), with asymmetric attention as one graph
 * (the template still recomputed every frame), and asymmetric in two parts (the template part once
 * per init(): what `ct-edge export` writes); then 3 asymmetric blocks in two parts, at the
 * teacher's MLP ratio and narrower MLPs and heads (compress --mlp-ratio, --head-channels). Speed
 * does not depend on training, so the students are untrained cuts (compress's own initStudent).
 * Two measures, frame-interleaved in one run (each round runs every model once, the order rotating):
 *   - model only: one onnxruntime session.run per frame (a two-part model: its per-frame part);
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
import { DEFAULT_SCHEDULE, divideStages, initStudent, type CompressOptions } from '../ts/train/compress.js';
import { initBackend } from '../ts/train/model/backend.js';
import { TrackerNet } from '../ts/train/model/network.js';
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
  const imported = await importTrackerOnnx(VITTRACK_PATH, options);
  await initBackend(['cpu']);
  const teacher = TrackerNet.fromWeights(imported.config, imported.weights, 'VitTrack');
  const shapes: { label: string; file: string; blocks: number; stages: number[]; twoPart: boolean; options?: Partial<CompressOptions> }[] = [
    { label: '2 blocks, joint attention', file: 'joint', blocks: 2, stages: [1, 2], twoPart: false, options: { attention: 'joint' } },
    { label: '2 blocks, asymmetric, one graph', file: 'asym-one', blocks: 2, stages: [1, 2], twoPart: false },
    { label: '2 blocks, asymmetric, template once', file: 'asym', blocks: 2, stages: [1, 2], twoPart: true },
    { label: '3 blocks, asymmetric, template once', file: 'asym3', blocks: 3, stages: [1, 1, 1], twoPart: true },
    { label: '3 blocks, asymmetric, MLP ratio 2', file: 'asym3-mlp2', blocks: 3, stages: [1, 1, 1], twoPart: true, options: { studentMlpRatio: 2 } },
    { label: '3 blocks, asymmetric, MLP ratio 1', file: 'asym3-mlp1', blocks: 3, stages: [1, 1, 1], twoPart: true, options: { studentMlpRatio: 1 } },
    { label: '3 blocks, asymmetric, MLP ratio 2, head 16', file: 'asym3-mlp2-head16', blocks: 3, stages: [1, 1, 1], twoPart: true, options: { studentMlpRatio: 2, studentHeadChannels: 16 } },
    { label: '3 blocks, asymmetric, MLP ratio 1, head 16', file: 'asym3-mlp1-head16', blocks: 3, stages: [1, 1, 1], twoPart: true, options: { studentMlpRatio: 1, studentHeadChannels: 16 } },
  ];
  const models: { label: string; path: string; options: typeof options; templatePart?: string }[] = [{ label: 'VitTrack (3 blocks)', path: VITTRACK_PATH, options }];
  for (const shape of shapes) {
    const student = initStudent(teacher, divideStages(3, shape.blocks, shape.stages), {
      studentBlocks: shape.blocks, init: 'last', schedule: DEFAULT_SCHEDULE, guidance: true, mimic: true, replacement: true,
      attention: 'asymmetric', batchSize: 1, steps: 1, seed: 1, ...shape.options,
    });
    const path = join(dir, `${shape.file}.onnx`);
    const [, templatePart] = await writeTrackerOnnx(path, student.config, student.weights(), { twoPart: shape.twoPart });
    student.dispose();
    models.push({ label: shape.label, path, options: { threads }, ...(templatePart && { templatePart }) });
  }
  teacher.dispose();

  // Model only: the sessions onnxruntime runs per frame, with fixed inputs.
  const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 };
  const image = (side: number) => new ort.Tensor('float32', Float32Array.from({ length: 3 * side * side }, (_, i) => Math.sin(i) * 2), [1, 3, side, side]);
  const sessions = await Promise.all(models.map((m) => ort.InferenceSession.create(m.path, sessionOptions)));
  const feeds: Record<string, ort.Tensor>[] = [];
  for (const [k, session] of sessions.entries()) {
    const names = k === 0 ? ['template', 'search'].map((role) => (options.inputs as Record<string, string> | undefined)?.[role] ?? role) : ['template', 'search'];
    const templatePart = models[k].templatePart;
    if (templatePart) {
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
