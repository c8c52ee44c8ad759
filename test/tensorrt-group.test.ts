/**
 * TrackerGroup on TensorRT, the TypeScript side, against a fake `exports.tensorrt` whose TrtGroup is
 * onnxruntime on the same model: an engine built with --max-batch (profile 1..N) batches a group's
 * targets, N per enqueue; each target's search window, template crop and template id reach the
 * native group as it expects (ids change only when a template does), each target decodes its own
 * part of the maps, and so tracks exactly as a lone onnxruntime Tracker does. An engine without a
 * batch runs target by target with the warning. build-engine --max-batch: the profile asked of the
 * addon, the metadata, the trtexec command, and the typed refusals before any build. No GPU here:
 * the native group itself (native/tensorrt/trt_group.cpp) is compile-checked, and its
 * batched crop kernel is checked by cuda-emulation.test.ts and tools/gpu-check.sh.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as buildEngineCommand } from '../ts/cli/commands/build-engine.js';
import { CtEdgeError, Engine, Tracker, TrackerGroup, type Box, type Frame } from '../ts/index.js';
import { loadNative, overrideNative, type CropWindow, type TensorRtBinding, type TrtBuildOptions, type TrtGroup, type TrtTensorInfo, type TrtTrackerConfig } from '../ts/deploy/native.js';
import { ENGINE_METADATA_FORMAT, trtexecCommand, type TrtEngineMetadata } from '../ts/deploy/tensorrt.js';
import { parseOnnxModel } from '../ts/contract/onnx-reader.js';
import { shippedVideoFrames, spreadBoxes } from './helpers/frames.js';
import { repoRoot } from './helpers/data.js';
import { installFakeTensorRt } from './helpers/tensorrt.js';
import { runCommand } from './helpers/cli.js';

const studentPath = join(repoRoot, 'models', 'student-2.onnx');
const vitTrackPath = join(repoRoot, 'models', 'vittrack.onnx');
const FRAMES = 10;

/** The engine's tensors as TensorRT reports them for the student: the batch dimension -1 when it is symbolic. */
async function engineTensors(batched: boolean): Promise<TrtTensorInfo[]> {
  const model = parseOnnxModel(await readFile(studentPath));
  const tensor = (io: 'input' | 'output') => (t: { name: string; shape: (number | string)[] }) => ({
    name: t.name,
    io,
    dtype: 'float32',
    shape: t.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 && batched ? -1 : 1)),
  });
  return [...model.inputs.map(tensor('input')), ...model.outputs.map(tensor('output'))];
}

interface GroupRun {
  batch: number;
  templateIds: number[];
}

/**
 * A stand-in TensorRT whose TrtGroup runs the student on onnxruntime: it crops each search window
 * on the CPU while run() is called (the native group copies the frame's rows before returning),
 * then infers target by target with the template it was handed.
 */
