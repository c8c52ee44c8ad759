/**
 * The TypeScript glue of the TensorRT backend, against a fake `exports.tensorrt` injected with
 * overrideNative(): Engine.load routes .engine files to it and resolves the ModelConfig from the
 * engine's tensors and the conventions recorded beside it; Tracker delegates to the native
 * TrtTracker and maps its results, timings and coded errors; build-engine records the model's
 * conventions and --verify compares the two backends. No GPU or TensorRT is involved: what the
 * native side does with these calls is not tested here.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as buildEngineCommand } from '../ts/cli/commands/build-engine.js';
import { CtEdgeError, Engine, Tracker, type ErrorCode } from '../ts/index.js';
import {
  overrideNative,
  type CudaDeviceInfo,
  type TensorRtBinding,
  type TrtBuildOptions,
  type TrtEngine,
  type TrtTensorInfo,
  type TrtTrackerConfig,
  type TrtTrackUpdate,
} from '../ts/deploy/native.js';
import { ENGINE_METADATA_FORMAT, keptLayerPrecision, type TrtEngineMetadata } from '../ts/deploy/tensorrt.js';
import { parseOnnxModel } from '../ts/contract/onnx-reader.js';
import { randomSamples, sequenceSamples, type VerifySample } from '../ts/deploy/eval/compare-engines.js';
import { squareFrame } from './helpers/frames.js';
import { runCommand as runCliCommand } from './helpers/cli.js';
import { installFakeTensorRt, orin } from './helpers/tensorrt.js';
import { hasSharedData, repoRoot, sequencesDir, sharedDataSkipReason, vitTrackOptions, vitTrackPath } from './helpers/data.js';

const coded = (code: string) => ({ instanceOf: CtEdgeError, code: code as ErrorCode });
const nativeError = (code: string, message: string) => Object.assign(new Error(message), { code });

/** An OSTrack-style engine's tensors: template and search crops of t and s pixels, maps of f cells a side. */
function trackerTensors(t: number, s: number, f: number): TrtTensorInfo[] {
  return [
    { name: 'template', io: 'input', dtype: 'float32', shape: [1, 3, t, t] },
    { name: 'search', io: 'input', dtype: 'float32', shape: [1, 3, s, s] },
    { name: 'score_map', io: 'output', dtype: 'float32', shape: [1, 1, f, f] },
    { name: 'size_map', io: 'output', dtype: 'float32', shape: [1, 2, f, f] },
    { name: 'offset_map', io: 'output', dtype: 'float32', shape: [1, 2, f, f] },
  ];
}

const ostrackTensors = trackerTensors(128, 256, 16);

function metadata(tensors: TrtTensorInfo[], precision: TrtEngineMetadata['precision'], more: Partial<TrtEngineMetadata> = {}): TrtEngineMetadata {
  return {
    formatVersion: ENGINE_METADATA_FORMAT,
    tensorrtVersion: '10.3.0',
    gpu: { name: 'Orin (nvgpu)', computeCapability: '8.7' },
    precision,
    tf32: false,
    keepFp32: precision === 'fp16' ? ['layernorm', 'softmax'] : [],
    fp32Layers: precision === 'fp16' ? 24 : 0,
    obeyPrecision: false,
    dlaCore: -1,
    optLevel: -1,
    maxBatch: 1,
    layerNormDecomposed: false,
    onnx: { path: 'student.onnx', sha256: '' },
    builtAt: '2026-11-25T00:00:00Z',
    tensors,
    ...more,
  };
}


/** What the fake saw, and what it answers. */
interface Fake {
  binding: TensorRtBinding;
  loaded: { path: string; dlaCore?: number }[];
  configs: TrtTrackerConfig[];
  inits: object[];
  built: TrtBuildOptions[];
  disposed: { engines: number; trackers: number };
  /** Set to make the next call fail the way the addon fails (an Error with a `code`). */
  failLoad?: Error;
  failTrack?: Error;
  failInit?: Error;
  update: TrtTrackUpdate;
  /** The layers a build kept in FP32 and the inspector's JSON of the built engine (what the addon reports). */
  kept: { layers: string[]; information: string };
  /** What the native tracker reports it worked around (takeWarnings), and whether a CUDA graph replays. */
  warnings: string[];
  graphActive: boolean;
  /** Builds trackers for loaded engines; default: answers `update`. */
  makeTracker?: (config: TrtTrackerConfig) => { init(frame: object, box: object): void; track(frame: object): Promise<TrtTrackUpdate> };
}

