/**
 * The TypeScript side of the TensorRT backend (native/tensorrt): finding it in the addon, loading an
 * engine with the model conventions recorded beside it, and building one. Only addons built with
 * CUDA and TensorRT have it (`npx ct-edge build-native`); without it every entry point says what to
 * install or run.
 *
 * The metadata file beside an engine (`<engine>.json`) is written and read here, with JSON and
 * node:crypto: the addon takes and returns plain values. Reading it checks every field it uses,
 * so a truncated or hostile file is an ERR_ENGINE_METADATA, never a crash.
 */
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile, rename, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { CtEdgeError, fromNative } from '../contract/errors.js';
import { metadataFromConfig, optionsFromMetadata, resolveModelConfig, TWO_PART_METADATA, type ModelConfig, type ModelOptions } from '../contract/model-config.js';
import { decomposeLayerNorm, LAYERNORM_DECOMPOSED_MARKER, onnxNodes } from '../contract/onnx-layernorm.js';
import { parseOnnxModel } from '../contract/onnx-reader.js';
import { loadNative, type TensorRtBinding, type TrtBuildOptions, type TrtBuildReport, type TrtEngine } from './native.js';
import { checkTemplatePart, twoPartTemplatePath, type PartTensor } from './two-part.js';

/** `tensorrt` alone: the precision is not recorded (no metadata file, or TensorRT 11's strongly typed engines). */
export type TensorRtBackend = 'tensorrt-fp16' | 'tensorrt-fp32' | 'tensorrt';

/** The command that builds the GPU addon inside an installed ct-edge (ts/cli/commands/build-native.ts). */
export const BUILD_NATIVE_COMMAND = 'npx ct-edge build-native';

/** What to install or run to get the TensorRT backend, after the reason this build lacks it. */
export function tensorRtGuidance(): string {
  const build = loadNative().build;
  const why = build ? `the GPU build did not find it: ${build.tensorrt.whyNot}` : 'the addon was built by node-gyp (`npm install`), which builds the CPU backend only';
  return (
    `this build of ct-edge has no TensorRT backend (${why}). To get it, run \`${BUILD_NATIVE_COMMAND}\`: it finds CUDA and ` +
    'TensorRT, builds the GPU addon inside the installed package and says what is missing. On a Jetson they come with JetPack ' +
    '(5.1: TensorRT 8.5 and CUDA 11.4; 6.0: TensorRT 8.6 and CUDA 12.2; 6.1/6.2: TensorRT 10.3 and CUDA 12.6; headers missing? ' +
    '`sudo apt-get install nvidia-tensorrt-dev`). On a desktop with an NVIDIA GPU, install the CUDA toolkit and TensorRT 8.5 or ' +
    `newer, then \`${BUILD_NATIVE_COMMAND} --tensorrt-root /path/to/TensorRT --cuda-path /usr/local/cuda\` (or set TENSORRT_ROOT and ` +
    'CUDA_PATH). `ct-edge doctor` shows what the build found. Meanwhile the .onnx model runs on onnxruntime (CPU).'
  );
}

/** The addon's TensorRT binding, or ERR_BACKEND_UNAVAILABLE saying how to get it; `what` starts the message. */
export function tensorRtBinding(what: string): TensorRtBinding {
  const trt = loadNative().tensorrt;
  if (!trt) throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `${what}, but ${tensorRtGuidance()}`);
  return trt;
}

/** `[major, minor, patch]` of "10.3.0" (missing parts 0). */
function versionParts(version: string): number[] {
  return version.split('.').map((p) => Number.parseInt(p, 10) || 0);
}

/** True when `version` is `major.minor` or newer. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a, b] = versionParts(version);
  return a > major || (a === major && b >= minor);
}

/** TensorRT's ONNX parser reads LayerNormalization from 8.6 on (onnx-tensorrt 8.6-GA added it). */
export function parsesLayerNorm(tensorRtVersion: string): boolean {
  return versionAtLeast(tensorRtVersion, 8, 6);
}

// ---- the metadata file ---------------------------------------------------------------------------

/**
 * `<engine>.json` beside an engine: what it was built with and for (the build report's TensorRT
 * version, GPU, precision, TF32 choice, layers kept in FP32, DLA core, optimisation level and
 * tensors), how, and the model's conventions.
 */
