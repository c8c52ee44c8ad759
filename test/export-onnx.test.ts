/**
 * ONNX export of the tiny preset: onnxruntime agrees with the TensorFlow.js forward pass, the file
 * uses only TensorRT-parsable ops, carries the runtime's metadata, and runs in the Tracker with no
 * options. Also the export and inspect commands. onnx.checker (full check) runs outside the tests,
 * in tools/check-onnx.sh: it needs Python's onnx package.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { command as exportCommand } from '../ts/cli/commands/export.js';
import { command as inspectCommand } from '../ts/cli/commands/inspect.js';
import { writeCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { writeSafetensors } from '../ts/train/checkpoint/safetensors.js';
import { Engine, Tracker } from '../ts/index.js';
import { initBackend } from '../ts/train/model/backend.js';
import { geometry, netConfig, runtimeConfig } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { readOnnxModel } from '../ts/contract/onnx-reader.js';
import { CtEdgeError } from '../ts/contract/errors.js';
import { NETWORK_METADATA_KEY } from '../ts/contract/model-config.js';
import { squareFrame } from './helpers/frames.js';

const config = netConfig('tiny');
const { featureSize: f } = geometry(config);
const TENSORRT_OPS = new Set(['Conv', 'MatMul', 'Gemm', 'Add', 'Mul', 'Div', 'Reshape', 'Transpose', 'Softmax', 'LayerNormalization', 'Erf', 'Sigmoid', 'Clip', 'Concat', 'Slice', 'Relu']);

let dir: string;
let onnxPath: string;
let net: TrackerNet;

/** Runs a CLI command and returns what it printed. */
async function runCli(command: typeof exportCommand, argv: string[]): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(' '));
  try {
    await command.run(argv);
  } finally {
    console.log = log;
  }
  return lines.join('\n');
}

test.before(async () => {
  await initBackend(['wasm']);
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-export-'));
  net = TrackerNet.random(config, 1);
  // Weights well away from initialisation, and non-trivial BatchNorm statistics, so that every
  // output varies across the map and the folded BatchNorm is really tested.
  let seed = 100;
  for (const [name, v] of net.variables) {
    const fanIn = v.shape.slice(1).reduce((a, b) => a * b, 1);
    const value = name.endsWith('running_var')
      ? tf.randomUniform(v.shape, 0.5, 2, 'float32', seed++)
      : /(norm\d?|\.1)\.weight$/.test(name)
        ? tf.randomUniform(v.shape, 0.5, 1.5, 'float32', seed++)
        : tf.randomNormal(v.shape, 0, v.rank > 1 ? 1 / Math.sqrt(fanIn) : 0.3, 'float32', seed++);
    v.assign(value);
    value.dispose();
  }
  const checkpoint = join(dir, 'tiny.safetensors');
  await writeCheckpoint(checkpoint, { config, weights: net.weights() });
  onnxPath = join(dir, 'tiny.onnx');
  await runCli(exportCommand, [checkpoint, '-o', onnxPath]);
});

