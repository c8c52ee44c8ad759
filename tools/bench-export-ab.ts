/**
 * Two ONNX files of the same network (an exporter change before and after): how much faster the
 * second runs, and whether it computes the same maps. Model only, onnxruntime on fixed inputs
 * (a two-part model: its per-frame part, fed the template part's outputs), the two interleaved
 * round by round with the order alternating; then the largest difference between their maps.
 *
 *   npx tsx tools/bench-export-ab.ts BEFORE.onnx AFTER.onnx [--rounds 1500] [--threads 1]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { median } from '../ts/deploy/eval/bench.js';
import { TWO_PART_METADATA } from '../ts/contract/model-config.js';
import { readOnnxMetadata } from '../ts/contract/onnx-reader.js';
import { twoPartTemplatePath } from '../ts/deploy/two-part.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '1500' }, threads: { type: 'string', default: '1' } },
});
const rounds = Number(values.rounds);
const threads = Number(values.threads);
if (positionals.length !== 2 || !(Number.isInteger(rounds) && rounds > 0 && Number.isInteger(threads) && threads > 0)) {
  console.error('usage: npx tsx tools/bench-export-ab.ts BEFORE.onnx AFTER.onnx [--rounds N] [--threads N]');
  process.exit(2);
}

const options: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 };
/** A deterministic image-like input of the input's declared size. */
const image = (side: number) => new ort.Tensor('float32', Float32Array.from({ length: 3 * side * side }, (_, i) => Math.sin(i * 0.37) * 2), [1, 3, side, side]);
const sideOf = (session: ort.InferenceSession, name: string) => {
  const meta = session.inputMetadata.find((m) => m.name === name);
  const side = meta?.isTensor ? Number(meta.shape[2]) : NaN;
  if (!(side > 0)) throw new Error(`${name}: no square image input`);
  return side;
};

async function load(path: string): Promise<{ session: ort.InferenceSession; feeds: Record<string, ort.Tensor> }> {
  const session = await ort.InferenceSession.create(path, options);
  const feeds: Record<string, ort.Tensor> = {};
  const metadata = readOnnxMetadata(await readFile(path));
  const template = twoPartTemplatePath(path, metadata[TWO_PART_METADATA.part], metadata[TWO_PART_METADATA.templatePart]);
  if (template) {
    const part = await ort.InferenceSession.create(template, options);
    Object.assign(feeds, await part.run({ [part.inputNames[0]]: image(sideOf(part, part.inputNames[0])) }));
    await part.release();
  }
  for (const name of session.inputNames) feeds[name] ??= image(sideOf(session, name));
  return { session, feeds };
}

const models = await Promise.all(positionals.map(load));
for (const m of models) for (let i = 0; i < 10; i++) await m.session.run(m.feeds); // warm-up
const ms: number[][] = [[], []];
for (let r = 0; r < rounds; r++) {
  for (let j = 0; j < 2; j++) {
    const k = (j + r) % 2;
    const t0 = performance.now();
    await models[k].session.run(models[k].feeds);
    ms[k].push(performance.now() - t0);
  }
}
const [a, b] = await Promise.all(models.map((m) => m.session.run(m.feeds)));
let worst = 0;
for (const name of Object.keys(a)) {
  const [x, y] = [a[name].data as Float32Array, b[name]?.data as Float32Array | undefined];
  if (!y || y.length !== x.length) throw new Error(`output ${name} differs in shape between the two files`);
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
}
console.log(`onnxruntime-node ${ort.env.versions.common}, ${threads} thread(s), ${rounds} interleaved rounds; medians`);
console.log(`before ${median(ms[0]).toFixed(3)} ms, after ${median(ms[1]).toFixed(3)} ms: ${(median(ms[0]) / median(ms[1])).toFixed(3)}x`);
console.log(`largest difference of the maps: ${worst}`);
await Promise.all(models.map((m) => m.session.release()));
