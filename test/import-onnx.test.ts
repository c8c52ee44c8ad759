/**
 * `ct-edge import`: a pretrained tracker in ONNX becomes a TrackerNet checkpoint. VitTrack (unnamed
 * initializers, transposed Linear weights, a convolutional stem, LayerNorm spelled out with eps
 * 1e-5, a BatchNorm-folded head, BGR input) imported, then run in TensorFlow.js against
 * onnxruntime on real crops (proof 1) and exported and tracked on the real sequences (proof 2).
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { ModelProto } from '../ts/contract/onnx-schema.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import { CtEdgeError, Engine, openDataset, evaluate } from '../ts/index.js';
import { loadNative } from '../ts/deploy/native.js';
import { readImage } from '../ts/deploy/io/images.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { initBackend } from '../ts/train/model/backend.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { importTrackerModel, importTrackerOnnx } from '../ts/train/import-onnx.js';
import { buildTrackerOnnx, writeTrackerOnnx } from '../ts/train/export-onnx.js';
import { netConfig } from '../ts/train/model/config.js';
import { command as importCommand } from '../ts/cli/commands/import.js';
import { readCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { runCommand } from './helpers/cli.js';
import { hasSharedData, sequencesDir, sharedDataSkipReason, vitTrackOptions, vitTrackPath } from './helpers/data.js';

const real = hasSharedData ? test.serial : test.skip;
const skipNote = hasSharedData ? '' : ` (${sharedDataSkipReason})`;
const SEQUENCES = ['bag', 'couple', 'crossing', 'football1'];

real(`VitTrack imports by graph structure into a 3-block, width-48 TrackerNet with its stem, eps, folded head and BGR${skipNote}`, async (t) => {
  const { config, weights } = await importTrackerOnnx(vitTrackPath, vitTrackOptions);
  t.deepEqual(config, {
    dim: 48,
    depth: 3,
    heads: 1,
    mlpRatio: 4,
    patch: 16,
    templateSize: 128,
    searchSize: 256,
    headChannels: 32,
    templateFactor: 2,
    searchFactor: 4,
    stem: [6, 12, 24, 48],
    normEps: 1e-5,
    headNorm: 'none',
    channelOrder: 'bgr',
    boxMapping: 'opencv',
  });
  // The ONNX file holds the stem twice (template and search, 13,860 values each); TrackerNet shares one.
  const parameters = [...weights.values()].reduce((a, w) => a + w.data.length, 0);
  t.is(parameters, 173_953);
});

/** Crops of real frames as the tracker cuts them: template at box i, search at box i around frame i+k. */
async function realCrops(native = loadNative()): Promise<{ template: Float32Array; search: Float32Array }[]> {
  const norm = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channelOrder: 'bgr' as const };
  const crops: { template: Float32Array; search: Float32Array }[] = [];
  for (const name of SEQUENCES) {
    const sequence = await readOtbSequence(join(sequencesDir, name));
    for (const i of [0, Math.floor(sequence.framePaths.length / 2)]) {
      const box = sequence.groundTruth[i]!;
      const cut = (frame: Awaited<ReturnType<typeof readImage>>, factor: number, size: number) => {
        const side = Math.ceil(Math.sqrt(box.width * box.height) * factor);
        const out = new Float32Array(3 * size * size);
        native.cropToTensor(frame, { x0: Math.round(box.x + box.width / 2 - side / 2), y0: Math.round(box.y + box.height / 2 - side / 2), side }, size, out, norm);
        return out;
      };
      crops.push({ template: cut(await readImage(sequence.framePaths[i]), 2, 128), search: cut(await readImage(sequence.framePaths[i + 3]), 4, 256) });
    }
  }
  return crops;
}

real(`proof 1: the imported network in TensorFlow.js gives onnxruntime's three maps within 1e-4 on real crops${skipNote}`, async (t) => {
  await initBackend(['wasm', 'cpu']);
  const { config, weights } = await importTrackerOnnx(vitTrackPath, vitTrackOptions);
  const net = TrackerNet.fromWeights(config, weights, 'VitTrack');
  const session = await ort.InferenceSession.create(vitTrackPath, { intraOpNumThreads: 1 });
  try {
    let worst = 0;
    for (const { template, search } of await realCrops()) {
      const feeds = { template: new ort.Tensor('float32', template, [1, 3, 128, 128]), search: new ort.Tensor('float32', search, [1, 3, 256, 256]) };
      const reference = await session.run(feeds);
      const maps = tf.tidy(() => {
        const m = net.forward(tf.tensor4d(template, [1, 3, 128, 128]), tf.tensor4d(search, [1, 3, 256, 256]));
        return [m.score, m.size, m.offset].map((x) => x.dataSync() as Float32Array);
      });
      ['output1', 'output2', 'output3'].forEach((name, k) => {
        const expected = reference[name].data as Float32Array;
        t.is(maps[k].length, expected.length);
        for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(maps[k][i] - expected[i]));
      });
    }
    t.log(`max |TensorFlow.js - onnxruntime| over score, size and offset maps of ${SEQUENCES.length * 2} real crop pairs: ${worst.toExponential(2)}`);
    t.true(worst <= 1e-4, `max abs difference ${worst}`);
  } finally {
    await session.release();
    net.dispose();
  }
});