function fakeTensorRt(onnx: Engine, maxBatch: number, tensors: TrtTensorInfo[], version = '10.3.0') {
  const runs: GroupRun[] = [];
  const groups: { config: TrtTrackerConfig & { maxBatch: number }; disposed: boolean }[] = [];
  /** Native groups (by creation order) whose next run fails on the GPU, after its frame was read. */
  const failing = new Set<number>();
  /** Native groups made (or tried), and the error the next one fails with, if any. */
  const made: { count: number; refuse?: string } = { count: 0 };
  const built: TrtBuildOptions[] = [];
  const trackers: TrtTrackerConfig[] = [];
  const addon = loadNative();
  const c = onnx.config;
  const cells = c.featureSize * c.featureSize;
  class FakeTrtGroup implements TrtGroup {
    readonly maxBatch = maxBatch;
    private readonly items: { template: Float32Array; search: Float32Array; run: () => Promise<{ score: Float32Array; size: Float32Array; offset: Float32Array }> }[] = [];
    private readonly record: { config: TrtTrackerConfig & { maxBatch: number }; disposed: boolean };
    private readonly index: number;
    constructor(_engine: unknown, config: TrtTrackerConfig & { maxBatch: number }) {
      made.count += 1;
      if (made.refuse) throw Object.assign(new Error(made.refuse), { code: 'ERR_TENSORRT' });
      this.record = { config, disposed: false };
      this.index = groups.push(this.record) - 1;
    }
    run(frame: object, targets: { window: CropWindow; template: Float32Array; templateId: number }[]) {
      if (targets.length < 1 || targets.length > maxBatch) throw Object.assign(new Error(`a batch of ${targets.length}`), { code: 'ERR_INVALID_ARGUMENT' });
      runs.push({ batch: targets.length, templateIds: targets.map((t) => t.templateId) });
      targets.forEach((t, i) => {
        if (!this.items[i]) {
          const template = new Float32Array(t.template.length);
          const search = new Float32Array(3 * c.searchSize * c.searchSize);
          this.items[i] = { template, search, run: onnx.bind(template, search).run };
        }
        this.items[i].template.set(t.template);
        addon.cropToTensor(frame, t.window, c.searchSize, this.items[i].search, { mean: c.mean, std: c.std, channelOrder: c.channelOrder });
      });
      const fails = failing.delete(this.index);
      return (async () => {
        if (fails) throw Object.assign(new Error('enqueueV3 failed: an illegal memory access'), { code: 'ERR_TENSORRT' });
        const score = new Float32Array(targets.length * cells);
        const size = new Float32Array(targets.length * 2 * cells);
        const offset = new Float32Array(targets.length * 2 * cells);
        for (let i = 0; i < targets.length; i++) {
          const maps = await this.items[i].run();
          score.set(maps.score, i * cells);
          size.set(maps.size, 2 * i * cells);
          offset.set(maps.offset, 2 * i * cells);
        }
        return { score, size, offset, timings: { stageMs: 0.1, preprocessMs: 0.01, inferMs: 1, postprocessMs: 0.01 } };
      })();
    }
    dispose(): void {
      this.record.disposed = true;
    }
  }
  const binding: TensorRtBinding = {
    version,
    compiledVersion: version,
    loadEngine: async (path) => ({ path, tensors, maxBatch, dispose: () => undefined }),
    async buildEngine(options) {
      built.push(options);
      await writeFile(options.output, 'engine');
      return {
        enginePath: options.output, tensorrtVersion: '10.3.0', gpu: { name: 'Orin (nvgpu)', computeCapability: '8.7' }, precision: 'fp16', tf32: false,
        dlaCore: -1, optLevel: -1, maxBatch: options.maxBatch ?? 1, fp32Layers: 0, keptLayers: [], layerInformation: '', tensors, fastFp16: true,
        timingCacheLoaded: false, timingCacheSaved: false, warnings: [], seconds: 1,
      };
    },
    // A lone target's tracker (groups on engines without a batch): the student on onnxruntime.
    TrtTracker: class {
      private readonly inner: Tracker;
      constructor(_engine: unknown, config: TrtTrackerConfig) {
        this.inner = new Tracker(onnx, { lostThreshold: config.lostThreshold, boxMapping: config.boxMapping });
        trackers.push(config);
      }
      init(frame: object, box: object) {
        this.inner.init(frame as Frame, box as Box);
      }
      async track(frame: object) {
        const r = await this.inner.track(frame as Frame);
        return { ...r.box, score: r.score, rawScore: r.score, peakX: 0, peakY: 0, lost: r.state === 'lost', timings: { stageMs: 0, preprocessMs: 0, inferMs: 1, postprocessMs: 0 } };
      }
      takeWarnings = () => [];
      cudaGraphActive = () => false;
      dispose = () => this.inner.dispose();
    },
    TrtGroup: FakeTrtGroup,
  };
  installFakeTensorRt(binding);
  return { runs, groups, built, trackers, failing, made };
}

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-trt-group-'));
});
test.afterEach.always(() => overrideNative(undefined));
test.after.always(() => rm(dir, { recursive: true, force: true }));

/** An engine file with the metadata build-engine writes for the student. */
async function engineFile(name: string, tensors: TrtTensorInfo[], maxBatch: number, tensorrtVersion = '10.3.0'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, 'engine');
  const meta: TrtEngineMetadata = {
    formatVersion: ENGINE_METADATA_FORMAT, tensorrtVersion, gpu: { name: 'Orin (nvgpu)', computeCapability: '8.7' }, precision: 'fp16', tf32: false,
    keepFp32: [], fp32Layers: 0, obeyPrecision: false, dlaCore: -1, optLevel: -1, maxBatch, layerNormDecomposed: false,
    onnx: { path: studentPath, sha256: '' }, builtAt: '2026-12-08T00:00:00Z', tensors,
    modelMetadata: Object.fromEntries(Object.entries(parseOnnxModel(await readFile(studentPath)).metadata).filter(([k]) => k.startsWith('ct_edge.'))),
  };
  await writeFile(`${path}.json`, JSON.stringify(meta));
  return path;
}

const frames = shippedVideoFrames(FRAMES);

const boxes = (frame: Frame, n: number): Box[] => spreadBoxes(frame, n, 3);