export interface TrtEngineMetadata extends Pick<TrtBuildReport, 'tensorrtVersion' | 'gpu' | 'precision' | 'tf32' | 'fp32Layers' | 'dlaCore' | 'optLevel' | 'maxBatch' | 'tensors'> {
  /** 2 since the file is written by TypeScript (1: older ct-edge, still read). */
  formatVersion: number;
  /** The kinds asked for (the user's, before any rewrite of "layernorm" into layer names). */
  keepFp32: string[];
  obeyPrecision: boolean;
  /** LayerNormalization was spelled out in primitive ops before parsing (TensorRT < 8.6). */
  layerNormDecomposed: boolean;
  onnx: { path: string; sha256: string };
  builtAt: string;
  /** The ONNX model's ct-edge metadata_props (channel order, crop factors, ...), which an engine cannot carry. */
  modelMetadata?: Record<string, string>;
  /** A two-part model's per-frame engine: the file name of its template engine, beside it. */
  templateEngine?: string;
  /** And that engine file's sha256: a template engine from another build is refused at load. */
  templateEngineSha256?: string;
  /** 'template': a two-part model's template engine (load its per-frame engine instead). */
  part?: 'template';
}

export const ENGINE_METADATA_FORMAT = 2;
/** build-engine --max-batch's limit: the targets one crop launch takes (native/cuda/preprocess.h kMaxBatchCrops). */
export const MAX_ENGINE_BATCH = 64;
/** A metadata file is a few kB; anything this large is not one. */
const METADATA_MAX_BYTES = 1 << 20;

export function metadataPathFor(enginePath: string): string {
  return `${enginePath}.json`;
}

/**
 * Parses and checks the text of `<engine>.json` (`path` names it in errors). Every field is checked
 * for its type and range; unknown fields are ignored. Throws ERR_ENGINE_METADATA saying what is wrong
 * and that build-engine rewrites the file.
 */
export function parseEngineMetadata(text: string, path: string): TrtEngineMetadata {
  const bad = (what: string): never => {
    throw new CtEdgeError('ERR_ENGINE_METADATA', `the engine metadata ${path} ${what}; rebuild the engine with ct-edge build-engine, which rewrites it (or delete the file to load the engine without its checks)`);
  };
  if (text.length > METADATA_MAX_BYTES) bad(`is ${text.length} bytes, too large for an engine metadata file`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return bad(`is not valid JSON (${(error as Error).message})`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(json)) return bad('is not a JSON object');
  const own = (o: Record<string, unknown>, key: string): unknown => (Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined);
  const string = (o: Record<string, unknown>, key: string, where: string, pattern?: RegExp): string => {
    const v = own(o, key);
    if (typeof v !== 'string' || (pattern && !pattern.test(v))) bad(`has ${where} ${v === undefined ? 'missing' : JSON.stringify(v)?.slice(0, 80)}${pattern ? ` (expected ${pattern.source})` : ''}`);
    return v as string;
  };
  const optional = <T>(o: Record<string, unknown>, key: string, check: (v: unknown) => v is T, fallback: T, what: string): T => {
    const v = own(o, key);
    if (v === undefined) return fallback;
    if (!check(v)) bad(`has ${key} ${JSON.stringify(v)?.slice(0, 80)}, not ${what}`);
    return v as T;
  };
  const int = (min: number, max: number) => (v: unknown): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
  const bool = (v: unknown): v is boolean => typeof v === 'boolean';
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 1000 && v.every((s) => typeof s === 'string');

  const formatVersion = optional(json, 'formatVersion', int(1, Number.MAX_SAFE_INTEGER), 1, 'a format version');
  if (formatVersion > ENGINE_METADATA_FORMAT) bad(`has format version ${formatVersion}, written by a newer ct-edge than this one (${ENGINE_METADATA_FORMAT})`);
  const version = /^\d{1,3}\.\d{1,3}\.\d{1,3}$/;
  const gpu = own(json, 'gpu');
  if (!isObject(gpu)) return bad('has no gpu object');
  const precision = string(json, 'precision', 'precision', /^(fp16|fp32|strongly-typed)$/) as TrtEngineMetadata['precision'];
  const onnx = optional(json, 'onnx', isObject, {}, 'an object');
  const tensors = optional(json, 'tensors', (v): v is unknown[] => Array.isArray(v) && v.length <= 1000, [], 'an array of tensors').map((t, i) => {
    if (!isObject(t)) return bad(`has tensors[${i}] that is not an object`);
    const shape = own(t, 'shape');
    if (!Array.isArray(shape) || shape.length > 16 || !shape.every(int(-1, 2 ** 31 - 1))) bad(`has tensors[${i}].shape that is not a list of dimensions`);
    return {
      name: string(t, 'name', `tensors[${i}].name`),
      io: string(t, 'io', `tensors[${i}].io`, /^(input|output)$/) as 'input' | 'output',
      dtype: string(t, 'dtype', `tensors[${i}].dtype`),
      shape: shape as number[],
    };
  });
  const recorded = optional(json, 'modelMetadata', isObject, undefined as unknown as Record<string, unknown>, 'an object');
  // A file name beside the engine (no folder: twoPartTemplatePath refuses one with a typed error).
  const templateEngine = optional(json, 'templateEngine', (v): v is string | undefined => typeof v === 'string' && v.length > 0 && v.length <= 255, undefined, 'a file name');
  const part = optional(json, 'part', (v): v is 'template' | undefined => v === 'template', undefined, "'template'");
  const templateEngineSha256 = optional(json, 'templateEngineSha256', (v): v is string | undefined => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v), undefined, 'a sha256 in hex');
  if (recorded && !Object.values(recorded).every((v) => typeof v === 'string')) bad('has modelMetadata values that are not strings');
  return {
    formatVersion,
    tensorrtVersion: string(json, 'tensorrtVersion', 'tensorrtVersion', version),
    gpu: { name: string(gpu, 'name', 'gpu.name'), computeCapability: string(gpu, 'computeCapability', 'gpu.computeCapability', /^\d{1,2}\.\d{1,2}$/) },
    precision,
    // Format 1 did not record TF32: those engines were built with TensorRT's default, TF32 on.
    tf32: optional(json, 'tf32', bool, formatVersion < 2, 'true or false'),
    keepFp32: optional(json, 'keepFp32', strings, [], 'a list of layer kinds'),
    fp32Layers: optional(json, 'fp32Layers', int(0, 2 ** 31 - 1), 0, 'a layer count'),
    obeyPrecision: optional(json, 'obeyPrecision', bool, formatVersion < 2, 'true or false'),
    dlaCore: optional(json, 'dlaCore', int(-1, 15), -1, 'a DLA core from -1 to 15'),
    optLevel: optional(json, 'optLevel', int(-1, 5), -1, 'an optimisation level from -1 to 5'),
    maxBatch: optional(json, 'maxBatch', int(1, MAX_ENGINE_BATCH), 1, `a batch from 1 to ${MAX_ENGINE_BATCH}`),
    layerNormDecomposed: optional(json, 'layerNormDecomposed', bool, false, 'true or false'),
    onnx: {
      path: optional(onnx, 'path', (v): v is string => typeof v === 'string', '', 'a path'),
      sha256: optional(onnx, 'sha256', (v): v is string => typeof v === 'string' && /^([0-9a-f]{64})?$/.test(v), '', 'a sha256 in hex'),
    },
    builtAt: optional(json, 'builtAt', (v): v is string => typeof v === 'string', '', 'a date'),
    tensors,
    ...(recorded ? { modelMetadata: { ...(recorded as Record<string, string>) } } : {}),
    ...(templateEngine !== undefined && { templateEngine }),
    ...(templateEngineSha256 !== undefined && { templateEngineSha256 }),
    ...(part !== undefined && { part }),
  };
}