/**
 * A stand-in for exports.tensorrt (TensorRT `version`) and exports.cuda (`device`): loadEngine
 * answers with `tensors` (the engine's own), buildEngine with a report of plain values, as the addon.
 */
function fakeTensorRt(version = '10.3.0', device: CudaDeviceInfo = orin, tensors: TrtTensorInfo[] = ostrackTensors): Fake {
  const fake: Fake = {
    loaded: [],
    configs: [],
    inits: [],
    built: [],
    disposed: { engines: 0, trackers: 0 },
    update: {
      x: 10, y: 20, width: 30, height: 40, score: 0.125, rawScore: 0.5, peakX: 7, peakY: 8, lost: true,
      timings: { stageMs: 0.25, preprocessMs: 0.5, inferMs: 2, postprocessMs: 0.125 },
    },
    binding: undefined as unknown as TensorRtBinding,
    warnings: [],
    graphActive: false,
    kept: { layers: [], information: '' },
  };
  class FakeTrtTracker {
    private readonly impl;
    constructor(_engine: TrtEngine, config: TrtTrackerConfig) {
      fake.configs.push(config);
      this.impl = fake.makeTracker?.(config);
    }
    init(frame: object, box: object): void {
      if (fake.failInit) throw fake.failInit;
      fake.inits.push(box);
      this.impl?.init(frame, box);
    }
    async track(frame: object): Promise<TrtTrackUpdate> {
      if (fake.failTrack) throw fake.failTrack;
      return this.impl ? this.impl.track(frame) : fake.update;
    }
    takeWarnings(): string[] {
      return fake.warnings.splice(0);
    }
    cudaGraphActive(): boolean {
      return fake.graphActive;
    }
    dispose(): void {
      fake.disposed.trackers += 1;
    }
  }
  fake.binding = {
    version,
    compiledVersion: version,
    async loadEngine(path, options) {
      if (fake.failLoad) throw fake.failLoad;
      fake.loaded.push({ path, ...options });
      return { path, tensors, maxBatch: 1, dispose: () => void (fake.disposed.engines += 1) };
    },
    async buildEngine(options) {
      fake.built.push(options);
      await writeFile(options.output, 'engine');
      const fp16 = options.fp16 !== false;
      return {
        enginePath: options.output, tensorrtVersion: version, gpu: { name: device.name, computeCapability: device.computeCapability },
        precision: fp16 ? 'fp16' : 'fp32', tf32: options.tf32 ?? false, dlaCore: options.dlaCore ?? -1, optLevel: options.optLevel ?? -1, maxBatch: 1,
        fp32Layers: fp16 ? 24 : 0, keptLayers: fp16 ? fake.kept.layers : [], layerInformation: fp16 ? fake.kept.information : '', tensors: vitTensors, fastFp16: true, timingCacheLoaded: false, timingCacheSaved: false, warnings: [], seconds: 1.5,
      };
    },
    TrtTracker: FakeTrtTracker,
    TrtGroup: class {
      constructor() {
        throw new Error('these engines have no batch: no TrtGroup (test/tensorrt-group.test.ts has one)');
      }
    } as unknown as TensorRtBinding['TrtGroup'],
  };
  installFakeTensorRt(fake.binding, device);
  return fake;
}

const vitTensors: TrtTensorInfo[] = ostrackTensors.map((t, i) => (i < 2 ? t : { ...t, name: `output${i - 1}` }));
const studentPath = join(repoRoot, 'models', 'student-2.onnx');

const runCommand = (args: string[]) => runCliCommand(buildEngineCommand, args);

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-trt-glue-'));
});
test.afterEach.always(() => overrideNative(undefined));
test.after.always(() => rm(dir, { recursive: true, force: true }));

/** An engine file with metadata as build-engine writes it, `recorded` being the model's conventions. */
async function engineFile(name: string, meta: TrtEngineMetadata | undefined, recorded?: Record<string, string>): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, 'engine');
  if (meta) await writeFile(`${path}.json`, JSON.stringify({ ...meta, ...(recorded ? { modelMetadata: recorded } : {}) }));
  return path;
}

