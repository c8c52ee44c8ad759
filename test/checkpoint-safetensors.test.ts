/** safetensors reading/writing, atomic replacement, and checkpoint checks with clear errors. */
import test from 'ava';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../ts/train/checkpoint/atomic.js';
import { readCheckpoint, writeCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { parseSafetensors, readSafetensors, writeSafetensors } from '../ts/train/checkpoint/safetensors.js';
import { initBackend } from '../ts/train/model/backend.js';
import { netConfig } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { paramSpecs, type WeightMap } from '../ts/train/model/params.js';
import { CtEdgeError } from '../ts/contract/errors.js';

const config = netConfig('tiny', { depth: 2 });

/** Deterministic weights of the right shapes for `config`. */
function weightsFor(c = config): WeightMap {
  let s = 1;
  return new Map(
    paramSpecs(c).map((spec) => {
      const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) data[i] = Math.sin((s += 1.618) * 12.9898) * 2;
      return [spec.name, { shape: spec.shape, data }];
    }),
  );
}

let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-ckpt-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('F32 round trip is exact and keeps metadata; the layout follows the spec', async (t) => {
  const path = join(dir, 'plain.safetensors');
  const tensors: WeightMap = new Map([
    ['a', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-8, -0, 65504]) }],
    ['b.scalar', { shape: [], data: Float32Array.of(7) }],
  ]);
  await writeSafetensors(path, tensors, { metadata: { format: 'pt', note: 'hi' } });
  const bytes = await readFile(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  t.is((8 + headerLength) % 8, 0, 'data starts 8-byte aligned');
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  t.deepEqual(header.a, { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  t.deepEqual(header['b.scalar'], { dtype: 'F32', shape: [], data_offsets: [24, 28] });
  const back = await readSafetensors(path);
  t.deepEqual(back.metadata, { format: 'pt', note: 'hi' });
  t.deepEqual([...back.tensors.keys()], ['a', 'b.scalar']);
  t.deepEqual(back.tensors.get('a')!.data, tensors.get('a')!.data);
  t.deepEqual(back.tensors.get('b.scalar')!.shape, []);
});

test('F16 round trip stays within half precision; BF16 reads', async (t) => {
  const path = join(dir, 'half.safetensors');
  const values = Float32Array.from([0, 1, -2.5, 0.1, 3.14159, 1e-5, 60000, -1e-7]);
  await writeSafetensors(path, new Map([['x', { shape: [8], data: values }]]), { dtype: 'F16' });
  const back = (await readSafetensors(path)).tensors.get('x')!.data;
  for (let i = 0; i < values.length; i++) t.true(Math.abs(back[i] - values[i]) <= Math.abs(values[i]) * 1e-3 + 6e-8, `${values[i]} -> ${back[i]}`);

  // A hand-made BF16 file: 1.0 is 0x3f80 and -2.0 is 0xc000.
  const header = Buffer.from(JSON.stringify({ y: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }));
  const file = Buffer.alloc(8 + header.length + 4);
  file.writeBigUInt64LE(BigInt(header.length));
  header.copy(file, 8);
  file.writeUInt16LE(0x3f80, 8 + header.length);
  file.writeUInt16LE(0xc000, 8 + header.length + 2);
  t.deepEqual([...parseSafetensors(file, 'bf16').tensors.get('y')!.data], [1, -2]);
});

test('broken files are CtEdgeErrors that say what is wrong', (t) => {
  const err = (bytes: Uint8Array) => t.throws(() => parseSafetensors(bytes, 'f.safetensors'), { instanceOf: CtEdgeError });
  t.regex(err(new Uint8Array(4))!.message, /shorter than/);
  const truncated = Buffer.alloc(16);
  truncated.writeBigUInt64LE(1000n);
  t.regex(err(truncated)!.message, /runs past the end/);
  const header = Buffer.from(JSON.stringify({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }));
  const short = Buffer.concat([Buffer.alloc(8), header, Buffer.alloc(8)]);
  short.writeBigUInt64LE(BigInt(header.length));
  t.regex(err(short)!.message, /tensor 'x' has a bad entry/);
  const int = Buffer.from(JSON.stringify({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }));
  const ints = Buffer.concat([Buffer.alloc(8), int, Buffer.alloc(8)]);
  ints.writeBigUInt64LE(BigInt(int.length));
  t.regex(err(ints)!.message, /is I64; ct-edge reads F32, F16 and BF16/);
});

test('a failed write leaves the old file intact and no temporary file behind', async (t) => {
  const path = join(dir, 'keep.safetensors');
  await writeSafetensors(path, new Map([['a', { shape: [1], data: Float32Array.of(1) }]]));
  const before = await readFile(path);
  function* failing() {
    yield new Uint8Array([1, 2, 3]);
    throw new Error('disk full');
  }
  await t.throwsAsync(writeFileAtomic(path, failing()), { message: 'disk full' });
  // Inconsistent tensors fail before anything touches the disk.
  await t.throwsAsync(writeSafetensors(path, new Map([['bad', { shape: [3], data: new Float32Array(2) }]])), { message: /has 2 values but shape \[3\]/ });
  t.deepEqual(await readFile(path), before);
  t.deepEqual((await readdir(dir)).filter((f) => f.startsWith('.keep.safetensors.')), []);
});

test('checkpoints store their config and load into a network', async (t) => {
  await initBackend(['cpu']);
  const path = join(dir, 'net.safetensors');
  const net = TrackerNet.random(config, 9);
  await writeCheckpoint(path, { config: net.config, weights: net.weights() });
  const ckpt = await readCheckpoint(path);
  t.deepEqual(ckpt.config, config);
  const loaded = TrackerNet.fromWeights(ckpt.config, ckpt.weights, path);
  for (const [name, v] of net.variables) t.deepEqual(loaded.variable(name).dataSync(), v.dataSync(), name);
  // Loading into an existing network (how a student starts from teacher weights) checks first.
  const other = TrackerNet.random(config, 10);
  t.throws(() => other.loadWeights(new Map([...ckpt.weights].slice(1)), 'partial'), { message: /partial has no tensor 'patch_embed.proj.weight'/ });
  other.loadWeights(ckpt.weights, path);
  t.deepEqual(other.variable('box_head.conv3_offset.1.running_var').dataSync(), net.variable('box_head.conv3_offset.1.running_var').dataSync());
  other.dispose();
  net.dispose();
  loaded.dispose();
  // A different requested network is refused.
  await t.throwsAsync(readCheckpoint(path, netConfig('tiny')), { instanceOf: CtEdgeError, message: /holds a network/ });
});

test('missing and misshapen tensors name the tensor and both shapes', async (t) => {
  const weights = weightsFor();
  weights.delete('blocks.1.mlp.fc2.weight');
  const missing = join(dir, 'missing.safetensors');
  await writeSafetensors(missing, weights);
  const e1 = await t.throwsAsync(readCheckpoint(missing, config), { instanceOf: CtEdgeError });
  t.is((e1 as CtEdgeError).code, 'ERR_CHECKPOINT');
  t.is(e1!.message, `${missing} has no tensor 'blocks.1.mlp.fc2.weight' (the model needs shape [32,128])`);

  const bent = weightsFor();
  bent.set('box_head.conv2_size.0.weight', { shape: [16, 32, 1, 9], data: new Float32Array(16 * 32 * 9) });
  const misshapen = join(dir, 'misshapen.safetensors');
  await writeSafetensors(misshapen, bent);
  const e2 = await t.throwsAsync(readCheckpoint(misshapen, config), { instanceOf: CtEdgeError });
  t.is(e2!.message, `${misshapen}: tensor 'box_head.conv2_size.0.weight' has shape [16,32,1,9], the model needs [16,32,3,3]`);

  await t.throwsAsync(readCheckpoint(misshapen), { message: /does not say which network it holds.*--preset/ });
  await t.throwsAsync(readCheckpoint(join(dir, 'nope.safetensors'), config), { message: /cannot read checkpoint/ });
});

test("OSTrack's own names (backbone.*) and extra tensors load", async (t) => {
  const weights = weightsFor();
  const ostrack: WeightMap = new Map();
  for (const [name, w] of weights) ostrack.set(name.startsWith('box_head.') ? name : `backbone.${name}`, w);
  ostrack.set('backbone.cls_token', { shape: [1, 1, 32], data: new Float32Array(32) });
  ostrack.set('box_head.conv1_ctr.1.num_batches_tracked', { shape: [], data: new Float32Array(1) });
  const path = join(dir, 'ostrack.safetensors');
  await writeSafetensors(path, ostrack);
  const ckpt = await readCheckpoint(path, config);
  t.deepEqual([...ckpt.weights.keys()], paramSpecs(config).map((s) => s.name));
  t.deepEqual(ckpt.weights.get('blocks.0.attn.qkv.weight')!.data, weights.get('blocks.0.attn.qkv.weight')!.data);
});

test('writeFileAtomic replaces a file in one step', async (t) => {
  const path = join(dir, 'atomic.bin');
  await writeFile(path, 'old');
  await writeFileAtomic(path, [new TextEncoder().encode('new '), new TextEncoder().encode('content')]);
  t.is(await readFile(path, 'utf8'), 'new content');
});