/** `<engine>.json`, checked; null when there is none (engines from trtexec). */
export async function readEngineMetadata(enginePath: string): Promise<TrtEngineMetadata | null> {
  const path = metadataPathFor(enginePath);
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw new CtEdgeError('ERR_IO', `cannot read the engine metadata ${path}: ${error.message}`, { cause: error });
  });
  if (!info) return null;
  if (!info.isFile()) throw new CtEdgeError('ERR_ENGINE_METADATA', `the engine metadata ${path} is not a file`);
  if (info.size > METADATA_MAX_BYTES) throw new CtEdgeError('ERR_ENGINE_METADATA', `the engine metadata ${path} is ${info.size} bytes, too large for an engine metadata file; rebuild the engine with ct-edge build-engine`);
  const text = await readFile(path, 'utf8').catch((error: Error) => {
    throw new CtEdgeError('ERR_IO', `cannot read the engine metadata ${path}: ${error.message}`, { cause: error });
  });
  return parseEngineMetadata(text, path);
}

async function writeTextAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new CtEdgeError('ERR_IO', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** The command that rebuilds `enginePath` the way it was built, for mismatch messages. */
function rebuildCommand(meta: TrtEngineMetadata, enginePath: string): string {
  const flags = [meta.precision === 'fp32' ? '--fp32' : meta.precision === 'fp16' ? '--fp16' : '', meta.tf32 ? '--tf32' : '', meta.dlaCore >= 0 ? `--dla ${meta.dlaCore}` : '']
    .filter(Boolean)
    .join(' ');
  return `npx ct-edge build-engine ${meta.onnx.path || '<model.onnx>'}${flags ? ` ${flags}` : ''} -o ${enginePath}`;
}

/**
 * ERR_ENGINE_MISMATCH when the engine was built by another TensorRT version or for a GPU of another
 * compute capability: TensorRT engines run only where they were built. The message names both and
 * the command that rebuilds the engine here. `gpu` is undefined when no device is usable (the load
 * then fails with ERR_CUDA).
 */
export function checkEngineCompatible(meta: TrtEngineMetadata, enginePath: string, tensorRtVersion: string, gpu: { name: string; computeCapability: string } | undefined): void {
  let why = '';
  if (meta.tensorrtVersion !== tensorRtVersion) {
    why = `it was built with TensorRT ${meta.tensorrtVersion} and this process loaded TensorRT ${tensorRtVersion}`;
  } else if (gpu && meta.gpu.computeCapability !== gpu.computeCapability) {
    why = `it was built for ${meta.gpu.name} (compute capability ${meta.gpu.computeCapability}) and this GPU is ${gpu.name} (compute capability ${gpu.computeCapability})`;
  }
  if (why) {
    throw new CtEdgeError(
      'ERR_ENGINE_MISMATCH',
      `cannot use the TensorRT engine ${enginePath}: ${why}. TensorRT engines only run on the TensorRT version and GPU they were built with; rebuild it on this machine: ${rebuildCommand(meta, enginePath)}`,
    );
  }
  // AGX Orin, Orin NX and Orin Nano share compute capability 8.7: the plan loads on each, but its
  // tactics were timed on one (memory bandwidth, SM count), so it may run slower on another.
  if (gpu && meta.gpu.name && meta.gpu.name !== gpu.name) {
    process.emitWarning(
      `${enginePath} was built on ${meta.gpu.name} and this GPU is ${gpu.name} (both compute capability ${gpu.computeCapability}): it runs, with tactics timed on the other device; rebuild it here for this device's speed: ${rebuildCommand(meta, enginePath)}`,
      { code: 'CT_EDGE_ENGINE_OTHER_DEVICE' },
    );
  }
}

function backendOf(metadata: TrtEngineMetadata | null): TensorRtBackend {
  if (metadata?.precision === 'fp16') return 'tensorrt-fp16';
  if (metadata?.precision === 'fp32') return 'tensorrt-fp32';
  return 'tensorrt';
}

export interface LoadedTensorRtEngine {
  handle: TrtEngine;
  /** A two-part model's template engine (metadata `templateEngine`), loaded with it. */
  templateHandle?: TrtEngine;
  config: ModelConfig;
  backend: TensorRtBackend;
  /** Null for engines without a metadata file (e.g. from trtexec). */
  metadata: TrtEngineMetadata | null;
}

/**
 * Deserialises an engine (refused when its metadata says it was built for another TensorRT version
 * or GPU) and resolves its ModelConfig: `options` over the conventions recorded at build time over
 * the engine's own tensor names and shapes. A two-part model's per-frame engine loads its template
 * engine too, checked to fit it by tensor name, shape and type.
 */
export async function loadTensorRtEngine(path: string, options: ModelOptions): Promise<LoadedTensorRtEngine> {
  const trt = tensorRtBinding(`${path} is a TensorRT engine`);
  const metadata = await readEngineMetadata(path);
  const templatePath = twoPartTemplatePath(path, metadata?.part, metadata?.templateEngine);
  const templateMetadata = templatePath === undefined ? undefined : await readEngineMetadata(templatePath);
  if (templatePath !== undefined) {
    const pair = `${path} and its template engine ${templatePath}`;
    if (templateMetadata && templateMetadata.part !== 'template') {
      throw new CtEdgeError('ERR_MODEL_IO', `${pair}: the latter's metadata does not say it is a template part; build both again with ct-edge build-engine`);
    }
    if (metadata?.templateEngineSha256 && metadata.templateEngineSha256 !== (await sha256File(templatePath))) {
      throw new CtEdgeError('ERR_MODEL_IO', `${pair} come from different builds (the template engine is not the one built with it); build both again with ct-edge build-engine`);
    }
  }
  const device = loadNative().cuda?.probe();
  if (metadata) {
    checkEngineCompatible(metadata, path, trt.version, device?.available ? device : undefined);
    if (templateMetadata) checkEngineCompatible(templateMetadata, templatePath!, trt.version, device?.available ? device : undefined);
  } else {
    process.emitWarning(
      `${path} has no metadata file (${metadataPathFor(path)}, written by ct-edge build-engine): cannot check that it was built for TensorRT ${trt.version} on this GPU, and its conventions (channel order, crop factors, ...) must be given as options`,
      { code: 'CT_EDGE_ENGINE_WITHOUT_METADATA' },
    );
  }
  const load = async (file: string, meta: TrtEngineMetadata | null | undefined): Promise<TrtEngine> => {
    try {
      return await trt.loadEngine(file, { dlaCore: meta?.dlaCore ?? -1 });
    } catch (error) {
      fromNative(error);
    }
  };
  const handle = await load(path, metadata);
  let templateHandle: TrtEngine | undefined;
  try {
    if (templatePath !== undefined) templateHandle = await load(templatePath, templateMetadata);
    const tensors = (engine: TrtEngine, io: 'input' | 'output'): PartTensor[] =>
      engine.tensors.filter((t) => t.io === io).map((t) => ({ name: t.name, shape: t.shape.map((d) => (d >= 0 ? d : 'dynamic')), dtype: t.dtype }));
    const inputs = [...tensors(handle, 'input'), ...(templateHandle ? tensors(templateHandle, 'input') : [])];
    const recorded = metadata?.modelMetadata ? optionsFromMetadata(metadata.modelMetadata) : {};
    const config = resolveModelConfig({ inputs, outputs: tensors(handle, 'output') }, recorded, options);
    if (templateHandle) {
      checkTemplatePart(path, templatePath!, config.inputs.search, tensors(handle, 'input'), { inputs: tensors(templateHandle, 'input'), outputs: tensors(templateHandle, 'output') });
    }
    return { handle, ...(templateHandle && { templateHandle }), config, backend: backendOf(metadata), metadata };
  } catch (error) {
    templateHandle?.dispose();
    handle.dispose();
    throw error;
  }
}

// ---- building ------------------------------------------------------------------------------------

/** buildEngine's options: the addon's (native.ts TrtBuildOptions, less the bytes), the model's, and the rewrite. */
export interface BuildEngineOptions extends Omit<TrtBuildOptions, 'output' | 'onnxData'> {
  /** Default: the ONNX path with .engine. */
  output?: string;
  /**
   * Spell LayerNormalization out in primitive ops before parsing: 'auto' (the default) on TensorRT
   * older than 8.6, whose parser lacks the op; true always; false never.
   */
  decomposeLayerNorm?: boolean | 'auto';
  /** Applied over the ONNX model's metadata, as for Engine.load; recorded beside the engine. */
  modelOptions?: ModelOptions;
}

export interface BuiltEngine extends TrtBuildReport {
  /** A two-part model: its template part's engine, built first. */
  templateEngine?: BuiltEngine;
  metadataPath: string;
  metadata: TrtEngineMetadata;
  /** The model's conventions, as recorded in the metadata file. */
  config: ModelConfig;
  /** Where layers were kept in FP32: what the engine really runs them in (keptLayerPrecision). */
  keptPrecision?: KeptLayerPrecision;
}

/** `model.onnx` -> `model.engine`. */
export function defaultEnginePath(onnx: string): string {
  return `${onnx.replace(/\.onnx$/i, '')}.engine`;
}

/**
 * The keepFp32 kinds to hand the native builder for a model whose LayerNormalization was spelled
 * out: "layernorm" matches no layer type before TensorRT 8.6, so it becomes the decomposed nodes'
 * names (TensorRT names layers after ONNX nodes).
 */
function keepKinds(kinds: string[], decomposed: boolean): string[] {
  if (!decomposed) return kinds;
  return kinds.flatMap((k) => (/^(layernorm|normalization)$/i.test(k) ? [`name:${LAYERNORM_DECOMPOSED_MARKER}`] : [k]));
}

/**
 * --max-batch before the (minutes-long) build: a whole number from 1 to MAX_ENGINE_BATCH, and above 1
 * only for a model whose inputs take a batch.
 */
function checkMaxBatch(maxBatch: number | undefined, batch: ModelConfig['batch'], onnx: string, dlaCore = -1): void {
  if (maxBatch === undefined) return;
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1 && maxBatch <= MAX_ENGINE_BATCH)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--max-batch must be a whole number from 1 to ${MAX_ENGINE_BATCH} (targets per enqueue), got ${maxBatch}`);
  }
  if (maxBatch > 1 && batch !== 'dynamic') {
    throw new CtEdgeError(
      'ERR_INVALID_ARGUMENT',
      `--max-batch ${maxBatch}: ${onnx} has batch 1 baked into its inputs; export the model with ct-edge export (a foreign ONNX such as VitTrack's: ct-edge import it, then export) or leave --max-batch out`,
    );
  }
  if (maxBatch > 1 && dlaCore >= 0) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--max-batch ${maxBatch} with --dla: DLA runs fixed shapes only (its layers would fall back to the GPU); build the DLA engine without --max-batch`);
  }
}

/** The bytes of an ONNX model; ERR_MODEL_NOT_FOUND when there is no such file. */
export async function readOnnxBytes(path: string): Promise<Uint8Array> {
  return readFile(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new CtEdgeError('ERR_MODEL_NOT_FOUND', `ONNX model not found: ${path}`, { cause: error });
    throw new CtEdgeError('ERR_IO', `cannot read the ONNX model ${path}: ${error.message}`, { cause: error });
  });
}

/** sha256 of a file, in hex. */
async function sha256File(path: string): Promise<string> {
  const bytes = await readFile(path).catch((error: Error) => {
    throw new CtEdgeError('ERR_IO', `cannot read ${path}: ${error.message}`, { cause: error });
  });
  return createHash('sha256').update(bytes).digest('hex');
}

/** `model.engine` -> `model.template.engine`: a two-part model's template engine, beside its per-frame engine. */
export function templateEnginePath(enginePath: string): string {
  return `${enginePath.replace(/\.(engine|plan)$/i, '')}.template.engine`;
}

/**
 * Builds a TensorRT engine for this machine's GPU from an ONNX model and writes `<engine>.json`
 * beside it. The model's tensors and options are checked before the (minutes-long) build; on
 * TensorRT older than 8.6 its LayerNormalization ops are spelled out in memory first. A two-part
 * model's per-frame part (the template computed once) gets two engines: its template part's first
 * (`<engine minus .engine>.template.engine`, run once per init), named in the per-frame engine's metadata.
 */
export async function buildEngine(options: BuildEngineOptions): Promise<BuiltEngine> {
  const bytes = await readOnnxBytes(options.onnx);
  const model = parseOnnxModel(bytes);
  const templateOnnx = templatePartToBuild(options, model.metadata);
  const templateModel = templateOnnx === undefined ? undefined : { bytes: await readOnnxBytes(templateOnnx) };
  const templateInputs = templateModel ? parseOnnxModel(templateModel.bytes).inputs : [];
  const trt = tensorRtBinding(`cannot build a TensorRT engine from ${options.onnx}`);
  const config = resolveModelConfig({ ...model, inputs: [...model.inputs, ...templateInputs] }, optionsFromMetadata(model.metadata), options.modelOptions ?? {});
  checkMaxBatch(options.maxBatch, config.batch, options.onnx, options.dlaCore);
  const output = options.output ?? defaultEnginePath(options.onnx);
  const templateEngine =
    templateOnnx === undefined
      ? undefined
      : await buildOne(trt, { ...options, onnx: templateOnnx, output: templateEnginePath(output), templatePart: true }, templateModel!.bytes, config, { part: 'template' });
  const link = templateEngine && { templateEngine: basename(templateEngine.enginePath), templateEngineSha256: await sha256File(templateEngine.enginePath) };
  const built = await buildOne(trt, { ...options, output }, bytes, config, link ?? {});
  return { ...built, ...(templateEngine && { templateEngine }) };
}

/**
 * The template part a build of `options.onnx` (with its ONNX `metadata`) builds first: undefined
 * for a one-graph model. A template part given alone, or --max-batch on a two-part model, is refused.
 */
export function templatePartToBuild(options: Pick<BuildEngineOptions, 'onnx' | 'maxBatch'>, metadata: Record<string, string>): string | undefined {
  if (metadata[TWO_PART_METADATA.part] === 'template') {
    throw new CtEdgeError(
      'ERR_INVALID_ARGUMENT',
      `${options.onnx} is the template part of a two-part model; build its per-frame part (the .onnx beside it without .template), which builds both engines`,
    );
  }
  const templateOnnx = twoPartTemplatePath(options.onnx, undefined, metadata[TWO_PART_METADATA.templatePart]);
  if (templateOnnx !== undefined && (options.maxBatch ?? 1) > 1) {
    throw new CtEdgeError(
      'ERR_INVALID_ARGUMENT',
      `--max-batch ${options.maxBatch}: ${options.onnx} is a two-part model, whose engines track one target per enqueue (a group runs them target by target); leave --max-batch out, or export the checkpoint as one graph (ct-edge export --single-graph) to batch it`,
    );
  }
  return templateOnnx;
}

/** One engine and its metadata file; `extra` goes into the metadata (a two-part model's links). */
async function buildOne(
  trt: TensorRtBinding,
  options: BuildEngineOptions & { output: string },
  bytes: Uint8Array,
  config: ModelConfig,
  extra: Pick<TrtEngineMetadata, 'templateEngine' | 'templateEngineSha256' | 'part'>,
): Promise<BuiltEngine> {
  const { modelOptions: _modelOptions, decomposeLayerNorm: decompose = 'auto', ...rest } = options;
  const rewrite = decompose === true || (decompose === 'auto' && !parsesLayerNorm(trt.version)) ? decomposeLayerNorm(bytes) : undefined;
  const decomposed = (rewrite?.replaced ?? 0) > 0;
  const keepFp32 = rest.keepFp32 ?? ['layernorm', 'softmax'];
  const native: TrtBuildOptions = {
    ...rest,
    keepFp32: keepKinds(keepFp32, decomposed),
    ...(decomposed ? { onnxData: rewrite!.bytes } : {}),
  };
  let report: TrtBuildReport;
  try {
    report = await trt.buildEngine(native);
  } catch (error) {
    fromNative(error);
  }
  const metadata: TrtEngineMetadata = {
    formatVersion: ENGINE_METADATA_FORMAT,
    tensorrtVersion: report.tensorrtVersion,
    gpu: report.gpu,
    precision: report.precision,
    tf32: report.tf32,
    keepFp32: report.precision === 'fp16' ? keepFp32 : [],
    fp32Layers: report.fp32Layers,
    obeyPrecision: options.obeyPrecision ?? false,
    dlaCore: report.dlaCore,
    optLevel: report.optLevel,
    maxBatch: report.maxBatch,
    layerNormDecomposed: decomposed,
    onnx: { path: options.onnx, sha256: createHash('sha256').update(bytes).digest('hex') },
    builtAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    tensors: report.tensors,
    ...extra,
    modelMetadata: metadataFromConfig(config),
  };
  const metadataPath = metadataPathFor(report.enginePath);
  await writeTextAtomic(metadataPath, `${JSON.stringify(metadata, null, 2)}\n`);
  const keptPrecision = report.keptLayers.length > 0 ? keptLayerPrecision(report.layerInformation, report.keptLayers) : undefined;
  return { ...report, metadataPath, metadata, config, ...(keptPrecision && { keptPrecision }) };
}

// ---- what the kept layers run in -------------------------------------------------------------------

/** The layers asked to stay FP32, by what the built engine says they run in. */
export interface KeptLayerPrecision {
  fp32: string[];
  /** Fused into a half-precision kernel after all (PREFER allows it): check the engine with --verify. */
  fp16: string[];
  /** Inside a region the inspector does not break down (a Myelin ForeignNode), or not named at all. */
  unseen: string[];
}

/**
 * Reads IEngineInspector's JSON (LayerInformationFormat::kJSON, detailed verbosity: `Layers`, each
 * with `Name` and `Outputs[].Format/Datatype` such as "Row major linear FP32") and sorts the kept
 * layers by the output precision of the engine layer that holds them (fused layers' names join the
 * network layers' with " + "). A layer named in no engine layer, or in one without formats, is unseen.
 */
export function keptLayerPrecision(layerInformation: string, kept: readonly string[]): KeptLayerPrecision {
  const out: KeptLayerPrecision = { fp32: [], fp16: [], unseen: [] };
  let layers: unknown[] = [];
  try {
    const info = JSON.parse(layerInformation) as { Layers?: unknown };
    if (Array.isArray(info.Layers)) layers = info.Layers;
  } catch {
    // not the inspector's JSON: every kept layer is unseen
  }
  const engineLayers = layers
    .filter((l): l is { Name: string; Outputs?: unknown } => typeof l === 'object' && l !== null && typeof (l as { Name?: unknown }).Name === 'string')
    .map((l) => {
      const formats = (Array.isArray(l.Outputs) ? l.Outputs : []).map((o) => String((o as Record<string, unknown>)['Format/Datatype'] ?? ''));
      const half = formats.some((f) => /\b(FP16|Half)\b/i.test(f));
      const single = formats.some((f) => /\b(FP32|Float)\b/i.test(f));
      const precision: 'fp16' | 'fp32' | undefined = half ? 'fp16' : single ? 'fp32' : undefined;
      return { parts: l.Name.split(' + ').map((p) => p.trim()), precision };
    });
  for (const name of kept) {
    const holder = engineLayers.find((l) => l.parts.includes(name));
    (holder?.precision ? out[holder.precision] : out.unseen).push(name);
  }
  return out;
}

// ---- the equivalent trtexec command ---------------------------------------------------------------

/** Quotes a shell word when it needs it. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The trtexec command that builds the engine buildEngine(options) builds, for a model's bytes and a
 * TensorRT version: the same precision, TF32 choice, workspace, timing cache, optimisation level,
 * DLA core, and the layers kept in FP32 named one by one (trtexec matches layers by name; TensorRT
 * names them after the ONNX nodes). Either engine loads in ct-edge and in trtexec. `notes` says what
 * the command cannot express.
 */
export function trtexecCommand(options: BuildEngineOptions, bytes: Uint8Array, tensorRtVersion: string): { command: string; notes: string[] } {
  const notes: string[] = [];
  const [major] = versionParts(tensorRtVersion);
  const decompose = options.decomposeLayerNorm ?? 'auto';
  const needsRewrite = decompose === true || (decompose === 'auto' && !parsesLayerNorm(tensorRtVersion));
  const rewrite = needsRewrite ? decomposeLayerNorm(bytes) : undefined;
  const nodes = onnxNodes(rewrite?.bytes ?? bytes);
  if (rewrite && rewrite.replaced > 0) {
    notes.push(
      `TensorRT ${tensorRtVersion} cannot parse LayerNormalization: give trtexec a model with it spelled out ` +
        '(`ct-edge export --decompose-layernorm`); build-engine does this in memory',
    );
  }
  const args = [`--onnx=${options.onnx}`, `--saveEngine=${options.output ?? defaultEnginePath(options.onnx)}`];
  const fp16 = options.fp16 ?? true;
  const dla = options.dlaCore !== undefined && options.dlaCore >= 0;
  if (major >= 11) {
    notes.push(`TensorRT ${tensorRtVersion} builds strongly typed engines: the precision is the ONNX model's, --fp16 and the FP32 layers do not apply`);
  } else if (fp16) {
    args.push('--fp16');
    // FP16 inputs in linear NCHW, which the crop kernel writes directly (not with DLA); a template
    // part's outputs too, which the per-frame engine reads as its FP16 inputs.
    if (!dla) args.push(`--inputIOFormats=${parseOnnxModel(bytes).inputs.map(() => 'fp16:chw').join(',')}`);
    if (!dla && options.templatePart) args.push(`--outputIOFormats=${parseOnnxModel(bytes).outputs.map(() => 'fp16:chw').join(',')}`);
  }
  if (!options.tf32) args.push('--noTF32');
  args.push(`--memPoolSize=workspace:${options.workspaceMiB ?? 1024}`);
  if (options.timingCache) args.push(`--timingCacheFile=${options.timingCache}`);
  if (options.optLevel !== undefined && options.optLevel >= 0) args.push(`--builderOptimizationLevel=${options.optLevel}`);
  if (dla) args.push(`--useDLACore=${options.dlaCore}`, '--allowGPUFallback');
  const inputs = parseOnnxModel(bytes).inputs;
  const symbolic = inputs.every((t) => typeof t.shape[0] === 'string');
  if ((options.maxBatch ?? 1) > 1) {
    // The profile build-engine makes: 1 to maxBatch, timed at maxBatch.
    checkMaxBatch(options.maxBatch, symbolic ? 'dynamic' : 'fixed', options.onnx, options.dlaCore);
    const shapes = (batch: number) => inputs.map((t) => `${t.name}:${[batch, ...t.shape.slice(1)].join('x')}`).join(',');
    args.push(`--minShapes=${shapes(1)}`, `--optShapes=${shapes(options.maxBatch!)}`, `--maxShapes=${shapes(options.maxBatch!)}`);
    // Several trackers or groups on one engine share its profile: TensorRT 8.6 only with this preview feature.
    if (major === 8 && versionAtLeast(tensorRtVersion, 8, 6)) args.push('--preview=+profileSharing0806');
  } else if (symbolic) {
    notes.push(
      'build-engine fixes the symbolic batch at 1 in the network (a static engine); trtexec makes a profile of batch 1 instead, ' +
        'which TensorRT before 10 gives to one tracker at a time',
    );
  }
  if (major < 11 && fp16) {
    const kinds = keepKinds(options.keepFp32 ?? ['layernorm', 'softmax'], (rewrite?.replaced ?? 0) > 0);
    const matches = (node: { name: string; opType: string }) =>
      kinds.some((k) => {
        const kind = k.toLowerCase();
        if (kind.startsWith('name:')) return node.name.includes(k.slice(5));
        if (kind === 'layernorm' || kind === 'normalization') return node.opType === 'LayerNormalization';
        if (kind === 'softmax') return node.opType === 'Softmax';
        if (kind === 'reduce') return node.opType.startsWith('Reduce');
        return false;
      });
    const kept = nodes.filter(matches).map((n) => n.name);
    if (kept.length > 0) {
      args.push(`--precisionConstraints=${options.obeyPrecision ? 'obey' : 'prefer'}`);
      args.push(`--layerPrecisions=${kept.map((n) => `${n}:fp32`).join(',')}`);
      args.push(`--layerOutputTypes=${kept.map((n) => `${n}:fp32`).join(',')}`);
      notes.push(`${kept.length} layer(s) kept in FP32 are named after their ONNX nodes; helper layers the parser adds (constants, shuffles) are not listed`);
    }
  }
  args.push(versionAtLeast(tensorRtVersion, 8, 6) ? '--skipInference' : '--buildOnly');
  if (options.verbose) args.push('--verbose');
  return { command: ['trtexec', ...args].map(shellWord).join(' '), notes };
}