test.serial('Engine.load routes .engine to TensorRT: backend from the metadata, config from tensors, recorded conventions and options', async (t) => {
  const fake = fakeTensorRt();
  const path = await engineFile('a.engine', metadata(ostrackTensors, 'fp16'), { 'ct_edge.channel_order': 'bgr', 'ct_edge.lost_threshold': '0.3', 'ct_edge.box_mapping': 'opencv' });
  const engine = await Engine.load(path, { boxMapping: 'ostrack' });
  t.deepEqual(fake.loaded, [{ path, dlaCore: -1 }]);
  t.is(engine.backend, 'tensorrt-fp16');
  t.like(engine.config, {
    inputs: { template: 'template', search: 'search' },
    templateSize: 128,
    searchSize: 256,
    featureSize: 16,
    channelOrder: 'bgr', // recorded at build time
    lostThreshold: 0.3,
    boxMapping: 'ostrack', // options win over what was recorded
  });
  t.throws(() => engine.bind(new Float32Array(1), new Float32Array(1)), coded('ERR_BACKEND_UNAVAILABLE'));
  await engine.dispose();
  t.true(engine.disposed);
  t.is(fake.disposed.engines, 1);
  t.throws(() => new Tracker(engine), coded('ERR_DISPOSED'));
});

test.serial('fp32 engines and engines without metadata (trtexec) report their backend; the latter warn', async (t) => {
  fakeTensorRt();
  const fp32 = await Engine.load(await engineFile('b.plan', metadata(ostrackTensors, 'fp32')));
  t.is(fp32.backend, 'tensorrt-fp32');
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const bare = await Engine.load(await engineFile('c.engine', undefined));
    t.is(bare.backend, 'tensorrt');
    t.is(bare.config.featureSize, 16);
    await bare.dispose();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  t.true(warnings.some((w) => (w as Error & { code?: string }).code === 'CT_EDGE_ENGINE_WITHOUT_METADATA' && /c\.engine has no metadata file/.test(w.message)));
  await fp32.dispose();
});

test.serial('the metadata decides before the addon: another TensorRT or GPU is ERR_ENGINE_MISMATCH with the rebuild command; a DLA engine loads on its core', async (t) => {
  const fake = fakeTensorRt('10.3.0', { ...orin, name: 'NVIDIA H100', computeCapability: '9.0' });
  const older = await engineFile('f.engine', metadata(ostrackTensors, 'fp16', { tensorrtVersion: '8.6.2' }));
  const version = await t.throwsAsync(Engine.load(older), coded('ERR_ENGINE_MISMATCH'));
  t.regex(version!.message, /built with TensorRT 8\.6\.2 and this process loaded TensorRT 10\.3\.0/);
  t.regex(version!.message, /npx ct-edge build-engine student\.onnx --fp16 -o .*f\.engine/);
  const orinEngine = await engineFile('g.engine', metadata(ostrackTensors, 'fp32', { tf32: true, dlaCore: 1 }));
  const gpu = await t.throwsAsync(Engine.load(orinEngine), coded('ERR_ENGINE_MISMATCH'));
  t.regex(gpu!.message, /built for Orin \(nvgpu\) \(compute capability 8\.7\) and this GPU is NVIDIA H100 \(compute capability 9\.0\)/);
  t.regex(gpu!.message, /--fp32 --tf32 --dla 1 -o/);
  t.deepEqual(fake.loaded, [], 'the addon was not asked');
  // Without a usable device the addon's own ERR_CUDA says why; on the right GPU the DLA core is passed.
  const onOrin = fakeTensorRt('10.3.0', orin);
  await (await Engine.load(orinEngine)).dispose();
  t.deepEqual(onOrin.loaded, [{ path: orinEngine, dlaCore: 1 }]);
  const noDevice = fakeTensorRt('10.3.0', { ...orin, available: false, reason: 'no CUDA device' });
  noDevice.failLoad = nativeError('ERR_CUDA', 'cannot load a TensorRT engine: no CUDA device');
  await t.throwsAsync(Engine.load(orinEngine), coded('ERR_CUDA'));
});

test.serial('an engine built on another device of the same compute capability loads with a warning that names both and the rebuild', async (t) => {
  const nano = fakeTensorRt('10.3.0', { ...orin, name: 'Orin Nano (nvgpu)' });
  const path = await engineFile('agx.engine', metadata(ostrackTensors, 'fp16', { gpu: { name: 'AGX Orin (nvgpu)', computeCapability: '8.7' } }));
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    await (await Engine.load(path)).dispose();
    await new Promise((resolve) => setImmediate(resolve));
    // the same device: no warning
    await (await Engine.load(await engineFile('nano.engine', metadata(ostrackTensors, 'fp16', { gpu: { name: 'Orin Nano (nvgpu)', computeCapability: '8.7' } })))).dispose();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  t.is(nano.loaded.length, 2);
  const other = warnings.filter((w) => (w as Error & { code?: string }).code === 'CT_EDGE_ENGINE_OTHER_DEVICE');
  t.is(other.length, 1);
  t.regex(other[0].message, /agx\.engine was built on AGX Orin \(nvgpu\) and this GPU is Orin Nano \(nvgpu\) \(both compute capability 8\.7\).*npx ct-edge build-engine student\.onnx --fp16 -o .*agx\.engine/);
});

