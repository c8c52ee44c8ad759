/**
 * Loads the compiled addon (build/Release/ct_edge.node, made by `npm install` through node-gyp, or
 * by `npm run build:native:cmake` through cmake-js with CUDA/TensorRT when they are present).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CtEdgeError } from '../contract/errors.js';

/**
 * The tracker configuration both native trackers take (one parser: native/addon/tracker_config.cpp),
 * filled from the engine's ModelConfig (ts/contract/model-config.ts).
 */
export interface NativeTrackerConfig {
  templateSize: number;
  searchSize: number;
  featureSize: number;
  templateFactor: number;
  searchFactor: number;
  mean: readonly number[];
  std: readonly number[];
  channelOrder: 'rgb' | 'bgr';
  boxMapping: 'ostrack' | 'opencv';
  lostThreshold: number;
}

export interface NativeUpdate {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
  rawScore: number;
  peakX: number;
  peakY: number;
  lost: boolean;
}

/** The part of a frame a crop reads (FrameRegion in native/core/crop.h); 0x0 when the window misses the frame. */
export interface FrameRegion {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface NativeTracker {
  init(frame: object, box: object): void;
  /** The search crop on the calling thread, into the search tensor. */
  prepareSearch(frame: object): void;
  /** Places the search window for this frame without cropping; update() decodes against it. */
  placeSearch(frame: object): CropWindow & { region: FrameRegion };
  update(score: Float32Array, size: Float32Array, offset: Float32Array): NativeUpdate;
  dispose(): void;
}

export interface NativeAddon {
  /** The template and search tensors are float32: onnxruntime on the CPU runs float32 models. */
  NativeTracker: new (config: NativeTrackerConfig, template: Float32Array, search: Float32Array) => NativeTracker;
  cropToTensor(frame: object, window: CropWindow, outSize: number, dst: Float32Array, norm: CropNormalization): void;
  /** The crops of a group's targets into one batched tensor (item i at i * 3 * outSize^2), on up to `threads` threads. */
  cropBatch(items: { frame: object; window: CropWindow }[], outSize: number, dst: Float32Array, norm: CropNormalization, threads: number): void;
  /** Copies a region of the frame into dst as a tight frame of its own (native/core/crop.h, copy_region). */
  copyRegion(frame: object, region: FrameRegion, dst: Uint8Array): { width: number; height: number; stride: number };
  hannWindow(featureSize: number): Float32Array;
  /** What this build has; `cudaDevice` (cmake-js builds with CUDA): a usable GPU was found at load. */
  features: { cuda: boolean; tensorrt: boolean; cudaDevice?: boolean };
  /** Only in cmake-js builds (native/cmake/build_info.cpp): what the build looked for and found. */
  build?: NativeBuildInfo;
  /** Only when the cmake-js build found CUDA (native/cuda/cuda_binding.cpp). */
  cuda?: CudaBinding;
  /** Only when the cmake-js build found TensorRT (native/tensorrt/tensorrt_binding.cpp). */
  tensorrt?: TensorRtBinding;
}

export interface CropWindow {
  x0: number;
  y0: number;
  side: number;
}

export interface CropNormalization {
  mean: readonly number[];
  std: readonly number[];
  channelOrder: 'rgb' | 'bgr';
}

export interface NativeBuildInfo {
  system: 'cmake-js';
  /** `whyNot`: why CUDA/TensorRT was left out (empty when found); versions are empty when not found. */
  cuda: { found: boolean; version: string; architectures: string; whyNot: string };
  /** `libDir`: the folder of the libnvinfer linked against (recorded as the addon's DT_RPATH). */
  tensorrt: { found: boolean; version: string; whyNot: string; libDir?: string };
}

export interface CudaDeviceInfo {
  available: boolean;
  /** Why no device is usable (no driver, driver too old, no GPU), when `available` is false. */
  reason?: string;
  device: number;
  name: string;
  /** "8.7" */
  computeCapability: string;
  /** Bytes. */
  totalMemory: number;
  /** True on Jetson (memory shared with the CPU). */
  integrated: boolean;
  /** CUDA's encoding: 1000 * major + 10 * minor (12060 = 12.6); 0 when unknown. */
  runtimeVersion: number;
  driverVersion: number;
}

export interface CudaBinding {
  probe(): CudaDeviceInfo;
  /**
   * The GPU twin of NativeAddon.cropToTensor, for comparing the two paths. A Uint16Array `dst` gets
   * float16 bits: what the kernel writes into the inputs of an FP16 TensorRT engine.
   */
  cropToTensor(frame: object, window: CropWindow, outSize: number, dst: Float32Array | Uint16Array, norm: CropNormalization): void;
}

export interface TrtTensorInfo {
  name: string;
  io: 'input' | 'output';
  /** "float32", "float16", ... */
  dtype: string;
  /** -1 for a dynamic dimension. */
  shape: number[];
}

/** A deserialised engine. Its metadata file is read by ts/deploy/tensorrt.ts, not by the addon. */
export interface TrtEngine {
  readonly path: string;
  readonly tensors: TrtTensorInfo[];
  /** The most targets one enqueue takes: the profile's largest batch (build-engine --max-batch), else 1. */
  readonly maxBatch: number;
  dispose(): void;
}

export interface TrtTrackerConfig extends NativeTrackerConfig {
  /** Engine tensor names; defaults template, search, score_map, size_map, offset_map. */
  names?: { template?: string; search?: string; score?: string; size?: string; offset?: string };
  /** Capture the per-frame enqueue and output copies in a CUDA graph. */
  cudaGraph?: boolean;
  /** Wait on a cudaEventBlockingSync event instead of spinning in cudaStreamSynchronize. */
  blockingSync?: boolean;
  /** Bytes of the frames to come: staging memory reserved at creation (TrackerOptions.frameSize). */
  reserveBytes?: number;
}

/**
 * A TrackerGroup's batched network on the GPU: every target's search crop in one kernel launch, one
 * enqueue. The targets' states stay in their host trackers, which hand over their search window and
 * template crop (uploaded when templateId changes).
 */
export interface TrtGroup {
  readonly maxBatch: number;
  /** Every target's maps, target after target (score F*F, size and offset 2*F*F each). */
  run(
    frame: object,
    targets: { window: CropWindow; template: Float32Array; templateId: number }[],
  ): Promise<{ score: Float32Array; size: Float32Array; offset: Float32Array; timings: TrtTrackUpdate['timings'] }>;
  dispose(): void;
}

export interface TrtTrackUpdate extends NativeUpdate {
  /** Host wall times: frame staging (pinned copy/H2D), crop kernel launch, network + sync, decode. */
  timings: { stageMs: number; preprocessMs: number; inferMs: number; postprocessMs: number };
}

export interface TrtTracker {
  /** Synchronous: crops the template on the device. */
  init(frame: object, box: object): void;
  track(frame: object): Promise<TrtTrackUpdate>;
  /** What the tracker worked around since the last call (a CUDA graph given up); Tracker raises each as a process warning. */
  takeWarnings(): string[];
  /** Whether frames replay a captured CUDA graph. */
  cudaGraphActive(): boolean;
  dispose(): void;
}

/** What the addon's buildEngine takes: plain values (ts/deploy/tensorrt.ts fills them). */
export interface TrtBuildOptions {
  /** The ONNX model's path: parsed from there unless `onnxData` is given (then messages and external weights). */
  onnx: string;
  /** The engine file to write. */
  output: string;
  /** The model's bytes, when they differ from the file (LayerNormalization spelled out for TensorRT < 8.6). */
  onnxData?: Uint8Array;
  /** Default true; used only where the GPU has fast FP16. */
  fp16?: boolean;
  /** TF32 tensor cores for FP32 layers (Ampere and later, Orin included); default false. */
  tf32?: boolean;
  workspaceMiB?: number;
  timingCache?: string;
  /** Layer kinds kept in FP32 in an FP16 engine; default ['layernorm', 'softmax']; 'name:SUBSTRING' matches layer names. */
  keepFp32?: string[];
  /** kOBEY_PRECISION_CONSTRAINTS instead of kPREFER_PRECISION_CONSTRAINTS; default false. */
  obeyPrecision?: boolean;
  /** DLA core to build for, with GPU fallback; default -1 (GPU only). */
  dlaCore?: number;
  /** Builder optimisation level 0..5 (TensorRT >= 8.6); default -1, TensorRT's own. */
  optLevel?: number;
  /** A symbolic batch's profile spans 1..maxBatch, timed at maxBatch; default 1. At most 64. */
  maxBatch?: number;
  /** A two-part model's template part: in an FP16 engine its outputs are FP16 too, as the per-frame engine reads them. */
  templatePart?: boolean;
  verbose?: boolean;
}

/** What the addon's buildEngine reports: plain values, from which tensorrt.ts writes `<engine>.json`. */
export interface TrtBuildReport {
  enginePath: string;
  /** The libnvinfer that built it, e.g. "10.3.0". */
  tensorrtVersion: string;
  gpu: { name: string; computeCapability: string };
  precision: 'fp16' | 'fp32' | 'strongly-typed';
  tf32: boolean;
  dlaCore: number;
  optLevel: number;
  /** The profile's largest batch (1: a fixed batch, or one pinned to 1). */
  maxBatch: number;
  fp32Layers: number;
  /** The names of the layers kept in FP32 (asked for: PREFER lets fusion ignore it). */
  keptLayers: string[];
  /** IEngineInspector's JSON of the built engine (detailed), when layers were kept; '' otherwise. */
  layerInformation: string;
  tensors: TrtTensorInfo[];
  fastFp16: boolean;
  timingCacheLoaded: boolean;
  timingCacheSaved: boolean;
  /** Things the build worked around, e.g. a timing cache for another GPU that was started afresh. */
  warnings: string[];
  seconds: number;
}

export interface TensorRtBinding {
  /** The libnvinfer loaded at run time, e.g. "10.3.0". */
  version: string;
  /** The headers the addon was compiled with. */
  compiledVersion: string;
  buildEngine(options: TrtBuildOptions): Promise<TrtBuildReport>;
  /** Deserialises an engine; `dlaCore` for one built for a DLA core. Fails with ERR_ENGINE_MISMATCH when TensorRT cannot. */
  loadEngine(path: string, options?: { dlaCore?: number }): Promise<TrtEngine>;
  /** `templateEngine`: a two-part model's template part, run once per init (its outputs feed the engine's inputs besides search). */
  TrtTracker: new (engine: TrtEngine, config: TrtTrackerConfig, templateEngine?: TrtEngine) => TrtTracker;
  /** config.maxBatch: the group's largest batch (its buffers are sized for it), at most the engine's. */
  TrtGroup: new (engine: TrtEngine, config: TrtTrackerConfig & { maxBatch: number }) => TrtGroup;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let addon: NativeAddon | undefined;

/**
 * Makes loadNative() return `replacement` (tests inject fakes of the optional GPU parts this way);
 * `undefined` goes back to the real addon.
 */
export function overrideNative(replacement: NativeAddon | undefined): void {
  addon = replacement;
}

/**
 * The CPU addon: a local build (build/Release, where node-gyp and the cmake-js GPU build put it)
 * first, else the prebuilt binary the package ships for this platform (prebuilds/<platform>-<arch>).
 */
export function loadNative(): NativeAddon {
  if (addon) return addon;
  const prebuilt = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'ct_edge.node');
  const candidates = [join(packageRoot, 'build', 'Release', 'ct_edge.node'), join(packageRoot, 'build', 'Debug', 'ct_edge.node'), prebuilt];
  const rebuild = 'Run `npm rebuild ct-edge` (compiles it; needs python3, make and a C++17 compiler)';
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new CtEdgeError('ERR_NATIVE_MISSING', `the ct-edge native addon is not built and no prebuilt one fits ${process.platform}-${process.arch} (looked for ${candidates.join(', ')}). ${rebuild}.`);
  }
  try {
    addon = createRequire(import.meta.url)(found) as NativeAddon;
  } catch (error) {
    // e.g. the linux-arm64 prebuild on a glibc older than 2.32 (JetPack 5): compiling here fixes it
    throw new CtEdgeError('ERR_NATIVE_MISSING', `the ct-edge native addon ${found} does not load here (${(error as Error).message.split('\n')[0]}). ${rebuild}.`, { cause: error });
  }
  return addon;
}
