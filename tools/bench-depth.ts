/**
 * How latency falls with depth: exports OSTrack-256-geometry trackers with 12, 8, 6, 4, 3 and 2
 * blocks (random weights; speed does not depend on them) and times them on onnxruntime's CPU
 * provider side by side. Runs are interleaved (one run of each model per round, the order rotating
 * between rounds) so that thermal or background drift hits every model alike.
 *
 *   npx tsx tools/bench-depth.ts [--rounds 20] [--threads N]
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { netConfig } from '../ts/train/model/config.js';
import { paramSpecs, type WeightMap } from '../ts/train/model/params.js';
import { writeTrackerOnnx } from '../ts/train/export-onnx.js';

const DEPTHS = [12, 8, 6, 4, 3, 2];
/** CompressTracker's RTX 2080Ti speed-ups over OSTrack-256 (105 FPS) for CT-8/6/4/3/2. */
const PAPER_SPEEDUP: Record<number, number> = { 12: 1, 8: 1.21, 6: 1.54, 4: 2.17, 3: 2.54, 2: 3.3 };

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' }, threads: { type: 'string' } } });
const rounds = Number(values.rounds);
const threads = values.threads ? Number(values.threads) : undefined;

/** Small random weights for the deepest model; shallower ones use its first blocks. */
function randomWeights(): WeightMap {
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const weights: WeightMap = new Map();
  for (const spec of paramSpecs(netConfig('ostrack-256', { depth: Math.max(...DEPTHS) }))) {
    const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    if (spec.name.endsWith('running_var')) data.fill(1);
    else for (let i = 0; i < data.length; i++) data[i] = next() * 0.04;
    weights.set(spec.name, { shape: spec.shape, data });
  }
  return weights;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const dir = await mkdtemp(join(tmpdir(), 'ct-edge-bench-depth-'));
try {
  const weights = randomWeights();
  const models: { depth: number; session: ort.InferenceSession; feeds: Record<string, ort.Tensor>; times: number[]; mb: number }[] = [];
  for (const depth of DEPTHS) {
    const config = netConfig('ostrack-256', { depth });
    const path = join(dir, `ostrack256-${depth}.onnx`);
    await writeTrackerOnnx(path, config, weights);
    const session = await ort.InferenceSession.create(path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
    });
    const input = (side: number) => new ort.Tensor('float32', Float32Array.from({ length: 3 * side * side }, (_, i) => Math.sin(i) * 2), [1, 3, side, side]);
    const feeds = { template: input(config.templateSize), search: input(config.searchSize) };
    for (let i = 0; i < 3; i++) await session.run(feeds); // warm-up
    models.push({ depth, session, feeds, times: [], mb: (await stat(path)).size / 1e6 });
    console.error(`exported and warmed up ${depth} blocks`);
  }
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < models.length; k++) {
      const m = models[(k + r) % models.length];
      const t0 = performance.now();
      await m.session.run(m.feeds);
      m.times.push(performance.now() - t0);
    }
  }
  // The minimum is the steadier figure on a shared machine; both speed-ups are relative to 12 blocks.
  const [baseMedian, baseMin] = [median(models[0].times), Math.min(...models[0].times)];
  console.log(`onnxruntime-node ${ort.env.versions.common} CPU, ${cpus().length} x ${cpus()[0]?.model.trim()}, threads ${threads ?? 'default'}, ${rounds} interleaved rounds`);
  console.log('blocks | size MB | median ms | min ms | speed-up (median) | speed-up (min) | paper (RTX 2080Ti)');
  console.log('------ | ------- | --------- | ------ | ----------------- | -------------- | ------------------');
  for (const m of models) {
    const [med, min] = [median(m.times), Math.min(...m.times)];
    const cells = [m.depth.toString(), m.mb.toFixed(0), med.toFixed(1), min.toFixed(1), (baseMedian / med).toFixed(2), (baseMin / min).toFixed(2), PAPER_SPEEDUP[m.depth].toFixed(2)];
    const widths = [6, 7, 9, 6, 17, 14, 18];
    console.log(cells.map((c, i) => c.padStart(widths[i])).join(' | '));
  }
  for (const m of models) await m.session.release();
} finally {
  await rm(dir, { recursive: true, force: true });
}