test.serial('a damaged metadata file is ERR_ENGINE_METADATA, before the addon is asked', async (t) => {
  const fake = fakeTensorRt();
  const path = join(dir, 'h.engine');
  await writeFile(path, 'engine');
  await writeFile(`${path}.json`, '{"formatVersion": 2, "tensorrtVersion": "10.3.0", "gpu": {"name": "Orin", "computeCap');
  const error = await t.throwsAsync(Engine.load(path), coded('ERR_ENGINE_METADATA'));
  t.regex(error!.message, /h\.engine\.json is not valid JSON.*rebuild the engine with ct-edge build-engine/);
  t.deepEqual(fake.loaded, []);
});

test.serial('load failures keep the native code, and a config that does not fit releases the engine', async (t) => {
  const fake = fakeTensorRt();
  const path = await engineFile('d.engine', metadata(ostrackTensors, 'fp16'));
  fake.failLoad = nativeError('ERR_ENGINE_MISMATCH', 'built with TensorRT 8.6.2; rebuild it here: npx ct-edge build-engine ...');
  const mismatch = await t.throwsAsync(Engine.load(path), coded('ERR_ENGINE_MISMATCH'));
  t.regex(mismatch!.message, /rebuild/);
  fake.failLoad = undefined;
  await t.throwsAsync(Engine.load(path, { outputs: { score: 'heatmap' } }), coded('ERR_MODEL_IO'));
  t.is(fake.disposed.engines, 1);
});

test.serial('Tracker delegates to the native TrtTracker and maps its results, timings and errors', async (t) => {
  const fake = fakeTensorRt();
  const engine = await Engine.load(await engineFile('e.engine', metadata(ostrackTensors, 'fp16'), { 'ct_edge.channel_order': 'bgr' }));
  t.throws(() => new Tracker(engine, { blockingSync: 'yes' as never }), { ...coded('ERR_INVALID_ARGUMENT'), message: /blockingSync must be true or false, got 'yes'/ });
  const tracker = new Tracker(engine, { lostThreshold: 0.4, cudaGraph: true, blockingSync: true });
  t.like(fake.configs[0], {
    templateSize: 128,
    searchSize: 256,
    featureSize: 16,
    templateFactor: 2,
    searchFactor: 4,
    channelOrder: 'bgr',
    boxMapping: 'ostrack',
    lostThreshold: 0.4,
    names: { template: 'template', search: 'search', score: 'score_map', size: 'size_map', offset: 'offset_map' },
    cudaGraph: true,
    blockingSync: true,
  });
  t.throws(() => tracker.inputs, coded('ERR_BACKEND_UNAVAILABLE'));
  const frame = squareFrame(320, 240, 140, 100, 40);
  const box = { x: 140, y: 100, width: 40, height: 40 };
  tracker.init(frame, box);
  t.deepEqual(fake.inits, [box]);
  const first = await tracker.track(frame);
  t.deepEqual(first.box, { x: 10, y: 20, width: 30, height: 40 });
  t.is(first.score, 0.125);
  t.is(first.state, 'lost');
  t.is(first.frameIndex, 0);
  t.like(first.timings, { preprocessMs: 0.75, inferenceMs: 2, postprocessMs: 0.125 });
  t.true(first.timings.totalMs >= 0);
  fake.update = { ...fake.update, lost: false };
  const second = await tracker.track(frame);
  t.is(second.state, 'tracking');
  t.is(second.frameIndex, 1);

  fake.failTrack = nativeError('ERR_CUDA', 'an illegal memory access was encountered');
  await t.throwsAsync(tracker.track(frame), coded('ERR_CUDA'));
  fake.failTrack = undefined;
  t.is((await tracker.track(frame)).frameIndex, 2, 'a failed frame does not count, and the tracker goes on');
  fake.failInit = nativeError('ERR_BOX_INVALID', 'box.width must be a number');
  t.throws(() => tracker.init(frame, box), coded('ERR_BOX_INVALID'));

  tracker.dispose();
  t.is(fake.disposed.trackers, 1);
  await t.throwsAsync(tracker.track(frame), coded('ERR_DISPOSED'));
  t.throws(() => tracker.init(frame, box), coded('ERR_DISPOSED'));
  await engine.dispose();
});

