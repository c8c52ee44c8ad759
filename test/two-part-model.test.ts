/**
 * Models in two parts (asymmetric attention, docs/MODEL_FORMAT.md): the template part runs once per
 * init() on the engine's thread and its outputs stay bound; the per-frame part gives the maps of
 * the one-graph export within 1e-5, tracking gives the same boxes, and a broken pair is a typed
 * error at load that names both files.
 */
import test from 'ava';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Engine, Tracker, CtEdgeError } from '../ts/index.js';
import { netConfig } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { initBackend } from '../ts/train/model/backend.js';
import { buildTrackerOnnx, templateCacheTensors, templatePartPath, writeTrackerOnnx } from '../ts/train/export-onnx.js';
import { buildEngine } from '../ts/deploy/tensorrt.js';
import { shippedVideoFrames } from './helpers/frames.js';
import { runCommand } from './helpers/cli.js';
import { command as exportCommand } from '../ts/cli/commands/export.js';

const config = netConfig('tiny', { depth: 2, attention: 'asymmetric' });
const dir = mkdtemp(join(tmpdir(), 'ct-two-part-'));

const frames = shippedVideoFrames(12);

const models = (async () => {
  await initBackend(['wasm', 'cpu']);
  const net = TrackerNet.random(config, 11);
  const weights = net.weights();
  net.dispose();
  const d = await dir;
  const whole = join(d, 'whole.onnx');
  await writeTrackerOnnx(whole, config, weights);
  const written = await writeTrackerOnnx(join(d, 'split.onnx'), config, weights, { twoPart: true });
  return { whole, split: written[0], template: written[1], weights };
})();

test.after.always(async () => {
  await rm(await dir, { recursive: true, force: true });
});

test('the two parts compute the one-graph maps within 1e-5 on real crops', async (t) => {
  const { whole, split, template } = await models;
  const engine = await Engine.load(whole, { threads: 1 });
  const tracker = new Tracker(engine);
  const [first, later] = [(await frames)[0], (await frames)[8]];
  tracker.init(first, { x: 120, y: 90, width: 60, height: 50 });
  await tracker.track(later);
  const crops = { template: tracker.inputs.template.slice(), search: tracker.inputs.search.slice() };
  await tracker.track(later); // a second track() copies its crop back into inputs
  crops.search = tracker.inputs.search.slice();
  tracker.dispose();
  await engine.dispose();

  const s = { whole: await ort.InferenceSession.create(whole), frame: await ort.InferenceSession.create(split), template: await ort.InferenceSession.create(template) };
  const image = (data: Float32Array, side: number) => new ort.Tensor('float32', data, [1, 3, side, side]);
  const expected = await s.whole.run({ template: image(crops.template, config.templateSize), search: image(crops.search, config.searchSize) });
  const cached = await s.template.run({ template: image(crops.template, config.templateSize) });
  t.deepEqual(Object.keys(cached).sort(), templateCacheTensors(config).map((c) => c.name).sort());
  t.deepEqual([...s.frame.inputNames].sort(), ['search', ...templateCacheTensors(config).map((c) => c.name)].sort(), 'no template input per frame');
  const got = await s.frame.run({ search: image(crops.search, config.searchSize), ...cached });
  for (const name of ['score_map', 'size_map', 'offset_map']) {
    const [a, b] = [expected[name].data as Float32Array, got[name].data as Float32Array];
    const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    t.true(worst < 1e-5, `${name}: largest difference ${worst}`);
  }
});

test('a Tracker on the two-part model follows the one-graph model box for box, through re-initialisation', async (t) => {
  const { whole, split } = await models;
  const engines = [await Engine.load(whole, { threads: 1 }), await Engine.load(split, { threads: 1 })];
  t.is(engines[1].config.templateSize, config.templateSize, 'the template size comes from the template part');
  const trackers = engines.map((e) => new Tracker(e));
  const video = await frames;
  const boxes: string[][] = [[], []];
  const starts = [{ x: 120, y: 90, width: 60, height: 50 }, { x: 30, y: 40, width: 40, height: 70 }];
  for (const [k, tracker] of trackers.entries()) {
    for (const start of starts) {
      tracker.init(video[0], start); // the second init replaces the cached template
      for (const frame of video.slice(1)) {
        const r = await tracker.track(frame);
        boxes[k].push([r.box.x, r.box.y, r.box.width, r.box.height].map((v) => v.toFixed(3)).join(','));
      }
    }
  }
  t.deepEqual(boxes[1], boxes[0]);
  t.notDeepEqual(boxes[0].slice(0, 11), boxes[0].slice(11), 'the two starts really track differently');
  trackers.forEach((tr) => tr.dispose());
  await Promise.all(engines.map((e) => e.dispose()));
});

