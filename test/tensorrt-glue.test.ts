/**
 * The TypeScript glue of the TensorRT backend, against a fake `exports.tensorrt` injected with
 * overrideNative(): Engine.load routes .engine files to it and resolves the ModelConfig from the
 * engine's tensors and the conventions recorded beside it; Tracker delegates to the native
 * TrtTracker and maps its results, timings and coded errors; build-engine records the model's
 * conventions and --verify compares the two backends. No GPU or TensorRT is involved: what the
 * native side does with these calls is not tested here.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as buildEngineCommand } from '../ts/cli/commands/build-engine.js';
import { CtEdgeError, Engine, Tracker, type ErrorCode } from '../ts/index.js';
import {
  loadNative,
  overrideNative,
  type TensorRtBinding,
  type TrtBuildOptions,
  type TrtEngine,
  type TrtEngineMetadata,
  type TrtTensorInfo,
  type TrtTrackerConfig,
  type TrtTrackUpdate,
} from '../ts/deploy/native.js';
import { squareFrame } from './helpers/frames.js';
import { hasSharedData, sequencesDir, sharedDataSkipReason, vitTrackOptions, vitTrackPath } from './helpers/data.js';

const coded = (code: string) => ({ instanceOf: CtEdgeError, code: code as ErrorCode });
const nativeError = (code: string, message: string) => Object.assign(new Error(message), { code });

const ostrackTensors: TrtTensorInfo[] = [
  { name: 'template', io: 'input', dtype: 'float32', shape: [1, 3, 128, 128] },
  { name: 'search', io: 'input', dtype: 'float32', shape: [1, 3, 256, 256] },
  { name: 'score_map', io: 'output', dtype: 'float32', shape: [1, 1, 16, 16] },
  { name: 'size_map', io: 'output', dtype: 'float32', shape: [1, 2, 16, 16] },
  { name: 'offset_map', io: 'output', dtype: 'float32', shape: [1, 2, 16, 16] },
];

function metadata(tensors: TrtTensorInfo[], precision: TrtEngineMetadata['precision']): TrtEngineMetadata {
  return {
    formatVersion: 1,
    tensorrtVersion: '10.3.0',
    gpu: { name: 'Orin (nvgpu)', computeCapability: '8.7' },
    precision,
    keepFp32: precision === 'fp16' ? ['layernorm', 'softmax'] : [],
    fp32Layers: precision === 'fp16' ? 24 : 0,
    onnx: { path: 'student.onnx', sha256: '00' },
    builtAt: '2026-11-25T00:00:00Z',
    tensors,
  };
}

/** What the fake saw, and what it answers. */
interface Fake {
  binding: TensorRtBinding;
  loaded: string[];
  configs: TrtTrackerConfig[];
  inits: object[];
  built: TrtBuildOptions[];
  disposed: { engines: number; trackers: number };
  /** Set to make the next call fail the way the addon fails (an Error with a `code`). */
  failLoad?: Error;
  failTrack?: Error;
  failInit?: Error;
  update: TrtTrackUpdate;
  /** Builds trackers for loaded engines; default: answers `update`. */
  makeTracker?: (config: TrtTrackerConfig) => { init(frame: object, box: object): void; track(frame: object): Promise<TrtTrackUpdate> };
}

/** A stand-in for exports.tensorrt: loadEngine reads `<path>.json` as the native loader does. */
function fakeTensorRt(): Fake {
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
    dispose(): void {
      fake.disposed.trackers += 1;
    }
  }
  fake.binding = {
    version: '10.3.0',
    compiledVersion: '10.3.0',
    async loadEngine(path) {
      if (fake.failLoad) throw fake.failLoad;
      fake.loaded.push(path);
      const json = await readFile(`${path}.json`, 'utf8').catch(() => undefined);
      const meta = json ? (JSON.parse(json) as TrtEngineMetadata) : null;
      return { path, tensors: meta?.tensors ?? ostrackTensors, metadata: meta, dispose: () => void (fake.disposed.engines += 1) };
    },
    async buildEngine(options) {
      fake.built.push(options);
      const enginePath = options.output ?? options.onnx.replace(/\.onnx$/, '.engine');
      const m = metadata(vitTensors, options.fp16 === false ? 'fp32' : 'fp16');
      await writeFile(enginePath, 'engine');
      await writeFile(`${enginePath}.json`, JSON.stringify(m));
      return { enginePath, metadataPath: `${enginePath}.json`, metadata: m, fastFp16: true, timingCacheLoaded: false, timingCacheSaved: false, seconds: 1.5 };
    },
    TrtTracker: FakeTrtTracker,
  };
  overrideNative({ ...loadNative(), features: { cuda: true, tensorrt: true }, tensorrt: fake.binding });
  return fake;
}