test.serial("a CUDA graph the native tracker gave up becomes a CT_EDGE_CUDA_GRAPH process warning, at creation or after a frame, and cudaGraphActive says so", async (t) => {
  const fake = fakeTensorRt();
  const engine = await Engine.load(await engineFile('g.engine', metadata(ostrackTensors, 'fp16')));
  const seen: Error[] = [];
  const onWarning = (w: Error) => seen.push(w);
  process.on('warning', onWarning);
  try {
    fake.warnings.push('CUDA graph failed (cudaStreamBeginCapture: operation not permitted); this tracker runs without a CUDA graph from now on');
    const tracker = new Tracker(engine, { cudaGraph: true });
    t.false(tracker.cudaGraphActive);
    fake.graphActive = true;
    t.true(tracker.cudaGraphActive);
    tracker.init(squareFrame(320, 240, 140, 100, 40), { x: 140, y: 100, width: 40, height: 40 });
    await tracker.track(squareFrame(320, 240, 140, 100, 40));
    fake.graphActive = false;
    fake.warnings.push('CUDA graph failed (cudaGraphLaunch: unspecified launch failure); this tracker runs without a CUDA graph from now on');
    fake.failTrack = nativeError('ERR_CUDA', 'the frame failed too');
    await t.throwsAsync(tracker.track(squareFrame(320, 240, 140, 100, 40)), coded('ERR_CUDA'));
    fake.failTrack = undefined;
    await new Promise((resolve) => setImmediate(resolve));
    const ours = seen.filter((w) => (w as { code?: string }).code === 'CT_EDGE_CUDA_GRAPH').map((w) => w.message);
    t.is(ours.length, 2, 'one warning per reported failure, even on a frame that failed');
    t.regex(ours[0], /cudaStreamBeginCapture/);
    t.regex(ours[1], /cudaGraphLaunch: unspecified launch failure/);
    t.false(tracker.cudaGraphActive);
    tracker.dispose();
    const plain = new Tracker(engine);
    t.false(plain.cudaGraphActive, 'no graph asked for: inactive');
    plain.dispose();
  } finally {
    process.off('warning', onWarning);
    await engine.dispose();
  }
});

test.serial('frameSize reserves the staging memory when a TensorRT tracker is made (its bytes passed to the native tracker); bad sizes are typed errors', async (t) => {
  const fake = fakeTensorRt();
  const engine = await Engine.load(await engineFile('r.engine', metadata(ostrackTensors, 'fp16')));
  new Tracker(engine, { frameSize: { width: 1920, height: 1080, format: 'nv12' } }).dispose();
  new Tracker(engine, { frameSize: { width: 1280, height: 720, format: 'rgb' } }).dispose();
  new Tracker(engine).dispose();
  t.deepEqual(fake.configs.map((c) => c.reserveBytes), [1920 * 1080 * 1.5, 1280 * 720 * 3, undefined]);
  for (const frameSize of [{ width: 0, height: 10, format: 'rgb' }, { width: 10, height: 10, format: 'yuv' }, { width: 10.5, height: 10, format: 'rgb' }, 'hd']) {
    t.throws(() => new Tracker(engine, { frameSize: frameSize as never }), { ...coded('ERR_INVALID_ARGUMENT'), message: /frameSize must be \{ width, height, format \}/ });
  }
  await engine.dispose();
});

const real = hasSharedData ? test.serial : test.skip;
const skipNote = hasSharedData ? '' : ` (${sharedDataSkipReason})`;

