/**
 * Many targets, one inference: a TrackerGroup of N targets against N separate Trackers on the same
 * engine, frame-interleaved (on each frame both run once, the order alternating), and the floor,
 * the batched graph alone (one onnxruntime session.run of batch N with fixed inputs: no crops, no
 * decode, no thread hand-over) over as many frames in a pass of its own right after: interleaved,
 * its session's spinning pool threads would slow whichever arm ran next on a 2-core machine.
 *
 * Frames: the first --frames frames of each shared sequence (real footage); the targets: the
 * ground-truth box of the first frame, plus copies shifted across the frame. Models: the
 * recommended student (two parts, template computed once) and VitTrack made batchable by import +
 * export (its weights in ct-edge's graph), unless --model names others. A TensorRT engine runs too,
 * unchanged (on a Jetson: `--model student.engine`, built with `build-engine --max-batch 16`): the
 * table's targets per second against the number of targets is the GPU's batching curve, and its
 * inferences per frame say how many enqueues a frame took (one per --max-batch targets; one per
 * target for an engine built without it).
 *
 *   npx tsx tools/bench-group.ts [--targets 1,2,4,8,16] [--threads 1,2] [--frames 30] [--model PATH ...]
 *
 * Prints per model, thread count and N: ms per frame of each arm, the ratio group / separate (goal
 * at 8 targets and 2 threads: at most 0.75), the ratio group / batched graph (the floor; goal at 1
 * thread: at most 1.05), and targets per second of the group and of the separate trackers.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Engine, Tracker, TrackerGroup, type Box, type Frame } from '../ts/index.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { readImage } from '../ts/deploy/io/images.js';
import { importTrackerOnnx } from '../ts/train/import-onnx.js';
import { writeTrackerOnnx } from '../ts/train/export-onnx.js';
import { loadOptions, SHARED_SEQUENCES, VITTRACK_PATH } from './lib/models.js';

const USAGE = 'usage: npx tsx tools/bench-group.ts [--targets 1,2,4,8,16] [--threads 1,2] [--frames 30] [--model PATH ...]';
const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '1,2,4,8,16' },
    threads: { type: 'string', default: '1,2' },
    frames: { type: 'string', default: '30' },
    model: { type: 'string', multiple: true },
    help: { type: 'boolean', default: false },
  },
});
const list = (text: string) => text.split(',').map(Number);
const targetCounts = list(values.targets);
const threadCounts = list(values.threads);
const frameCount = Number(values.frames);
const whole = (n: number) => Number.isInteger(n) && n > 0;
if (values.help || !targetCounts.every(whole) || !threadCounts.every(whole) || !whole(frameCount) || frameCount < 2) {
  console.error(USAGE);
  process.exit(values.help ? 0 : 2);
}

/** `n` targets: the ground-truth box, then copies shifted across the frame (kept inside it). */
function targetsFor(box: Box, n: number, width: number, height: number): Box[] {
  return Array.from({ length: n }, (_, i) => {
    if (i === 0) return box;
    const x = ((box.x + i * 0.37 * width) % Math.max(1, width - box.width)) | 0;
    const y = ((box.y + i * 0.61 * height) % Math.max(1, height - box.height)) | 0;
    return { ...box, x, y };
  });
}

/** The batched graph alone: inputs of batch n with fixed values (a two-part model: its per-frame part). */
function floorFeeds(session: ort.InferenceSession, n: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) continue;
    const dims = meta.shape.map((d, i) => (i === 0 ? n : (d as number)));
    feeds[meta.name] = new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i) * 0.5), dims);
  }
  return feeds;
}

const dir = await mkdtemp(join(tmpdir(), 'ct-edge-bench-group-'));
try {
  let models = values.model?.map((path) => ({ label: path, path }));
  if (!models) {
    const vittrack = await importTrackerOnnx(VITTRACK_PATH, await loadOptions(VITTRACK_PATH, 1));
    const batchable = join(dir, 'vittrack-batchable.onnx');
    await writeTrackerOnnx(batchable, vittrack.config, vittrack.weights);
    models = [
      { label: 'vittrack-student', path: join(import.meta.dirname, '..', 'models', 'vittrack-student.onnx') },
      { label: 'VitTrack (import + export)', path: batchable },
    ];
  }

  const sequences = [];
  for (const name of (await readdir(SHARED_SEQUENCES)).sort()) {
    const s = await readOtbSequence(join(SHARED_SEQUENCES, name));
    const frames: Frame[] = [];
    for (const path of s.framePaths.slice(0, frameCount)) frames.push(await readImage(path));
    sequences.push({ name, frames, box: s.groundTruth[0]! });
  }
  console.log(`${sequences.length} sequences (${sequences.map((s) => s.name).join(', ')}), ${frameCount} frames each; ${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}`);

  const rows: string[] = [];
  for (const threads of threadCounts) {
    for (const model of models) {
      const engine = await Engine.load(model.path, await loadOptions(model.path, threads));
      const floor = engine.backend === 'onnxruntime-cpu' && engine.config.batch === 'dynamic'
        ? await ort.InferenceSession.create(model.path, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 })
        : undefined;
      for (const n of targetCounts) {
        const ms = { group: 0, separate: 0, floor: 0 };
        let inferences = 0;
        let timed = 0;
        for (const seq of sequences) {
          const first = seq.frames[0];
          const boxes = targetsFor(seq.box, n, first.width, first.height);
          const group = new TrackerGroup(engine);
          const trackers = boxes.map(() => new Tracker(engine));
          boxes.forEach((box, i) => {
            group.add(first, box);
            trackers[i].init(first, box);
          });
          const feeds = floor ? floorFeeds(floor, n) : undefined;
          const arms = {
            group: async (f: Frame) => (inferences += (await group.track(f)).inferences),
            separate: (f: Frame) => Promise.all(trackers.map((t) => t.track(f))),
          };
          const order = ['group', 'separate'] as const;
          const before = inferences;
          for (const k of order) await arms[k](seq.frames[1]); // warm-up: the group's batched inputs, the session's buffers
          inferences = before;
          for (let i = 1; i < seq.frames.length; i++) {
            for (let j = 0; j < order.length; j++) {
              const arm = order[(i + j) % order.length];
              const t0 = performance.now();
              await arms[arm](seq.frames[i]);
              ms[arm] += performance.now() - t0;
            }
            timed += 1;
          }
          group.dispose();
          for (const t of trackers) t.dispose();
          if (floor && feeds) {
            await floor.run(feeds);
            const t0 = performance.now();
            for (let i = 1; i < seq.frames.length; i++) await floor.run(feeds);
            ms.floor += performance.now() - t0;
          }
        }
        const per = (v: number) => v / timed;
        const cells = [
          model.label,
          threads,
          n,
          per(ms.separate).toFixed(2),
          per(ms.group).toFixed(2),
          (ms.group / ms.separate).toFixed(3),
          floor ? per(ms.floor).toFixed(2) : '-',
          floor ? (ms.group / ms.floor).toFixed(3) : '-',
          ((n * timed * 1000) / ms.group).toFixed(0),
          ((n * timed * 1000) / ms.separate).toFixed(0),
          (inferences / timed).toFixed(0),
        ];
        rows.push(`| ${cells.join(' | ')} |`);
        console.log(rows.at(-1));
      }
      await floor?.release();
      await engine.dispose();
    }
  }
  console.log('\n| model | threads | targets | separate ms/frame | group ms/frame | group / separate | batched graph ms | group / graph | targets/s group | targets/s separate | inferences/frame |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
} finally {
  await rm(dir, { recursive: true, force: true });
}
