/**
 * A two-part model (the template computed once) on TensorRT, the TypeScript side, against a fake
 * `exports.tensorrt`: build-engine builds the template part's engine first and names it in the
 * per-frame engine's metadata (in an FP16 build the template engine's outputs are FP16, as the
 * per-frame engine reads them); Engine.load loads both, checks that they fit (names, shapes, types)
 * and hands the template engine to every TrtTracker; each broken pair is a typed error naming both
 * files. The native tracker that runs the template engine at init is compile-checked only (no GPU).
 */
import test from 'ava';
import { copyFile, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { command as buildEngineCommand } from '../ts/cli/commands/build-engine.js';
import { CtEdgeError, Engine, Tracker } from '../ts/index.js';
import { overrideNative, type TensorRtBinding, type TrtBuildOptions, type TrtEngine, type TrtTensorInfo, type TrtTrackerConfig } from '../ts/deploy/native.js';
import type { TrtEngineMetadata } from '../ts/deploy/tensorrt.js';
import { parseOnnxModel } from '../ts/contract/onnx-reader.js';
import { shippedVideoFrames } from './helpers/frames.js';
import { repoRoot } from './helpers/data.js';
import { installFakeTensorRt } from './helpers/tensorrt.js';
import { runCommand } from './helpers/cli.js';

const models = join(repoRoot, 'models');

/** The engine's tensors as the native builder makes them from an ONNX file: batch -1, FP16 inputs (and a template part's outputs) in an FP16 build. */
async function builtTensors(onnx: string, fp16: boolean, templatePart: boolean): Promise<TrtTensorInfo[]> {
  const model = parseOnnxModel(await readFile(onnx));
  const tensor = (io: 'input' | 'output', half: boolean) => (t: { name: string; shape: (number | string)[] }) => ({
    name: t.name,
    io,
    dtype: half ? 'float16' : 'float32',
    shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)),
  });
  return [...model.inputs.map(tensor('input', fp16)), ...model.outputs.map(tensor('output', fp16 && templatePart))];
}

function fakeTensorRt() {
  const built: TrtBuildOptions[] = [];
  const engines = new Map<string, TrtTensorInfo[]>();
  const trackers: { config: TrtTrackerConfig; template: string | undefined }[] = [];
  const binding: TensorRtBinding = {
    version: '10.3.0',
    compiledVersion: '10.3.0',
    async loadEngine(path) {
      const tensors = engines.get(path);
      if (!tensors) throw Object.assign(new Error(`no engine ${path}`), { code: 'ERR_ENGINE_MISMATCH' });
      return { path, tensors, maxBatch: 1, dispose: () => undefined };
    },
    async buildEngine(options) {
      built.push(options);
      const tensors = await builtTensors(options.onnx, options.fp16 !== false, options.templatePart === true);
      engines.set(options.output, tensors);
      await writeFile(options.output, 'engine');
      return {
        enginePath: options.output, tensorrtVersion: '10.3.0', gpu: { name: 'Orin (nvgpu)', computeCapability: '8.7' }, precision: options.fp16 === false ? 'fp32' : 'fp16',
        tf32: false, dlaCore: -1, optLevel: -1, maxBatch: 1, fp32Layers: 0, keptLayers: [], layerInformation: '', tensors, fastFp16: true,
        timingCacheLoaded: false, timingCacheSaved: false, warnings: [], seconds: 1,
      };
    },
    // The tracker the addon makes: records the template engine it was handed.
    TrtTracker: class {
      constructor(_engine: TrtEngine, config: TrtTrackerConfig, template?: TrtEngine) {
        trackers.push({ config, template: template?.path });
      }
      init() {}
      async track() {
        return { x: 1, y: 2, width: 3, height: 4, score: 0.9, rawScore: 0.9, peakX: 0, peakY: 0, lost: false, timings: { stageMs: 0, preprocessMs: 0, inferMs: 1, postprocessMs: 0 } };
      }
      takeWarnings = () => [];
      cudaGraphActive = () => false;
      dispose = () => undefined;
    },
    TrtGroup: class {
      constructor() {
        throw new Error('a two-part model runs no TrtGroup');
      }
    } as unknown as TensorRtBinding['TrtGroup'],
  };
  installFakeTensorRt(binding);
  return { built, engines, trackers };
}

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-trt-two-part-'));
  // The shipped two-part student, both files side by side in a folder of its own.
  for (const f of ['vittrack-student.onnx', 'vittrack-student.template.onnx']) await copyFile(join(models, f), join(dir, f));
});
test.afterEach.always(() => overrideNative(undefined));
test.after.always(() => rm(dir, { recursive: true, force: true }));