real(`build-engine records the model's conventions, and --verify compares the engine with onnxruntime${skipNote}`, async (t) => {
  const fake = fakeTensorRt('10.3.0', orin, vitTensors);
  // The fake "GPU" tracker runs another network (a 2-block student of VitTrack, same conventions) on
  // onnxruntime: an engine that really differs from its ONNX model, whose differences --verify must report.
  const other = await Engine.load(join(repoRoot, 'models', 'vittrack-student-2.onnx'), { threads: 1 });
  t.teardown(() => other.dispose());
  fake.makeTracker = (config) => {
    const inner = new Tracker(other, { lostThreshold: config.lostThreshold, boxMapping: config.boxMapping });
    return {
      init: (frame, box) => inner.init(frame as never, box as never),
      track: async (frame) => {
        const r = await inner.track(frame as never);
        return { ...r.box, score: r.score, rawScore: r.score, peakX: 0, peakY: 0, lost: r.state === 'lost', timings: { stageMs: 0, preprocessMs: 0, inferMs: 0, postprocessMs: 0 } };
      },
    };
  };
  const enginePath = join(dir, 'vit.engine');
  const { code, stdout } = await runCommand([
    vitTrackPath, '-o', enginePath, '--keep-fp32', 'layernorm,softmax,name:attn', '--workspace', '512',
    '--outputs', 'score=output1,size=output2,offset=output3', '--channel-order', 'bgr', '--box-mapping', 'opencv',
    '--verify', '--samples', '3', '--sequence', join(sequencesDir, 'bag'),
  ]);
  t.is(code, 0);
  t.deepEqual(fake.built, [{ onnx: vitTrackPath, output: enginePath, workspaceMiB: 512, keepFp32: ['layernorm', 'softmax', 'name:attn'] }]);
  t.regex(stdout, /built .*vit\.engine in 1\.5 s with TensorRT 10\.3\.0 for Orin/);
  t.regex(stdout, /precision: fp16, 24 layer\(s\) kept in FP32/);
  const recorded = JSON.parse(await readFile(`${enginePath}.json`, 'utf8')) as TrtEngineMetadata & { modelMetadata: Record<string, string> };
  t.like(recorded, { formatVersion: ENGINE_METADATA_FORMAT, tensorrtVersion: '10.3.0', precision: 'fp16', tf32: false, dlaCore: -1, layerNormDecomposed: false, keepFp32: ['layernorm', 'softmax', 'name:attn'] });
  t.is(recorded.onnx.sha256, createHash('sha256').update(await readFile(vitTrackPath)).digest('hex'), 'sha256 of the ONNX file, by node:crypto');
  t.deepEqual(recorded.tensors, vitTensors);
  t.like(recorded.modelMetadata, { 'ct_edge.outputs': 'score=output1,size=output2,offset=output3', 'ct_edge.channel_order': 'bgr', 'ct_edge.box_mapping': 'opencv' });
  // The engine ran with the recorded conventions and no options.
  t.like(fake.configs[0], { channelOrder: 'bgr', boxMapping: 'opencv', names: { score: 'output1' } });
  t.regex(stdout, /verify: .*vit\.engine \(tensorrt-fp16\) against .*vitTracker\.onnx \(onnxruntime-cpu\)/);
  // What it must report, worked out here: both networks from the same boxes on the same crops.
  const vit = await Engine.load(vitTrackPath, { ...vitTrackOptions, threads: 1 });
  t.teardown(() => vit.dispose());
  const expected = async (samples: Iterable<VerifySample> | AsyncIterable<VerifySample>) => {
    const diffs: number[] = [];
    for await (const s of samples) {
      const [a, b] = [new Tracker(other), new Tracker(vit)];
      a.init(s.frame, s.box);
      b.init(s.frame, s.box);
      diffs.push(Math.abs((await a.track(s.next)).score - (await b.track(s.next)).score));
      a.dispose();
      b.dispose();
    }
    return `${Math.max(...diffs).toFixed(4)} +${(diffs.reduce((x, y) => x + y) / diffs.length).toFixed(4)}`;
  };
  const random = await expected(randomSamples(3));
  const real = await expected(sequenceSamples(join(sequencesDir, 'bag'), 3));
  t.not(random, '0.0000 +0.0000');
  t.regex(stdout, new RegExp(`random frames +3 +${random} +\\d+\\.\\d\\d +\\d/3`));
  t.regex(stdout, new RegExp(`sequence .*bag +3 +${real} +\\d+\\.\\d\\d +\\d/3`));
  t.notRegex(stdout, /bag +3 +0\.0000 +0\.0000 +0\.00 /, 'a network compared with itself would show zeros');
});

test.serial('on TensorRT 8.5 build-engine spells LayerNormalization out and keeps those layers in FP32 by name; on 10.3 it does not', async (t) => {
  const old = fakeTensorRt('8.5.2');
  const enginePath = join(dir, 'student-85.engine');
  const { stdout } = await runCommand([studentPath, '-o', enginePath, '--no-verify']);
  const [sent] = old.built;
  t.truthy(sent.onnxData, 'the rewritten model goes to the addon in memory');
  const rewritten = parseOnnxModel(sent.onnxData!);
  t.false('LayerNormalization' in rewritten.opTypes);
  t.true((rewritten.opTypes.ReduceMean ?? 0) > 0);
  t.deepEqual(sent.keepFp32, ['name:/LayerNormDecomposed/', 'softmax']);
  t.is(sent.onnx, studentPath, 'the file still names the model (messages, external weights)');
  const meta = JSON.parse(await readFile(`${enginePath}.json`, 'utf8')) as TrtEngineMetadata;
  t.like(meta, { tensorrtVersion: '8.5.2', layerNormDecomposed: true, keepFp32: ['layernorm', 'softmax'] });
  t.is(meta.onnx.sha256, createHash('sha256').update(await readFile(studentPath)).digest('hex'), 'the hash is of the file as it is');
  t.regex(stdout, /LayerNormalization spelled out in primitive ops/);

  const current = fakeTensorRt('10.3.0');
  await runCommand([studentPath, '-o', join(dir, 'student-103.engine')]);
  t.is(current.built[0].onnxData, undefined);
  t.deepEqual(current.built[0].keepFp32, ['layernorm', 'softmax']);
});

