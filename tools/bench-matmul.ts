/**
 * Why the network's linear layers and patch embedding use matMulTransposeB (ts/train/model/layers.ts):
 * forward + backward of every matmul one training step of a preset makes (per worker share of
 * the batch), through tfjs's matMul with a transpose flag against matMulTransposeB, side by side.
 * On the wasm backend a flagged 2-D matmul leaves XNNPACK for a much slower loop, and tfjs's
 * matMul gradient sets flags even when the forward pass does not.
 *
 *   npx tsx tools/bench-matmul.ts [--preset tiny] [--batch 4] [--rounds 20]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../ts/train/model/backend.js';
import { geometry, netConfig, PRESETS, type PresetName } from '../ts/train/model/config.js';
import '../ts/train/model/gradients.js';
import { matMulTransposeB } from '../ts/train/model/layers.js';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tiny' },
    batch: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '20' },
  },
});
if (!(values.preset! in PRESETS)) throw new Error(`unknown --preset ${values.preset}; presets are ${Object.keys(PRESETS).join(', ')}`);
const [batch, rounds] = [values.batch, values.rounds].map(Number);
if (![batch, rounds].every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--batch and --rounds take whole numbers >= 1');

const backend = await initBackend();
const c = netConfig(values.preset as PresetName);
const { templateTokens, searchTokens } = geometry(c);
const tokens = batch * (templateTokens + searchTokens);
const patch = 3 * c.patch * c.patch;
// [name, rows of the input, input width, output width, how many per step]
const layers: [string, number, number, number, number][] = [
  ['patch embed (template)', batch * templateTokens, patch, c.dim, 1],
  ['patch embed (search)', batch * searchTokens, patch, c.dim, 1],
  ['attn.qkv', tokens, c.dim, 3 * c.dim, c.depth],
  ['attn.proj', tokens, c.dim, c.dim, c.depth],
  ['mlp.fc1', tokens, c.dim, c.mlpRatio * c.dim, c.depth],
  ['mlp.fc2', tokens, c.mlpRatio * c.dim, c.dim, c.depth],
];

type MatMul = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
const flagged: MatMul = (a, b) => tf.matMul(a, b, false, true);
/** Forward + backward of y = a b^T with upstream gradient dy, in ms (data read back to wait for it). */
function time(f: MatMul, a: tf.Tensor2D, b: tf.Tensor2D, dy: tf.Tensor2D): number {
  const t0 = performance.now();
  const grads = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D, w as tf.Tensor2D), dy)))([a, b]);
  grads.forEach((g) => g.dataSync());
  tf.dispose(grads);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
console.log(`TensorFlow.js ${backend}; preset ${values.preset}, ${batch} pairs; forward + backward, median of ${rounds} interleaved rounds`);
console.log('layer                        |  rows x in -> out  | per step | flag ms | matMulTransposeB ms | speed-up');
console.log('---------------------------- | ------------------ | -------- | ------- | ------------------- | --------');
let [totalFlagged, totalOurs] = [0, 0];
for (const [name, rows, inp, out, count] of layers) {
  const a = tf.randomNormal([rows, inp]) as tf.Tensor2D;
  const b = tf.randomNormal([out, inp]) as tf.Tensor2D;
  const dy = tf.randomNormal([rows, out]) as tf.Tensor2D;
  const times: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds + 2; r++) {
    const order: [MatMul, number][] = r % 2 ? [[flagged, 0], [matMulTransposeB, 1]] : [[matMulTransposeB, 1], [flagged, 0]];
    for (const [f, k] of order) {
      const ms = time(f, a, b, dy);
      if (r >= 2) times[k].push(ms); // the first two rounds warm up
    }
  }
  const [mf, mo] = times.map(median);
  totalFlagged += count * mf;
  totalOurs += count * mo;
  console.log([name.padEnd(28), `${rows} x ${inp} -> ${out}`.padStart(18), `${count}`.padStart(8), mf.toFixed(3).padStart(7), mo.toFixed(3).padStart(19), `${(mf / mo).toFixed(2)}x`.padStart(8)].join(' | '));
  tf.dispose([a, b, dy]);
}
console.log(`one step's matmuls: ${totalFlagged.toFixed(1)} ms with the flag, ${totalOurs.toFixed(1)} ms with matMulTransposeB (${(totalFlagged / totalOurs).toFixed(2)}x)`);
