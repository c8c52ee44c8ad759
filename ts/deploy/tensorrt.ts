/**
 * The TypeScript side of the TensorRT backend (native/tensorrt): finding it in the addon, loading an
 * engine with the model conventions recorded beside it, and building one. Only addons built by
 * cmake-js on a machine with CUDA and TensorRT have it (`npm run build:native:cmake`); without it
 * every entry point says what to install or set.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { readOnnxModel } from '../contract/onnx-reader.js';
import { CtEdgeError, fromNative } from '../contract/errors.js';
import { metadataFromConfig, optionsFromMetadata, resolveModelConfig, type ModelConfig, type ModelOptions, type TensorSignature } from '../contract/model-config.js';
import { loadNative, type TensorRtBinding, type TrtBuildOptions, type TrtBuildReport, type TrtEngine, type TrtEngineMetadata } from './native.js';

/** `tensorrt` alone: the precision is not recorded (no metadata file, or TensorRT 11's strongly typed engines). */
export type TensorRtBackend = 'tensorrt-fp16' | 'tensorrt-fp32' | 'tensorrt';

/** What to install or set to get the TensorRT backend, after the reason this build lacks it. */
export function tensorRtGuidance(): string {
  const build = loadNative().build;
  const why = build ? `cmake-js did not find it: ${build.tensorrt.whyNot}` : 'the addon was built by node-gyp (`npm install`), which builds the CPU backend only';
  return (
    `this build of ct-edge has no TensorRT backend (${why}). To get it: on a Jetson, CUDA and TensorRT come with ` +
    'JetPack (5.1: TensorRT 8.5 and CUDA 11.4; 6: TensorRT 10.3 and CUDA 12.6; headers missing? ' +
    '`sudo apt-get install nvidia-tensorrt-dev`); run `npm run build:native:cmake` in the ct-edge package. On a desktop ' +
    'with an NVIDIA GPU: install the CUDA toolkit and TensorRT 8.5 or newer, then run ' +
    '`TENSORRT_ROOT=/path/to/TensorRT CUDA_PATH=/usr/local/cuda npm run build:native:cmake`. `ct-edge doctor` shows what ' +
    'the build found. Meanwhile the .onnx model runs on onnxruntime (CPU).'
  );
}

/** The addon's TensorRT binding, or ERR_BACKEND_UNAVAILABLE saying how to get it; `what` starts the message. */
export function tensorRtBinding(what: string): TensorRtBinding {
  const trt = loadNative().tensorrt;
  if (!trt) throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `${what}, but ${tensorRtGuidance()}`);
  return trt;
}

function backendOf(metadata: TrtEngineMetadata | null): TensorRtBackend {
  if (metadata?.precision === 'fp16') return 'tensorrt-fp16';
  if (metadata?.precision === 'fp32') return 'tensorrt-fp32';
  return 'tensorrt';
}

/**
 * The ONNX model's ct-edge metadata_props (channel order, crop factors, box mapping, ...), which an
 * engine cannot carry: buildEngine() records them in `<engine>.json` under this key. The native
 * metadata reader ignores keys it does not know.
 */
const RECORDED_KEY = 'modelMetadata';

async function recordedModelOptions(enginePath: string): Promise<ModelOptions> {
  const text = await readFile(`${enginePath}.json`, 'utf8').catch(() => undefined);
  if (text === undefined) return {};  // engines from trtexec have no metadata: names and shapes still come from the engine
  const recorded = (JSON.parse(text) as Record<string, unknown>)[RECORDED_KEY];
  return recorded && typeof recorded === 'object' ? optionsFromMetadata(recorded as Record<string, string>) : {};
}

export interface LoadedTensorRtEngine {
  handle: TrtEngine;
  config: ModelConfig;
  backend: TensorRtBackend;
}

/**
 * Deserialises an engine (refused when it was built for another TensorRT version or GPU) and
 * resolves its ModelConfig: `options` over the conventions recorded at build time over the engine's
 * own tensor names and shapes.
 */
export async function loadTensorRtEngine(path: string, options: ModelOptions): Promise<LoadedTensorRtEngine> {
  const trt = tensorRtBinding(`${path} is a TensorRT engine`);
  let handle: TrtEngine;
  try {
    handle = await trt.loadEngine(path);
  } catch (error) {
    fromNative(error);
  }
  try {
    const signature = (io: 'input' | 'output'): TensorSignature[] =>
      handle.tensors.filter((t) => t.io === io).map((t) => ({ name: t.name, shape: t.shape.map((d) => (d >= 0 ? d : 'dynamic')) }));
    const config = resolveModelConfig({ inputs: signature('input'), outputs: signature('output') }, await recordedModelOptions(path), options);
    return { handle, config, backend: backendOf(handle.metadata) };
  } catch (error) {
    handle.dispose();
    throw error;
  }
}

export interface BuildEngineOptions extends TrtBuildOptions {
  /** Applied over the ONNX model's metadata, as for Engine.load; recorded beside the engine. */
  modelOptions?: ModelOptions;
}

export interface BuiltEngine extends TrtBuildReport {
  /** The model's conventions, as recorded in the metadata file. */
  config: ModelConfig;
}

/**
 * Builds a TensorRT engine for this machine's GPU from an ONNX model and writes `<engine>.json`
 * beside it. The model's tensors and options are checked before the (minutes-long) build.
 */
export async function buildEngine(options: BuildEngineOptions): Promise<BuiltEngine> {
  const trt = tensorRtBinding(`cannot build a TensorRT engine from ${options.onnx}`);
  if (!(await stat(options.onnx).catch(() => undefined))?.isFile()) {
    throw new CtEdgeError('ERR_MODEL_NOT_FOUND', `ONNX model not found: ${options.onnx}`);
  }
  const { modelOptions, ...buildOptions } = options;
  const model = await readOnnxModel(options.onnx);
  const config = resolveModelConfig(model, optionsFromMetadata(model.metadata), modelOptions ?? {});
  let report: TrtBuildReport;
  try {
    report = await trt.buildEngine(buildOptions);
  } catch (error) {
    fromNative(error);
  }
  const json = JSON.parse(await readFile(report.metadataPath, 'utf8')) as Record<string, unknown>;
  json[RECORDED_KEY] = metadataFromConfig(config);
  await writeFile(report.metadataPath, `${JSON.stringify(json, null, 2)}\n`);
  return { ...report, config };
}