test.serial('a group on an engine built with --max-batch: one enqueue per maxBatch targets, every target as a lone Tracker, templates re-sent only when they change', async (t) => {
  const onnx = await Engine.load(studentPath, { threads: 1 });
  t.teardown(() => onnx.dispose());
  const fake = fakeTensorRt(onnx, 4, await engineTensors(true));
  const engine = await Engine.load(await engineFile('batched.engine', await engineTensors(true), 4));
  t.teardown(() => engine.dispose());
  t.is(engine.maxBatch, 4, 'the profile of --max-batch 4');
  const video = await frames;
  const starts = boxes(video[0], 6);
  const group = new TrackerGroup(engine);
  t.true(group.batched);
  const ids = starts.map((b) => group.add(video[0], b));
  const alone = starts.map((b) => {
    const tracker = new Tracker(onnx);
    tracker.init(video[0], b);
    return tracker;
  });
  let worst = 0;
  for (let f = 1; f < video.length; f++) {
    if (f === 5) {
      // At frame 5 target 2 re-initialises and target 6 leaves.
      const box = { x: 40, y: 30, width: 50, height: 60 };
      group.reinit(ids[1], video[f - 1], box);
      alone[1].init(video[f - 1], box);
      group.remove(ids[5]);
      alone.pop()!.dispose();
    }
    const r = await group.track(video[f]);
    t.is(r.inferences, 2, '6 targets: batches of 4 and 2; from frame 5, 5 targets: 4 and 1');
    t.deepEqual(r.targets.map((x) => x.id), ids.slice(0, alone.length));
    for (let i = 0; i < alone.length; i++) {
      const lone = await alone[i].track(video[f]);
      const got = r.targets[i];
      t.is(got.state, lone.state);
      for (const k of ['x', 'y', 'width', 'height'] as const) worst = Math.max(worst, Math.abs(got.box[k] - lone.box[k]));
      worst = Math.max(worst, Math.abs(got.score - lone.score));
    }
  }
  t.true(worst <= 1e-4, `largest difference from lone trackers ${worst}`);
  // What reached the native group: batches of 4 then the rest; each target's template id stays put
  // from frame to frame (uploaded once) and changes when it re-initialises.
  t.deepEqual(fake.runs.slice(0, 2).map((r) => r.batch), [4, 2]);
  t.deepEqual(fake.runs.slice(-2).map((r) => r.batch), [4, 1]);
  const first = [...fake.runs[0].templateIds, ...fake.runs[1].templateIds];
  t.is(new Set(first).size, 6, 'one template id per target');
  t.deepEqual([...fake.runs[2].templateIds, ...fake.runs[3].templateIds], first, 'no new template between frames');
  const last = [...fake.runs.at(-2)!.templateIds, ...fake.runs.at(-1)!.templateIds];
  t.deepEqual(last.filter((id, i) => id !== first[i]), [last[1]], 'only the re-initialised target has a new template');
  t.is(fake.groups.length, 2, 'one native group per batch slot, kept between frames');
  t.like(fake.groups[0].config, { templateSize: onnx.config.templateSize, searchSize: onnx.config.searchSize, featureSize: onnx.config.featureSize, maxBatch: 4 });
  // A batch that fails on the GPU fails the frame, typed, after every batch settled; the next frame tracks.
  fake.failing.add(1);
  await t.throwsAsync(group.track(video[1]), { instanceOf: CtEdgeError, code: 'ERR_TENSORRT', message: /illegal memory access/ });
  t.is((await group.track(video[2])).targets.length, alone.length);
  group.dispose();
  t.true(fake.groups.every((g) => g.disposed), 'dispose() frees the native groups');
  for (const tracker of alone) tracker.dispose();
});