test.after.always(async () => {
  net?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('onnxruntime matches the TensorFlow.js forward pass within 1e-4, a batch of 3 crop pairs in one run', async (t) => {
  const session = await ort.InferenceSession.create(onnxPath);
  for (const seed of [1, 2]) {
    const template = tf.randomNormal([3, 3, config.templateSize, config.templateSize], 0, 1, 'float32', seed) as tf.Tensor4D;
    const search = tf.randomNormal([3, 3, config.searchSize, config.searchSize], 0, 1, 'float32', seed + 10) as tf.Tensor4D;
    const expected = tf.tidy(() => {
      const out = net.forward(template, search);
      return { score_map: out.score.dataSync(), size_map: out.size.dataSync(), offset_map: out.offset.dataSync() };
    });
    const got = await session.run({
      template: new ort.Tensor('float32', template.dataSync() as Float32Array, template.shape),
      search: new ort.Tensor('float32', search.dataSync() as Float32Array, search.shape),
    });
    for (const [name, channels] of [['score_map', 1], ['size_map', 2], ['offset_map', 2]] as const) {
      t.deepEqual(got[name].dims, [3, channels, f, f]);
      const a = got[name].data as Float32Array;
      const b = expected[name];
      let maxAbs = 0;
      for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
      t.true(maxAbs <= 1e-4, `${name}: max abs difference ${maxAbs}`);
      t.true(Math.max(...b) - Math.min(...b) > 1e-2, `${name} should vary across the map`);
    }
    tf.dispose([template, search]);
  }
  await session.release();
});

test('static I/O but for a symbolic batch, opset 17, TensorRT-parsable ops and the runtime metadata', async (t) => {
  const info = await readOnnxModel(onnxPath);
  t.is(info.irVersion, 8);
  t.deepEqual(info.opsets, [{ domain: '', version: 17 }]);
  t.deepEqual(info.inputs, [
    { name: 'template', elemType: 1, shape: ['batch', 3, 64, 64] },
    { name: 'search', elemType: 1, shape: ['batch', 3, 128, 128] },
  ]);
  t.deepEqual(info.outputs, [
    { name: 'score_map', elemType: 1, shape: ['batch', 1, f, f] },
    { name: 'size_map', elemType: 1, shape: ['batch', 2, f, f] },
    { name: 'offset_map', elemType: 1, shape: ['batch', 2, f, f] },
  ]);
  t.deepEqual(Object.keys(info.opTypes).filter((op) => !TENSORRT_OPS.has(op)), []);
  t.is(info.opTypes.LayerNormalization, 2 * config.depth + 1);
  t.false('BatchNormalization' in info.opTypes, 'BatchNorm is folded');
  t.is(info.opTypes.Conv, 2 + 3 * 5);
  // written out by hand (the tiny preset: 64/128 px crops, 8x8 map, OSTrack's conventions), not from the functions that write them
  t.like(info.metadata, {
    'ct_edge.inputs': 'template=template,search=search',
    'ct_edge.outputs': 'score=score_map,size=size_map,offset=offset_map',
    'ct_edge.template_size': '64',
    'ct_edge.search_size': '128',
    'ct_edge.feature_size': '8',
    'ct_edge.template_factor': '2',
    'ct_edge.search_factor': '4',
    'ct_edge.mean': '0.485,0.456,0.406',
    'ct_edge.std': '0.229,0.224,0.225',
    'ct_edge.channel_order': 'rgb',
    'ct_edge.box_mapping': 'ostrack',
    'ct_edge.lost_threshold': '0.2',
  });
  t.deepEqual(JSON.parse(info.metadata[NETWORK_METADATA_KEY]), config);
});

test('the exported model runs in the Tracker with no options', async (t) => {
  const engine = await Engine.load(onnxPath);
  t.deepEqual(engine.config, runtimeConfig(config));
  await using tracker = new Tracker(engine);
  tracker.init(squareFrame(320, 240, 140, 100, 40), { x: 140, y: 100, width: 40, height: 40 });
  for (let i = 0; i < 3; i++) {
    const r = await tracker.track(squareFrame(320, 240, 142 + 2 * i, 101 + i, 40));
    t.is(r.frameIndex, i);
    t.true([r.box.x, r.box.y, r.box.width, r.box.height, r.score].every(Number.isFinite));
    t.true(r.box.x >= 0 && r.box.y >= 0 && r.box.x + r.box.width <= 320 && r.box.y + r.box.height <= 240);
  }
  await engine.dispose();
});

test('inspect prints I/O, opset, metadata and ops; --json gives the same as data', async (t) => {
  const text = await runCli(inspectCommand, [onnxPath]);
  t.regex(text, /IR version 8, opsets ai\.onnx 17/);
  t.regex(text, /template {2}float32 \[batch, 3, 64, 64\]/);
  t.regex(text, /score_map {2}float32 \[batch, 1, 8, 8\]/);
  t.regex(text, /ct_edge\.search_size = 128/);
  t.regex(text, /LayerNormalization +13/);
  const json = JSON.parse(await runCli(inspectCommand, [onnxPath, '--json'])) as Awaited<ReturnType<typeof readOnnxModel>>;
  t.like(json, { irVersion: 8, opsets: [{ domain: '', version: 17 }] });
  t.deepEqual(json.inputs, [
    { name: 'template', elemType: 1, shape: ['batch', 3, 64, 64] },
    { name: 'search', elemType: 1, shape: ['batch', 3, 128, 128] },
  ]);
  t.deepEqual(json.outputs.map((o) => [o.name, o.shape.join('x')]), [['score_map', 'batchx1x8x8'], ['size_map', 'batchx2x8x8'], ['offset_map', 'batchx2x8x8']]);
  t.is(json.metadata['ct_edge.search_size'], '128');
  t.is(json.opTypes.LayerNormalization, 13);
});

test('the commands reject bad input with clear errors', async (t) => {
  await t.throwsAsync(exportCommand.run([]), { instanceOf: CtEdgeError, message: /export takes one checkpoint file, got none/ });
  await t.throwsAsync(exportCommand.run([join(dir, 'absent.safetensors')]), { instanceOf: CtEdgeError, message: /cannot read checkpoint/ });
  await t.throwsAsync(exportCommand.run([onnxPath, '--preset', 'huge']), { instanceOf: CtEdgeError, message: /unknown preset 'huge'/ });
  const bare = join(dir, 'bare.safetensors');
  await writeSafetensors(bare, net.weights()); // weights only, as converted from PyTorch
  await t.throwsAsync(exportCommand.run([bare]), { instanceOf: CtEdgeError, message: /--preset/ });
  await t.throwsAsync(exportCommand.run([bare, '--preset', 'small']), { instanceOf: CtEdgeError, message: /tensor 'patch_embed.proj.weight' has shape \[32,3,16,16\], the model needs \[96,3,16,16\]/ });
  t.regex(await runCli(exportCommand, [bare, '--preset', 'tiny']), /wrote .*bare\.onnx/);
  await t.throwsAsync(inspectCommand.run([join(dir, 'absent.onnx')]), { instanceOf: CtEdgeError, message: /model file not found/ });
  await t.throwsAsync(inspectCommand.run([bare]), { instanceOf: CtEdgeError, message: /bare\.safetensors is a training checkpoint \(safetensors\), not an ONNX model; export it with `ct-edge export/ });
  await t.throwsAsync(inspectCommand.run(['--bogus']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
});