/** The tensors of models/student-2.onnx as an engine has them (64/128 px crops, 8x8 maps). */
const studentTensors = trackerTensors(64, 128, 8);

test.serial("build-engine reports what the kept layers run in after the build, and on TensorRT 8.5 (JetPack 5.1) verifies unless --no-verify", async (t) => {
  const old = fakeTensorRt('8.5.2', orin, studentTensors);
  // The inspector's JSON: one kept layer in FP32, one fused into an FP16 kernel, one inside a Myelin region.
  old.kept = {
    layers: ['blocks.0.norm1', 'blocks.0.attn.softmax', 'blocks.1.norm2'],
    information: JSON.stringify({
      Layers: [
        { Name: 'blocks.0.norm1', LayerType: 'Normalization', Outputs: [{ Name: 'a', 'Format/Datatype': 'Row major linear FP32' }] },
        { Name: 'blocks.0.attn.scores + blocks.0.attn.softmax', LayerType: 'Fused', Outputs: [{ Name: 'b', 'Format/Datatype': 'Row major linear FP16 format' }] },
        { Name: '{ForeignNode[blocks.1.norm1...blocks.1.mlp.fc2]}', LayerType: 'Myelin', Outputs: [{ Name: 'c', 'Format/Datatype': 'Row major linear FP16 format' }] },
      ],
      Bindings: ['template', 'search'],
    }),
  };
  const verified = await runCommand([studentPath, '-o', join(dir, 'student-85v.engine')]);
  t.is(verified.code, 0);
  t.regex(verified.stdout, /kept in FP32, as built: 1 of 3 layers in FP32, 1 in FP16, 1 inside fused regions/);
  t.regex(verified.stdout, /warning: fused into FP16 despite --keep-fp32: blocks\.0\.attn\.softmax; check the engine with --verify/);
  t.regex(verified.stdout, /verify runs by default on TensorRT 8\.5\.2 .*--no-verify skips it/);
  t.regex(verified.stdout, /random frames/);
  const skipped = await runCommand([studentPath, '-o', join(dir, 'student-85n.engine'), '--no-verify']);
  t.notRegex(skipped.stdout, /verify runs|random frames/);
  fakeTensorRt('10.3.0', orin, studentTensors);
  const current = await runCommand([studentPath, '-o', join(dir, 'student-103v.engine')]);
  t.notRegex(current.stdout, /verify runs|random frames|kept in FP32, as built/, 'TensorRT 10 parses LayerNormalization: no comparison unless asked; no layers reported kept');
  await t.throwsAsync(buildEngineCommand.run([studentPath, '--verify', '--no-verify']), { ...coded('ERR_INVALID_ARGUMENT'), message: /--verify or --no-verify, not both/ });
});

test('keptLayerPrecision reads the inspector: fused names, half and single formats, and anything unreadable as unseen', (t) => {
  const info = JSON.stringify({
    Layers: [
      { Name: 'x + ln', Outputs: [{ 'Format/Datatype': 'Channel major FP16 format where channel % 8 == 0' }] },
      { Name: 'sm', Outputs: [{ 'Format/Datatype': 'Row major linear Float' }] },
      { Name: 'nofmt' },
      'a name only',
    ],
  });
  t.deepEqual(keptLayerPrecision(info, ['ln', 'sm', 'nofmt', 'gone']), { fp32: ['sm'], fp16: ['ln'], unseen: ['nofmt', 'gone'] });
  t.deepEqual(keptLayerPrecision('not json', ['ln']), { fp32: [], fp16: [], unseen: ['ln'] });
});