test.serial('an engine without --max-batch runs a group target by target, with the warning that names the fix', async (t) => {
  const onnx = await Engine.load(studentPath, { threads: 1 });
  t.teardown(() => onnx.dispose());
  const tensors = await engineTensors(false);
  const fake = fakeTensorRt(onnx, 1, tensors);
  const engine = await Engine.load(await engineFile('single.engine', tensors, 1));
  t.teardown(() => engine.dispose());
  t.is(engine.maxBatch, 1);
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const group = new TrackerGroup(engine);
  t.false(group.batched);
  const video = await frames;
  for (const b of boxes(video[0], 3)) group.add(video[0], b);
  const r = await group.track(video[1]);
  t.is(r.inferences, 3);
  t.is(fake.trackers.length, 3, 'a native tracker per target');
  t.is(fake.runs.length, 0, 'no native group');
  await new Promise((done) => setImmediate(done)); // warnings are emitted on the next tick
  const unbatched = warnings.filter((w) => (w as { code?: string }).code === 'CT_EDGE_GROUP_UNBATCHED');
  t.is(unbatched.length, 1);
  t.regex(unbatched[0].message, /takes batch 1 \(build it with ct-edge build-engine --max-batch N/);
  group.dispose();
});

test.serial('TensorRT 8.5: a group takes one batch of targets (a typed error names the fix); a native group that cannot be made fails each frame without being remade', async (t) => {
  const onnx = await Engine.load(studentPath, { threads: 1 });
  t.teardown(() => onnx.dispose());
  const fake = fakeTensorRt(onnx, 2, await engineTensors(true), '8.5.2');
  const engine = await Engine.load(await engineFile('jp51.engine', await engineTensors(true), 2, '8.5.2'));
  t.teardown(() => engine.dispose());
  const video = await frames;
  const group = new TrackerGroup(engine);
  const [a, b, c] = boxes(video[0], 3);
  group.add(video[0], a);
  group.add(video[0], b);
  t.throws(() => group.add(video[0], c), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /2 targets, its largest batch on .*, and TensorRT 8\.5\.2 runs one batch per engine: build the engine with a larger --max-batch, or load the engine again/ });
  t.is((await group.track(video[1])).targets.length, 2, 'the two targets track on');
  group.dispose();
  // A second group whose native group cannot be made (another context on a TensorRT 8.5 engine).
  fake.made.refuse = 'TensorRT 8.5.2 gives the batch profile of jp51.engine to one tracker or group at a time';
  const second = new TrackerGroup(engine);
  second.add(video[0], a);
  second.add(video[0], b);
  const before = fake.made.count;
  for (const f of [1, 2]) await t.throwsAsync(second.track(video[f]), { instanceOf: CtEdgeError, code: 'ERR_TENSORRT', message: /one tracker or group at a time/ });
  t.is(fake.made.count, before + 1, 'tried once, not once per frame');
  second.dispose();
});

test.serial('build-engine --max-batch: the profile asked of TensorRT, recorded beside the engine, in the trtexec command; refused before any build where it cannot be', async (t) => {
  const onnx = await Engine.load(studentPath, { threads: 1 });
  t.teardown(() => onnx.dispose());
  const fake = fakeTensorRt(onnx, 8, await engineTensors(true));
  const enginePath = join(dir, 'b8.engine');
  const build = await runCommand(buildEngineCommand, [studentPath, '-o', enginePath, '--max-batch', '8']);
  t.is(build.code, 0);
  t.is(fake.built[0].maxBatch, 8);
  t.regex(build.stdout, /batch: +1 to 8 targets per enqueue/);
  const recorded = JSON.parse(await readFile(`${enginePath}.json`, 'utf8')) as TrtEngineMetadata;
  t.is(recorded.maxBatch, 8);
  const dry = await runCommand(buildEngineCommand, [studentPath, '--max-batch', '8', '--dry-run']);
  const inputs = parseOnnxModel(await readFile(studentPath)).inputs;
  const shapes = (b: number) => inputs.map((i) => `${i.name}:${[b, ...i.shape.slice(1)].join('x')}`).join(',');
  t.true(dry.stdout.includes(`--minShapes=${shapes(1)} --optShapes=${shapes(8)} --maxShapes=${shapes(8)}`), dry.stdout);
  // Several groups or trackers on one engine share its profile: TensorRT 8.6 needs a preview feature for it.
  const bytes = await readFile(studentPath);
  t.regex(trtexecCommand({ onnx: studentPath, maxBatch: 4 }, bytes, '8.6.1').command, / --preview=\+profileSharing0806/);
  t.notRegex(trtexecCommand({ onnx: studentPath, maxBatch: 4 }, bytes, '10.3.0').command, /--preview/);
  t.true(trtexecCommand({ onnx: studentPath }, bytes, '10.3.0').notes.some((n) => /fixes the symbolic batch at 1 in the network/.test(n)));
  const refused = async (args: string[], message: RegExp) => {
    await t.throwsAsync(buildEngineCommand.run(args), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message });
  };
  await refused([vitTrackPath, '--max-batch', '4', '-o', join(dir, 'v.engine')], /batch 1 baked into its inputs; export the model with ct-edge export .*ct-edge import/);
  await refused([vitTrackPath, '--max-batch', '4', '--dry-run'], /batch 1 baked into its inputs/);
  await refused([studentPath, '--max-batch', '0', '-o', join(dir, 'z.engine')], /--max-batch/);
  await refused([studentPath, '--max-batch', '4', '--dla', '0', '-o', join(dir, 'z.engine')], /--max-batch 4 with --dla: DLA runs fixed shapes only/);
  await refused([studentPath, '--max-batch', '65', '-o', join(dir, 'z.engine')], /--max-batch/);
  t.is(fake.built.length, 1, 'no build started for a refused --max-batch');
});
