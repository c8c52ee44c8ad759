/**
 * The engine metadata file (`<engine>.json`), now read and written by TypeScript
 * (ts/deploy/tensorrt.ts) instead of a hand-written C++ JSON reader: fuzzed with every truncation of
 * a real file, thousands of seeded random mutations and hand-made hostile files. Whatever the input,
 * the reader returns a fully checked object or throws ERR_ENGINE_METADATA: no other error, no
 * crash, no prototype pollution.
 */
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CtEdgeError } from '../ts/contract/errors.js';
import { ENGINE_METADATA_FORMAT, parseEngineMetadata, readEngineMetadata, type TrtEngineMetadata } from '../ts/deploy/tensorrt.js';

const valid: TrtEngineMetadata = {
  formatVersion: ENGINE_METADATA_FORMAT,
  tensorrtVersion: '8.5.2',
  gpu: { name: 'Xavier "AGX" \\ nvgpu', computeCapability: '7.2' },
  precision: 'fp16',
  tf32: false,
  keepFp32: ['layernorm', 'softmax', 'name:attn'],
  fp32Layers: 13,
  obeyPrecision: false,
  dlaCore: 0,
  optLevel: -1,
  maxBatch: 1,
  layerNormDecomposed: true,
  onnx: { path: '/models/student.onnx', sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  builtAt: '2026-01-01T00:00:00Z',
  tensors: [
    { name: 'template', io: 'input', dtype: 'float32', shape: [1, 3, 128, 128] },
    { name: 'score_map', io: 'output', dtype: 'float16', shape: [1, 1, 16, 16] },
  ],
  modelMetadata: { 'ct_edge.channel_order': 'bgr' },
};
const text = `${JSON.stringify(valid, null, 2)}\n`;

/** Parses, and if that succeeds checks the result is well typed; any error must be ERR_ENGINE_METADATA. */
function parseOrRefuse(input: string): 'ok' | 'refused' {
  let m: TrtEngineMetadata;
  try {
    m = parseEngineMetadata(input, 'fuzz.engine.json');
  } catch (error) {
    if (!(error instanceof CtEdgeError) || error.code !== 'ERR_ENGINE_METADATA') throw new Error(`unexpected ${String(error)} for ${JSON.stringify(input).slice(0, 200)}`);
    if (!/rebuild the engine with ct-edge build-engine/.test(error.message)) throw new Error(`message without the way out: ${error.message}`);
    return 'refused';
  }
  const ok =
    /^\d+\.\d+\.\d+$/.test(m.tensorrtVersion) && /^\d+\.\d+$/.test(m.gpu.computeCapability) && typeof m.gpu.name === 'string' &&
    ['fp16', 'fp32', 'strongly-typed'].includes(m.precision) && typeof m.tf32 === 'boolean' && Number.isInteger(m.dlaCore) && m.dlaCore >= -1 &&
    m.keepFp32.every((k) => typeof k === 'string') && m.tensors.every((t) => typeof t.name === 'string' && t.shape.every(Number.isInteger));
  if (!ok) throw new Error(`accepted a badly typed file: ${JSON.stringify(m).slice(0, 300)}`);
  return 'ok';
}

test('a file written for an engine reads back as written', (t) => {
  t.deepEqual(parseEngineMetadata(text, 'x.json'), valid);
});

test('every truncation of a real file is refused (or, cut after the closing brace, read whole)', (t) => {
  const results = { ok: 0, refused: 0 };
  for (let n = 0; n < text.length; n++) results[parseOrRefuse(text.slice(0, n))] += 1;
  t.is(results.ok, 1, 'only the cut that drops the final newline is still the whole object');
  t.is(results.refused, text.length - 1);
});

test('5000 seeded random mutations: read and checked, or ERR_ENGINE_METADATA', (t) => {
  let s = 12345;
  const rand = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n);
  const pieces = ['"', '{', '}', '[', ']', ',', ':', '-1', '1e309', 'null', 'true', '"x"', '\u0000', '\\', '\ud800', '9'.repeat(30), '__proto__', ' '];
  const results = { ok: 0, refused: 0 };
  for (let i = 0; i < 5000; i++) {
    let m = text;
    for (let k = 1 + rand(3); k > 0; k--) {
      const at = rand(m.length);
      const op = rand(3);
      if (op === 0) m = m.slice(0, at) + m.slice(at + 1 + rand(8));
      else if (op === 1) m = m.slice(0, at) + pieces[rand(pieces.length)] + m.slice(at);
      else m = m.slice(0, at) + String.fromCharCode(rand(128)) + m.slice(at + 1);
    }
    results[parseOrRefuse(m)] += 1;
  }
  t.log(`read ${results.ok}, refused ${results.refused}`);
  t.true(results.ok > 0 && results.refused > 0);
});