real(`proof 2: the exported import tracks the four sequences to VitTrack's success AUC within 0.005${skipNote}`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-import-'));
  try {
    const { config, weights } = await importTrackerOnnx(vitTrackPath, vitTrackOptions);
    const exported = join(dir, 'vittrack-imported.onnx');
    await writeTrackerOnnx(exported, config, weights);
    const original = await Engine.load(vitTrackPath, { ...vitTrackOptions, threads: 1 });
    const copy = await Engine.load(exported, { threads: 1 });
    t.deepEqual(copy.config.channelOrder, 'bgr');
    const dataset = await openDataset(sequencesDir, 'otb');
    const result = await evaluate([{ label: 'vittrack', engine: original }, { label: 'imported', engine: copy }], dataset);
    const [a, b] = result.models;
    t.log(`success AUC: VitTrack ${(100 * a.auc).toFixed(2)}, exported import ${(100 * b.auc).toFixed(2)}`);
    t.true(Math.abs(a.auc - b.auc) <= 0.005, `AUC ${a.auc} vs ${b.auc}`);
    await original.dispose();
    await copy.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a ct-edge export (q, k, v apart, scale folded into q, BatchNorm folded) imports back to a network that computes the same maps, one head and a narrower MLP and head included', async (t) => {
  await initBackend(['cpu']);
  for (const config of [netConfig('tiny', { depth: 2 }), netConfig('tiny', { depth: 2, heads: 1, mlpRatio: 1, headChannels: 16 })]) {
    const net = TrackerNet.random(config, 3);
    const imported = importTrackerModel(buildTrackerOnnx(config, net.weights()), {}, 'the export');
    const copy = TrackerNet.fromWeights(imported.config, imported.weights, 'the import');
    try {
      t.deepEqual(imported.config, { ...config, headNorm: 'none' });
      const [a, b] = [net, copy].map((n) =>
        tf.tidy(() => {
          const m = n.forward(tf.randomUniform([1, 3, 64, 64], -2, 2, 'float32', 5) as tf.Tensor4D, tf.randomUniform([1, 3, 128, 128], -2, 2, 'float32', 6) as tf.Tensor4D);
          return [m.score, m.size, m.offset].flatMap((x) => [...(x.dataSync() as Float32Array)]);
        }),
      );
      const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
      t.true(worst < 1e-5, `heads ${config.heads}, mlpRatio ${config.mlpRatio}, headChannels ${config.headChannels}: max abs difference ${worst}`);
    } finally {
      net.dispose();
      copy.dispose();
    }
  }
});

