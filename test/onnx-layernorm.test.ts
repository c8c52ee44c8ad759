/**
 * The LayerNormalization rewrite (ts/contract/onnx-layernorm.ts) that lets TensorRT 8.5 (JetPack
 * 5.1) parse ct-edge's exports: onnxruntime gives the same maps before and after, within 1e-5, on
 * a shipped student (graph optimisations off, so that the primitive ops really run); the rewrite keeps every other byte of the model; the opset-18 form (axes as
 * an input), float16 inputs and the optional Mean/InvStdDev outputs run on onnxruntime too; what
 * it cannot rewrite is a typed error; `ct-edge export --decompose-layernorm` writes the same rewrite.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { command as exportCommand } from '../ts/cli/commands/export.js';
import { CtEdgeError } from '../ts/contract/errors.js';
import { decomposeLayerNorm, LAYERNORM_DECOMPOSED_MARKER, onnxNodes } from '../ts/contract/onnx-layernorm.js';
import { parseOnnxModel } from '../ts/contract/onnx-reader.js';
import { ModelProto, OnnxDataType } from '../ts/contract/onnx-schema.js';
import { repoRoot } from './helpers/data.js';

const studentPath = join(repoRoot, 'models', 'student-2.onnx');

/** Deterministic inputs in about the range of normalised crops; a symbolic batch is 2. */
function inputs(seed: number, shapes: Record<string, readonly (number | string)[]>): Record<string, ort.Tensor> {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 4 - 2;
  return Object.fromEntries(
    Object.entries(shapes).map(([name, symbolic]) => {
      const shape = symbolic.map((d) => (typeof d === 'number' ? d : 2));
      return [name, new ort.Tensor('float32', Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, next), shape)];
    }),
  );
}

/**
 * Graph optimisations off: onnxruntime's LayerNormFusion would otherwise fuse the spelled-out ops
 * back into one LayerNormalization kernel, and the comparison would compare that kernel with itself.
 */
async function run(model: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Float32Array.from(v.data as Float32Array | Iterable<number>, Number)]));
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}

function withOpset(model: Uint8Array, version: number): Uint8Array {
  const m = ModelProto.decode(model) as unknown as { opsetImport: { domain?: string; version: number }[] };
  m.opsetImport = m.opsetImport.map((o) => (o.domain ? o : { ...o, version }));
  return ModelProto.encode(ModelProto.fromObject(m)).finish();
}

test('student-2: no LayerNormalization left, onnxruntime maps equal within 1e-5', async (t) => {
  const original = new Uint8Array(await readFile(studentPath));
  const before = parseOnnxModel(original);
  const layerNorms = before.opTypes.LayerNormalization ?? 0;
  t.true(layerNorms >= 5, `student-2 has ${layerNorms} LayerNormalization nodes`);
  const rewrite = decomposeLayerNorm(original);
  t.is(rewrite.replaced, layerNorms);
  const after = parseOnnxModel(rewrite.bytes);
  t.false('LayerNormalization' in after.opTypes);
  for (const op of ['Sub', 'Pow', 'Sqrt', 'Div']) t.true((after.opTypes[op] ?? 0) >= layerNorms, `${op}: ${after.opTypes[op]}`);
  t.is(after.opTypes.ReduceMean, 2 * layerNorms);
  t.deepEqual(after.metadata, before.metadata, 'metadata_props kept');
  t.deepEqual(after.inputs, before.inputs);
  t.deepEqual(after.outputs, before.outputs);
  t.true(rewrite.nodeNames.length > 0 && rewrite.nodeNames.every((n) => n.includes(LAYERNORM_DECOMPOSED_MARKER)));
  t.deepEqual(onnxNodes(rewrite.bytes).filter((n) => n.name.includes(LAYERNORM_DECOMPOSED_MARKER)).map((n) => n.name), rewrite.nodeNames);

  const shapes = Object.fromEntries(before.inputs.map((i) => [i.name, i.shape]));
  let worst = 0;
  for (const seed of [1, 2, 3]) {
    const feeds = inputs(seed, shapes);
    const [a, b] = [await run(original, feeds), await run(rewrite.bytes, feeds)];
    for (const name of Object.keys(a)) worst = Math.max(worst, maxAbsDiff(a[name], b[name]));
  }
  t.log(`max |difference| over score, size and offset maps, 3 input sets: ${worst.toExponential(2)}`);
  t.true(worst <= 1e-5, `maps differ by ${worst}`);

  t.is(decomposeLayerNorm(rewrite.bytes).bytes, rewrite.bytes, 'a model without LayerNormalization comes back as it was');
});