test('hostile files are refused, and none pollutes Object.prototype', (t) => {
  const withField = (patch: Record<string, unknown>) => JSON.stringify({ ...valid, ...patch });
  const hostile: [string, string, RegExp][] = [
    ['empty', '', /not valid JSON/],
    ['an array', '[]', /not a JSON object/],
    ['null', 'null', /not a JSON object/],
    ['a string', '"metadata"', /not a JSON object/],
    ['no tensorrtVersion', withField({ tensorrtVersion: undefined }), /tensorrtVersion missing/],
    ['a version with a shell command', withField({ tensorrtVersion: '10.3.0; rm -rf /' }), /tensorrtVersion/],
    ['a version with a newline', withField({ tensorrtVersion: '10.3.0\n' }), /tensorrtVersion/],
    ['a numeric version', withField({ tensorrtVersion: 10.3 }), /tensorrtVersion/],
    ['no gpu', withField({ gpu: 'Orin' }), /no gpu object/],
    ['a compute capability that is no number', withField({ gpu: { name: 'x', computeCapability: 'eight' } }), /computeCapability/],
    ['an unknown precision', withField({ precision: 'int4' }), /precision/],
    ['a fractional DLA core', withField({ dlaCore: 1.5 }), /dlaCore/],
    ['a batch of 0', withField({ maxBatch: 0 }), /maxBatch 0, not a batch from 1 to 64/],
    ['a template engine that is no name', withField({ templateEngine: 7 }), /templateEngine 7, not a file name/],
    ['a template engine sha256 that is not one', withField({ templateEngineSha256: 'abc' }), /templateEngineSha256 "abc", not a sha256/],
    ['a part other than the template', withField({ part: 'frame' }), /part "frame", not 'template'/],
    ['a batch beyond the crop kernel', withField({ maxBatch: 65 }), /maxBatch 65/],
    ['an infinite layer count', text.replace('"fp32Layers": 13', '"fp32Layers": 1e309'), /fp32Layers/],
    ['tf32 as a string', withField({ tf32: 'false' }), /tf32/],
    ['keepFp32 with a number', withField({ keepFp32: ['layernorm', 7] }), /keepFp32/],
    ['a tensor without a shape', withField({ tensors: [{ name: 't', io: 'input', dtype: 'float32' }] }), /tensors\[0\]\.shape/],
    ['a shape of 100 dimensions', withField({ tensors: [{ name: 't', io: 'input', dtype: 'float32', shape: Array(100).fill(1) }] }), /tensors\[0\]\.shape/],
    ['a tensor that is neither input nor output', withField({ tensors: [{ name: 't', io: 'both', dtype: 'float32', shape: [1] }] }), /tensors\[0\]\.io/],
    ['100000 tensors', withField({ tensors: Array(100000).fill({ name: 't', io: 'input', dtype: 'float32', shape: [1] }) }), /too large|array of tensors/],
    ['a bad sha256', withField({ onnx: { path: 'm.onnx', sha256: 'zz' } }), /sha256/],
    ['model metadata that is not strings', withField({ modelMetadata: { 'ct_edge.lost_threshold': 0.3 } }), /modelMetadata/],
    ['a newer format', withField({ formatVersion: ENGINE_METADATA_FORMAT + 1 }), /newer ct-edge/],
    ['deep nesting', `{"gpu": ${'['.repeat(200000)}${']'.repeat(200000)}}`, /too large|no gpu object|not valid JSON/],
    ['two megabytes of spaces', `${' '.repeat(2 << 20)}{}`, /too large/],
  ];
  for (const [what, input, message] of hostile) {
    t.throws(() => parseEngineMetadata(input, 'h.json'), { instanceOf: CtEdgeError, code: 'ERR_ENGINE_METADATA', message }, what);
  }
  const polluting = `{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, ${text.slice(text.indexOf('{') + 1)}`;
  const parsed = parseEngineMetadata(polluting, 'p.json');
  t.is(parsed.tensorrtVersion, '8.5.2');
  t.is(({} as Record<string, unknown>).polluted, undefined);
  const protoModel = parseEngineMetadata(JSON.stringify({ ...valid, modelMetadata: JSON.parse('{"__proto__": "x", "ct_edge.channel_order": "rgb"}') }), 'q.json');
  t.is(protoModel.modelMetadata!['ct_edge.channel_order'], 'rgb');
  t.is(({} as Record<string, unknown>).polluted, undefined);
});

test('files written by the C++ writer of earlier versions (format 1) still read, with TF32 as TensorRT defaulted', (t) => {
  const v1 = {
    formatVersion: 1, tensorrtVersion: '10.3.0', gpu: { name: 'Orin (nvgpu)', computeCapability: '8.7' }, precision: 'fp32', keepFp32: [], fp32Layers: 0,
    onnx: { path: 'student.onnx', sha256: valid.onnx.sha256 }, builtAt: '2026-01-01T00:00:00Z', tensors: valid.tensors,
  };
  t.like(parseEngineMetadata(JSON.stringify(v1), 'v1.json'), { formatVersion: 1, precision: 'fp32', tf32: true, dlaCore: -1, maxBatch: 1, layerNormDecomposed: false });
});

test('readEngineMetadata: none is null; a directory or an oversized file is ERR_ENGINE_METADATA', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-trt-meta-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.is(await readEngineMetadata(join(dir, 'none.engine')), null);
  await mkdir(join(dir, 'dir.engine.json'));
  await t.throwsAsync(readEngineMetadata(join(dir, 'dir.engine')), { instanceOf: CtEdgeError, code: 'ERR_ENGINE_METADATA', message: /not a file/ });
  await writeFile(join(dir, 'big.engine.json'), Buffer.alloc(3 << 20, 0x20));
  await t.throwsAsync(readEngineMetadata(join(dir, 'big.engine')), { instanceOf: CtEdgeError, code: 'ERR_ENGINE_METADATA', message: /too large/ });
  await writeFile(join(dir, 'ok.engine.json'), text);
  t.deepEqual(await readEngineMetadata(join(dir, 'ok.engine')), valid);
});