test.serial('build-engine passes --tf32, --obey-precision, --dla and --opt-level and records them; bad values are refused first', async (t) => {
  const fake = fakeTensorRt('10.3.0');
  const enginePath = join(dir, 'student-dla.engine');
  const { stdout } = await runCommand([studentPath, '-o', enginePath, '--tf32', '--obey-precision', '--dla', '1', '--opt-level', '2']);
  t.like(fake.built[0], { tf32: true, obeyPrecision: true, dlaCore: 1, optLevel: 2 });
  t.like(JSON.parse(await readFile(`${enginePath}.json`, 'utf8')) as TrtEngineMetadata, { tf32: true, obeyPrecision: true, dlaCore: 1, optLevel: 2 });
  t.regex(stdout, /TF32 on; DLA core 1 with GPU fallback; optimisation level 2/);
  t.regex(stdout, /kept in FP32 \(layernorm, softmax; obeyed\)/);
  for (const [args, message] of [
    [['--dla', '16'], /--dla must be a whole number from 0 to 15/],
    [['--opt-level', '6'], /--opt-level must be a whole number from 0 to 5/],
    [['--dla', '0', '--fp32'], /DLA runs FP16/],
    [['--dry-run', '--verify'], /--dry-run builds nothing/],
  ] as const) {
    await t.throwsAsync(buildEngineCommand.run([studentPath, ...args]), { ...coded('ERR_INVALID_ARGUMENT'), message }, args.join(' '));
  }
  t.is(fake.built.length, 1);
});

test.serial('--dry-run prints the equivalent trtexec command for the TensorRT in use and builds nothing', async (t) => {
  const fake = fakeTensorRt('10.3.0');
  const ten = await runCommand([studentPath, '-o', 's.engine', '--timing-cache', 't.cache', '--opt-level', '4', '--dla', '0', '--dry-run']);
  t.is(ten.code, 0);
  t.deepEqual(fake.built, []);
  // Paths of the machine the command is meant for need not exist here.
  const elsewhere = await runCommand([studentPath, '-o', '/nonexistent-ct-edge-folder/s.engine', '--timing-cache', '/nonexistent-ct-edge-folder/t.cache', '--dry-run']);
  t.is(elsewhere.code, 0);
  const line = ten.stdout.split('\n').find((l) => l.startsWith('trtexec '))!;
  t.truthy(line, ten.stdout);
  for (const flag of [`--onnx=${studentPath}`, '--saveEngine=s.engine', '--fp16', '--noTF32', '--memPoolSize=workspace:1024', '--timingCacheFile=t.cache',
    '--builderOptimizationLevel=4', '--useDLACore=0', '--allowGPUFallback', '--precisionConstraints=prefer', '--skipInference']) {
    t.true(line.split(' ').includes(flag), `${flag} in ${line}`);
  }
  const nodes = parseOnnxModel(await readFile(studentPath)).opTypes;
  const precisions = line.split(' ').find((w) => w.startsWith('--layerPrecisions='))!.slice('--layerPrecisions='.length).split(',');
  t.is(precisions.length, (nodes.LayerNormalization ?? 0) + (nodes.Softmax ?? 0), 'one entry per LayerNormalization and Softmax node');
  t.true(precisions.every((p) => p.endsWith(':fp32')) && precisions.includes('blocks.0.norm1:fp32'));
  t.regex(ten.stdout, /TensorRT 10\.3\.0/);
  t.false(line.includes('--inputIOFormats'), 'DLA builds keep FP32 inputs');
  const gpuOnly = (await runCommand([studentPath, '-o', 's.engine', '--dry-run'])).stdout.split('\n').find((l) => l.startsWith('trtexec '))!;
  t.true(gpuOnly.split(' ').includes('--inputIOFormats=fp16:chw,fp16:chw'), `FP16 inputs, which the crop kernel writes: ${gpuOnly}`);
  const fp32 = (await runCommand([studentPath, '-o', 's.engine', '--dry-run', '--fp32'])).stdout.split('\n').find((l) => l.startsWith('trtexec '))!;
  t.false(fp32.includes('--inputIOFormats'));

  fakeTensorRt('8.5.2');
  const old = await runCommand([studentPath, '--dry-run', '--tf32']);
  const oldLine = old.stdout.split('\n').find((l) => l.startsWith('trtexec '))!;
  t.true(oldLine.includes('--buildOnly') && !oldLine.includes('--noTF32') && oldLine.includes('/LayerNormDecomposed/'), oldLine);
  t.regex(old.stdout, /cannot parse LayerNormalization: give trtexec a model with it spelled out \(`ct-edge export --decompose-layernorm`\)/);

  fakeTensorRt('11.1.0');
  const eleven = await runCommand([studentPath, '--dry-run']);
  const elevenLine = eleven.stdout.split('\n').find((l) => l.startsWith('trtexec '))!;
  t.false(elevenLine.includes('--fp16') || elevenLine.includes('--layerPrecisions'), elevenLine);
  t.regex(eleven.stdout, /strongly typed/);
});