test('opset 18 (ReduceMean axes as an input) runs on onnxruntime with the same maps', async (t) => {
  const original = withOpset(new Uint8Array(await readFile(studentPath)), 18);
  const rewrite = decomposeLayerNorm(original);
  t.true(onnxNodes(rewrite.bytes).some((n) => n.opType === 'ReduceMean'));
  const feeds = inputs(7, Object.fromEntries(parseOnnxModel(original).inputs.map((i) => [i.name, i.shape])));
  const [a, b] = [await run(original, feeds), await run(rewrite.bytes, feeds)];
  for (const name of Object.keys(a)) t.true(maxAbsDiff(a[name], b[name]) <= 1e-5, name);
});

test('fields the schema does not know and the weights survive byte for byte', async (t) => {
  const original = new Uint8Array(await readFile(studentPath));
  // An unknown top-level field (number 99, varint 7): kept as it was.
  const unknown = Uint8Array.of((99 << 3) & 0x7f | 0x80, 99 >> 4, 7);
  const model = new Uint8Array([...original, ...unknown]);
  const out = decomposeLayerNorm(model).bytes;
  t.deepEqual(out.subarray(out.length - unknown.length), unknown);
  const weights = (m: Uint8Array) =>
    (ModelProto.decode(m) as unknown as { graph: { initializer: { name: string; rawData: Uint8Array }[] } }).graph.initializer.map((i): [string, string] => [i.name, Buffer.from(i.rawData).toString('base64')]);
  const before = new Map(weights(original));
  for (const [name, data] of weights(out)) if (before.has(name)) t.is(data, before.get(name)!, name);
  t.is(weights(out).filter(([n]) => before.has(n)).length, before.size, 'every initializer is still there');
});

/** A one-node model: Y = LayerNormalization(X, Scale, B) over the last `-axis` axes of [2,3,4]. */
function tinyModel(options: { elemType?: number; axis?: number; stash?: number; extraOutputs?: boolean; withRank?: boolean }): Uint8Array {
  const elemType = options.elemType ?? OnnxDataType.FLOAT;
  const shape = [2, 3, 4];
  const normalised = options.axis !== undefined && options.axis >= 0 ? shape.slice(options.axis) : shape.slice(shape.length + (options.axis ?? -1));
  const count = normalised.reduce((a, b) => a * b, 1);
  const values = (f: (i: number) => number) =>
    elemType === OnnxDataType.FLOAT16 ? { int32Data: Array.from({ length: count }, (_, i) => float16Bits(f(i))) } : { floatData: Array.from({ length: count }, (_, i) => f(i)) };
  const tensor = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const attribute = [
    ...(options.axis !== undefined ? [{ name: 'axis', type: 2, i: options.axis }] : []),
    { name: 'epsilon', type: 1, f: 1e-3 },
    ...(options.stash !== undefined ? [{ name: 'stash_type', type: 2, i: options.stash }] : []),
  ];
  const reduced = shape.map((d, k) => (k < shape.length - normalised.length ? d : 1));
  const model = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'tiny',
      node: [{ name: 'ln', opType: 'LayerNormalization', input: ['X', 'S', 'B'], output: ['Y', ...(options.extraOutputs ? ['M', 'R'] : [])], attribute }],
      initializer: [
        { name: 'S', dims: normalised, dataType: elemType, ...values((i) => 0.5 + i / count) },
        { name: 'B', dims: normalised, dataType: elemType, ...values((i) => i / count - 0.25) },
      ],
      input: [options.withRank === false ? { name: 'X' } : tensor('X', shape)],
      output: [
        tensor('Y', shape),
        ...(options.extraOutputs
          ? [{ name: 'M', type: { tensorType: { elemType: OnnxDataType.FLOAT, shape: { dim: reduced.map((d) => ({ dimValue: d })) } } } },
             { name: 'R', type: { tensorType: { elemType: OnnxDataType.FLOAT, shape: { dim: reduced.map((d) => ({ dimValue: d })) } } } }]
          : []),
      ],
    },
  };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