test('a broken pair is a typed error at load that names both files', async (t) => {
  const { split, template, weights } = await models;
  const d = await dir;
  // the per-frame part without its template part
  await mkdir(join(d, 'alone'));
  const alone = join(d, 'alone', 'split.onnx');
  await copyFile(split, alone);
  const missing = await t.throwsAsync(Engine.load(alone), { instanceOf: CtEdgeError, code: 'ERR_MODEL_NOT_FOUND' });
  t.true(missing!.message.includes(alone) && missing!.message.includes('split.template.onnx'), missing!.message);
  // the template part loaded as a model
  await t.throwsAsync(Engine.load(template), { instanceOf: CtEdgeError, code: 'ERR_MODEL_IO', message: /template part of a two-part model; load its per-frame part/ });
  // a template part of another network (one block less) beside a per-frame part
  const mixed = join(d, 'mixed.onnx');
  await copyFile(split, mixed);
  const shallow = netConfig('tiny', { depth: 1, attention: 'asymmetric' });
  const shallowWeights = new Map([...weights].filter(([name]) => !name.startsWith('blocks.1.')));
  await writeFile(join(d, 'split-copy.onnx'), buildTrackerOnnx(shallow, shallowWeights, 'template'));
  await writeFile(mixed, buildTrackerOnnx(config, weights, 'frame', 'split-copy.onnx'));
  const mismatch = await t.throwsAsync(Engine.load(mixed), { instanceOf: CtEdgeError, code: 'ERR_MODEL_IO' });
  t.regex(mismatch!.message, /mixed\.onnx and its template part .*split-copy\.onnx do not fit together: the per-frame part reads 'template_k_1'/);
  // a template part named outside the model's folder
  const escaping = join(d, 'escaping.onnx');
  await writeFile(escaping, buildTrackerOnnx(config, weights, 'frame', '../elsewhere.onnx'));
  await t.throwsAsync(Engine.load(escaping), { instanceOf: CtEdgeError, code: 'ERR_MODEL_INVALID', message: /not a file name beside it/ });
  // a joint network has no parts
  t.throws(() => buildTrackerOnnx(netConfig('tiny', { depth: 1 }), shallowWeights, 'template'), { instanceOf: CtEdgeError, message: /only a network with asymmetric attention/ });
  // TensorRT builds both parts from the per-frame part: the template part alone, or a batch of
  // them, is refused before any GPU work
  await t.throwsAsync(buildEngine({ onnx: template }), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /template part of a two-part model; build its per-frame part/ });
  await t.throwsAsync(buildEngine({ onnx: split, maxBatch: 4 }), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /two-part model.*ct-edge export --single-graph/ });
  await t.throwsAsync(buildEngine({ onnx: alone }), { instanceOf: CtEdgeError, code: 'ERR_MODEL_NOT_FOUND', message: /template part .* is missing/ });
});

test('ct-edge export writes both parts of an asymmetric student, or one graph with --single-graph', async (t) => {
  const { weights } = await models;
  const d = await dir;
  const { writeCheckpoint } = await import('../ts/train/checkpoint/checkpoint.js');
  const checkpoint = join(d, 'asym.safetensors');
  await writeCheckpoint(checkpoint, { config, weights });
  const two = await runCommand(exportCommand, [checkpoint, '-o', join(d, 'cli.onnx')]);
  t.is(two.code, 0);
  t.regex(two.stdout, /cli\.onnx .* and .*cli\.template\.onnx .*asymmetric/);
  const engine = await Engine.load(join(d, 'cli.onnx'));
  await engine.dispose();
  const one = await runCommand(exportCommand, [checkpoint, '--single-graph', '-o', join(d, 'one.onnx')]);
  t.is(one.code, 0);
  const session = await ort.InferenceSession.create(join(d, 'one.onnx'));
  t.deepEqual([...session.inputNames].sort(), ['search', 'template']);
  t.is(templatePartPath('x/model.onnx'), 'x/model.template.onnx');
});