const vitTensors: TrtTensorInfo[] = ostrackTensors.map((t, i) => (i < 2 ? t : { ...t, name: `output${i - 1}` }));

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
  t.deepEqual(fake.loaded, [path]);
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

test.serial('fp32 engines and engines without metadata (trtexec) report their backend', async (t) => {
  fakeTensorRt();
  const fp32 = await Engine.load(await engineFile('b.plan', metadata(ostrackTensors, 'fp32')));
  t.is(fp32.backend, 'tensorrt-fp32');
  const bare = await Engine.load(await engineFile('c.engine', undefined));
  t.is(bare.backend, 'tensorrt');
  t.is(bare.config.featureSize, 16);
  await fp32.dispose();
  await bare.dispose();
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
  const tracker = new Tracker(engine, { lostThreshold: 0.4, cudaGraph: true });
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

const real = hasSharedData ? test.serial : test.skip;
const skipNote = hasSharedData ? '' : ` (${sharedDataSkipReason})`;

real(`build-engine records the model's conventions, and --verify compares the engine with onnxruntime${skipNote}`, async (t) => {
  const fake = fakeTensorRt();
  // The fake "GPU" tracker runs the same ONNX model on onnxruntime, so the two sides must agree exactly.
  const onnx = await Engine.load(vitTrackPath, { ...vitTrackOptions, threads: 1 });
  t.teardown(() => onnx.dispose());
  fake.makeTracker = (config) => {
    const inner = new Tracker(onnx, { lostThreshold: config.lostThreshold, boxMapping: config.boxMapping });
    return {
      init: (frame, box) => inner.init(frame as never, box as never),
      track: async (frame) => {
        const r = await inner.track(frame as never);
        return { ...r.box, score: r.score, rawScore: r.score, peakX: 0, peakY: 0, lost: r.state === 'lost', timings: { stageMs: 0, preprocessMs: 0, inferMs: 0, postprocessMs: 0 } };
      },
    };
  };
  const enginePath = join(dir, 'vit.engine');
  const out: string[] = [];
  const { log } = console;
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  let code: number;
  try {
    code = await buildEngineCommand.run([
      vitTrackPath, '-o', enginePath, '--keep-fp32', 'layernorm,softmax,name:attn', '--workspace', '512',
      '--outputs', 'score=output1,size=output2,offset=output3', '--channel-order', 'bgr', '--box-mapping', 'opencv',
      '--verify', '--samples', '3', '--sequence', join(sequencesDir, 'bag'),
    ]);
  } finally {
    console.log = log;
  }
  const stdout = out.join('\n');
  t.is(code, 0);
  t.deepEqual(fake.built, [{ onnx: vitTrackPath, output: enginePath, workspaceMiB: 512, keepFp32: ['layernorm', 'softmax', 'name:attn'] }]);
  t.regex(stdout, /built .*vit\.engine in 1\.5 s with TensorRT 10\.3\.0 for Orin/);
  t.regex(stdout, /precision: fp16, 24 layer\(s\) kept in FP32/);
  const recorded = JSON.parse(await readFile(`${enginePath}.json`, 'utf8')) as { tensorrtVersion: string; modelMetadata: Record<string, string> };
  t.is(recorded.tensorrtVersion, '10.3.0', 'the native metadata is kept');
  t.like(recorded.modelMetadata, { 'ct_edge.outputs': 'score=output1,size=output2,offset=output3', 'ct_edge.channel_order': 'bgr', 'ct_edge.box_mapping': 'opencv' });
  // The engine ran with the recorded conventions and no options.
  t.like(fake.configs[0], { channelOrder: 'bgr', boxMapping: 'opencv', names: { score: 'output1' } });
  t.regex(stdout, /verify: .*vit\.engine \(tensorrt-fp16\) against .*vitTracker\.onnx \(onnxruntime-cpu\)/);
  t.regex(stdout, /random frames +3 +0\.0000 +0\.0000 +0\.00 +3\/3 \(100%\)/);
  t.regex(stdout, /sequence .*bag +3 +0\.0000 +0\.0000 +0\.00 +3\/3 \(100%\)/);
});