const buildCommand = (args: string[]) => runCommand(buildEngineCommand, args);
const student = () => join(dir, 'vittrack-student.onnx');

test.serial('build-engine on a two-part model builds the template engine first, FP16 outputs to match, and names it beside the per-frame engine', async (t) => {
  const fake = fakeTensorRt();
  const enginePath = join(dir, 'student.engine');
  const { code, stdout } = await buildCommand([student(), '-o', enginePath, '--no-verify']);
  t.is(code, 0);
  t.deepEqual(
    fake.built.map((b) => [basename(b.onnx), basename(b.output), b.templatePart ?? false]),
    [['vittrack-student.template.onnx', 'student.template.engine', true], ['vittrack-student.onnx', 'student.engine', false]],
  );
  t.regex(stdout, /template: +.*student\.template\.engine \(the template part, run once per init; inputs template float16/);
  const frame = JSON.parse(await readFile(`${enginePath}.json`, 'utf8')) as TrtEngineMetadata;
  const template = JSON.parse(await readFile(join(dir, 'student.template.engine.json'), 'utf8')) as TrtEngineMetadata;
  t.is(frame.templateEngine, 'student.template.engine');
  t.regex(frame.templateEngineSha256 ?? '', /^[0-9a-f]{64}$/);
  t.is(template.part, 'template');
  t.is(template.onnx.path, join(dir, 'vittrack-student.template.onnx'));
  t.deepEqual(template.modelMetadata, frame.modelMetadata, 'both carry the model conventions');
  // The cached tensors: made FP16 by the template engine, read FP16 by the per-frame engine.
  const made = template.tensors.filter((x) => x.io === 'output');
  t.true(made.length > 0 && made.every((x) => x.dtype === 'float16' && frame.tensors.some((y) => y.io === 'input' && y.name === x.name && y.dtype === 'float16')));
});

test.serial('Engine.load loads both engines and hands the template engine to each tracker; one target per enqueue', async (t) => {
  const fake = fakeTensorRt();
  const enginePath = join(dir, 'load.engine');
  await buildCommand([student(), '-o', enginePath, '--no-verify']);
  const engine = await Engine.load(enginePath);
  t.teardown(() => engine.dispose());
  t.is(engine.backend, 'tensorrt-fp16');
  t.is(engine.config.templateSize, 128);
  t.is(engine.maxBatch, 1, "each tracker caches its own template: one target per enqueue");
  const tracker = new Tracker(engine);
  const [frame] = await shippedVideoFrames(1);
  tracker.init(frame, { x: 50, y: 40, width: 60, height: 60 });
  const r = await tracker.track(frame);
  t.deepEqual(r.box, { x: 1, y: 2, width: 3, height: 4 });
  t.is(fake.trackers.length, 1);
  t.is(fake.trackers[0].template, join(dir, 'load.template.engine'));
  tracker.dispose();
});

test.serial('broken pairs are typed errors at load that name both files', async (t) => {
  const fake = fakeTensorRt();
  const enginePath = join(dir, 'broken.engine');
  await buildCommand([student(), '-o', enginePath, '--no-verify']);
  const templatePath = join(dir, 'broken.template.engine');
  // the template engine loaded on its own
  await t.throwsAsync(Engine.load(templatePath), { instanceOf: CtEdgeError, code: 'ERR_MODEL_IO', message: /template part of a two-part model; load its per-frame part/ });
  // cached tensors of another type (a template engine built without FP16)
  const tensors = fake.engines.get(templatePath)!;
  fake.engines.set(templatePath, tensors.map((x) => (x.io === 'output' ? { ...x, dtype: 'float32' } : x)));
  const types = await t.throwsAsync(Engine.load(enginePath), { instanceOf: CtEdgeError, code: 'ERR_MODEL_IO' });
  t.regex(types!.message, /broken\.engine and its template part .*broken\.template\.engine do not fit together: the per-frame part reads 'template_k_0' \[dynamic,.*\] float16, the template part makes .* float32/);
  // a template engine that makes one tensor too few (another depth)
  fake.engines.set(templatePath, tensors.filter((x) => x.name !== 'template_v_1'));
  await t.throwsAsync(Engine.load(enginePath), { instanceOf: CtEdgeError, code: 'ERR_MODEL_IO', message: /reads 'template_v_1' .*, the template part makes nothing/ });
  // a template engine from another build (the per-frame build failed after it, or files mixed up)
  fake.engines.set(templatePath, tensors);
  const original = await readFile(templatePath);
  await writeFile(templatePath, 'another engine');
  await t.throwsAsync(Engine.load(enginePath), { instanceOf: CtEdgeError, code: 'ERR_MODEL_IO', message: /broken\.engine and its template engine .*broken\.template\.engine come from different builds/ });
  await writeFile(templatePath, original);
  // a template engine whose metadata does not say it is one
  const templateMeta = JSON.parse(await readFile(`${templatePath}.json`, 'utf8')) as Record<string, unknown>;
  await writeFile(`${templatePath}.json`, JSON.stringify({ ...templateMeta, part: undefined }));
  await t.throwsAsync(Engine.load(enginePath), { instanceOf: CtEdgeError, code: 'ERR_MODEL_IO', message: /metadata does not say it is a template part/ });
  await writeFile(`${templatePath}.json`, JSON.stringify(templateMeta));
  // the template engine's file gone, or a folder in its place
  await unlink(templatePath);
  await t.throwsAsync(Engine.load(enginePath), { instanceOf: CtEdgeError, code: 'ERR_MODEL_NOT_FOUND', message: /broken\.template\.engine is missing; keep the two files together/ });
  await mkdir(templatePath);
  await t.throwsAsync(Engine.load(enginePath), { instanceOf: CtEdgeError, code: 'ERR_MODEL_NOT_FOUND', message: /broken\.template\.engine is missing/ });
});

test.serial('build-engine --dry-run prints both trtexec commands; a template part alone or --max-batch is refused before any build', async (t) => {
  const fake = fakeTensorRt();
  const { stdout } = await buildCommand([student(), '--dry-run', '-o', join(dir, 'dry.engine')]);
  const lines = stdout.split('\n').filter((l) => l.startsWith('trtexec '));
  t.is(lines.length, 2);
  t.regex(lines[0], /--onnx=\S*vittrack-student\.template\.onnx --saveEngine=\S*dry\.template\.engine .*--outputIOFormats=fp16:chw(,fp16:chw)+/);
  t.regex(lines[1], /--onnx=\S*vittrack-student\.onnx --saveEngine=\S*dry\.engine /);
  t.notRegex(lines[1], /--outputIOFormats/);
  await t.throwsAsync(buildEngineCommand.run([join(dir, 'vittrack-student.template.onnx'), '-o', join(dir, 'x.engine')]), {
    instanceOf: CtEdgeError,
    code: 'ERR_INVALID_ARGUMENT',
    message: /template part of a two-part model; build its per-frame part/,
  });
  await t.throwsAsync(buildEngineCommand.run([student(), '--max-batch', '4', '--dry-run']), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /two-part model.*--single-graph/ });
  t.is(fake.built.length, 0);
});