function float16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | Math.round(mant / 8192);
}

test('axis, the Mean and InvStdDev outputs and float16 inputs match onnxruntime', async (t) => {
  const x = inputs(11, { X: [2, 3, 4] }).X;
  const cases: [string, Parameters<typeof tinyModel>[0], number][] = [
    ['axis -1', {}, 1e-5],
    ['axis -2', { axis: -2 }, 1e-5],
    ['axis 1 (rank from the value info)', { axis: 1 }, 1e-5],
    ['Mean and InvStdDev outputs', { extraOutputs: true }, 1e-5],
  ];
  for (const [name, options, tolerance] of cases) {
    const model = tinyModel(options);
    const rewrite = decomposeLayerNorm(model);
    t.is(rewrite.replaced, 1, name);
    const [a, b] = [await run(model, { X: x }), await run(rewrite.bytes, { X: x })];
    t.deepEqual(Object.keys(b).sort(), Object.keys(a).sort(), name);
    for (const out of Object.keys(a)) t.true(maxAbsDiff(a[out], b[out]) <= tolerance, `${name}: ${out} differs by ${maxAbsDiff(a[out], b[out])}`);
  }
  // float16: statistics in float32, cast back before Scale and B.
  const half = tinyModel({ elemType: OnnxDataType.FLOAT16 });
  const rewrite = decomposeLayerNorm(half);
  t.deepEqual(onnxNodes(rewrite.bytes).filter((n) => n.opType === 'Cast').length, 2);
  const x16 = new ort.Tensor('float16', Uint16Array.from(x.data as Float32Array, float16Bits), [2, 3, 4]);
  const fromHalf = (m: Uint8Array) => run(m, { X: x16 });
  const [a, b] = [await fromHalf(half), await fromHalf(rewrite.bytes)];
  t.true(a.Y.length === 24 && maxAbsDiff(a.Y, b.Y) <= 4e-3, `float16 Y differs by ${maxAbsDiff(a.Y, b.Y)}`);
});

test('what cannot be decomposed is a typed error', (t) => {
  t.throws(() => decomposeLayerNorm(tinyModel({ stash: 10 })), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID', message: /stash_type 10/ });
  t.throws(() => decomposeLayerNorm(tinyModel({ axis: 1, withRank: false })), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID', message: /rank of its input 'X'/ });
  t.throws(() => decomposeLayerNorm(Uint8Array.of(0x3a, 0x05, 1, 2)), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID' });
  t.throws(() => decomposeLayerNorm(new Uint8Array(0)), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID', message: /no graph/ });
});

test('ct-edge export --decompose-layernorm writes the model without LayerNormalization, with the same maps', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-export-ln-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const checkpoint = join(repoRoot, 'models', 'student-2.safetensors');
  const [plain, spelled] = [join(dir, 'plain.onnx'), join(dir, 'spelled.onnx')];
  const { log } = console;
  const out: string[] = [];
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  try {
    t.is(await exportCommand.run([checkpoint, '-o', plain]), 0);
    t.is(await exportCommand.run([checkpoint, '-o', spelled, '--decompose-layernorm']), 0);
  } finally {
    console.log = log;
  }
  t.regex(out[1], /; \d+ LayerNormalization ops spelled out in primitive ops/);
  const [a, b] = [new Uint8Array(await readFile(plain)), new Uint8Array(await readFile(spelled))];
  t.true((parseOnnxModel(a).opTypes.LayerNormalization ?? 0) > 0);
  t.false('LayerNormalization' in parseOnnxModel(b).opTypes);
  t.deepEqual(b, decomposeLayerNorm(a).bytes, 'the same rewrite build-engine applies');
  const feeds = inputs(5, Object.fromEntries(parseOnnxModel(a).inputs.map((i) => [i.name, i.shape])));
  const [ra, rb] = [await run(a, feeds), await run(b, feeds)];
  for (const name of Object.keys(ra)) t.true(maxAbsDiff(ra[name], rb[name]) <= 1e-5, name);
});