test('a graph that is not a tracker is refused with the node it could not place, and nothing half-mapped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-import-'));
  try {
    const config = netConfig('tiny', { depth: 1 });
    const net = TrackerNet.random(config, 1);
    const bytes = buildTrackerOnnx(config, net.weights());
    net.dispose();
    // Outputs named the wrong way round: the score tower must end in one channel.
    t.throws(() => importTrackerModel(bytes, { outputs: { score: 'offset_map', offset: 'score_map' } }, 'swapped'), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID', message: /^cannot import swapped: expected sigmoids on the score and size maps and raw offsets/ });
    // A graph whose GELU is gone: the walk names what it misses.
    const model = ModelProto.decode(bytes) as unknown as { graph: { node: { opType: string }[] } };
    for (const node of model.graph.node) if (node.opType === 'Erf') node.opType = 'Tanh';
    t.throws(() => importTrackerModel(ModelProto.encode(model as never).finish(), {}, 'tanh'), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID', message: /cannot import tanh: the MLP's GELU is not the exact \(Erf\) form/ });
    const junk = join(dir, 'junk.onnx');
    await writeFile(junk, 'not a model');
    await t.throwsAsync(importTrackerOnnx(junk), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID' });
    await t.throwsAsync(importTrackerOnnx(join(dir, 'missing.onnx')), { instanceOf: CtEdgeError, code: 'ERR_MODEL_NOT_FOUND' });
    const studentBytes = await readFile(join(import.meta.dirname, '..', 'models', 'student-2.onnx'));
    t.notThrows(() => importTrackerModel(studentBytes, {}, 'student-2'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

real(`ct-edge import writes a checkpoint that keeps VitTrack's options, and refuses bad arguments${skipNote}`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-import-'));
  try {
    const out = join(dir, 'vittrack.safetensors');
    const flags = ['--outputs', 'score=output1,size=output2,offset=output3', '--channel-order', 'bgr', '--box-mapping', 'opencv'];
    const { code, stdout } = await runCommand(importCommand, [vitTrackPath, ...flags, '-o', out]);
    t.is(code, 0);
    t.regex(stdout, /wrote .*vittrack\.safetensors: 3 blocks of width 48, 1 head\(s\), a 4-conv stem \(6->12->24->48\)/);
    const { config } = await readCheckpoint(out);
    t.like(config, { stem: [6, 12, 24, 48], channelOrder: 'bgr', boxMapping: 'opencv', headNorm: 'none', normEps: 1e-5 });
    await t.throwsAsync(runCommand(importCommand, [vitTrackPath]), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /-o FILE/ });
    await t.throwsAsync(runCommand(importCommand, ['-o', out]), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /one ONNX model, got none/ });
    // Without the output names, VitTrack's outputs are not found: the error names the option.
    await t.throwsAsync(runCommand(importCommand, [vitTrackPath, '-o', out]), { instanceOf: CtEdgeError, code: 'ERR_MODEL_IO', message: /--outputs/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a damaged graph is a typed error that names the tensor: a cut initializer, a dangling input, a bad shape, a Gemm without bias or transposing', async (t) => {
  const bytes = await readFile(join(import.meta.dirname, '..', 'models', 'student-2.onnx'));
  type Graph = { graph: { node: { input: string[]; name: string }[]; initializer: { name: string; dims: number[]; rawData: Uint8Array }[] } };
  const damaged = (change: (m: Graph) => string) => {
    const model = ModelProto.decode(bytes) as unknown as Graph;
    const name = change(model);
    return { bytes: ModelProto.encode(model as never).finish(), name };
  };
  // raw_data cut short (was: RangeError: Invalid typed array length, from building the array first)
  const cut = damaged((m) => {
    const w = m.graph.initializer.find((i) => i.dims.length === 2)!;
    w.rawData = w.rawData.subarray(0, w.rawData.length - 8);
    return w.name;
  });
  const e1 = t.throws(() => importTrackerModel(cut.bytes, {}, 'cut'), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID' });
  t.regex(e1!.message, new RegExp(`constant '${cut.name.replace(/[.]/g, '\\.')}' holds \\d+ bytes, but its shape \\[\\d+,\\d+\\] needs \\d+; the file is damaged`));
  // a node that reads a tensor nothing makes
  const dangling = damaged((m) => {
    const node = m.graph.node.find((n) => n.input.length >= 2)!;
    node.input[1] = 'nowhere';
    return node.name;
  });
  t.throws(() => importTrackerModel(dangling.bytes, {}, 'dangling'), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID', message: new RegExp(`tensor 'nowhere' is read but no input, initializer or node makes it at node '${dangling.name}'`) });
  // a weight of the wrong shape for its node (one output channel of a linear layer less, its bytes to match)
  const shrunk = damaged((m) => {
    const w = m.graph.initializer.find((i) => i.dims.length === 2 && i.dims[1] > 1)!;
    w.dims = [w.dims[0], w.dims[1] - 1];
    w.rawData = w.rawData.subarray(0, w.dims[0] * w.dims[1] * 4);
    return w.name;
  });
  t.throws(() => importTrackerModel(shrunk.bytes, {}, 'shrunk'), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID', message: /cannot import shrunk: bias of 32 for a linear layer of 31 at node 'blocks\.0\.attn\.q/ });
  // a linear layer's Gemm that transposes its weight: not read as [in, out]
  const transposing = damaged((m) => {
    const gemm = (m.graph.node as { opType?: string; name: string; attribute?: unknown[] }[]).find((n) => n.opType === 'Gemm')!;
    gemm.attribute = [{ name: 'transB', type: 2, i: 1 }];
    return gemm.name;
  });
  // a linear layer's Gemm without its bias
  const unbiased = damaged((m) => {
    const gemm = (m.graph.node as { opType?: string; name: string; input: string[] }[]).find((n) => n.opType === 'Gemm')!;
    gemm.input = gemm.input.slice(0, 2);
    return gemm.name;
  });
  t.throws(() => importTrackerModel(unbiased.bytes, {}, 'unbiased'), {
    instanceOf: CtEdgeError,
    code: 'ERR_MODEL_INVALID',
    message: new RegExp(`expected a Gemm with a constant bias at node '${unbiased.name.replace(/[.]/g, '\\.')}'`),
  });
  t.throws(() => importTrackerModel(transposing.bytes, {}, 'transposing'), {
    instanceOf: CtEdgeError,
    code: 'ERR_MODEL_INVALID',
    message: new RegExp(`a Gemm that transposes or scales is not read as a linear layer .* at node '${transposing.name.replace(/[.]/g, '\\.')}'`),
  });
});
