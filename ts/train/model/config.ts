/**
 * Sizes of the one-stream ViT tracker (OSTrack family). Every size is a config value, so the same
 * code builds the published OSTrack-256 teacher, compressed students and tiny CPU models.
 */
import { CtEdgeError } from '../../contract/errors.js';
import { OSTRACK_DEFAULTS, TENSOR_NAMES, type BoxMapping, type ChannelOrder, type ModelConfig } from '../../contract/model-config.js';

export interface TrackerNetConfig {
  /** Token width (ViT embedding dimension). */
  dim: number;
  /** Number of transformer blocks. */
  depth: number;
  heads: number;
  /** MLP hidden width = dim * mlpRatio. */
  mlpRatio: number;
  /** Patch side in pixels (patch embedding kernel and stride). */
  patch: number;
  /** Template crop side in pixels. */
  templateSize: number;
  /** Search crop side in pixels; the score map is searchSize / patch on a side. */
  searchSize: number;
  /** Width of the first conv of each head tower; the next three are /2, /4, /8 (OSTrack: 256). */
  headChannels: number;
  /** Crop factors the model is trained with (template, search); go into the ONNX metadata. */
  templateFactor: number;
  searchFactor: number;
  /**
   * A convolutional patch embedding (VitTrack): 3x3 stride-2 convolutions with these output
   * widths, HardSwish between them, the last one `dim` wide; 2^length must equal `patch`.
   * Absent: OSTrack's one patch x patch convolution.
   */
  stem?: number[];
  /** LayerNorm epsilon (OSTrack's timm ViT: 1e-6, the default; VitTrack: 1e-5). */
  normEps?: number;
  /** 'none': head convolutions without BatchNorm (an imported head whose BatchNorm was folded). */
  headNorm?: 'batchnorm' | 'none';
  /** Channel order the network was trained on (default rgb; VitTrack: bgr). */
  channelOrder?: ChannelOrder;
  /** How the runtime maps boxes back to the frame (default ostrack; VitTrack as OpenCV runs it: opencv). */
  boxMapping?: BoxMapping;
  /** Windowed peak below which the runtime reports the target lost (default 0.2). */
  lostThreshold?: number;
  /**
   * 'joint' (default, OSTrack and VitTrack): every token attends to every token. 'asymmetric'
   * (MixFormer's, a SMAT-style student): template tokens attend only to template tokens, search
   * tokens to both, so the template's part of the network depends on the template alone and the
   * runtime computes it once per init() (a two-part export, docs/MODEL_FORMAT.md).
   */
  attention?: 'joint' | 'asymmetric';
}

const OSTRACK_256: TrackerNetConfig = {
  dim: 768,
  depth: 12,
  heads: 12,
  mlpRatio: 4,
  patch: 16,
  templateSize: 128,
  searchSize: 256,
  headChannels: 256,
  templateFactor: OSTRACK_DEFAULTS.templateFactor,
  searchFactor: OSTRACK_DEFAULTS.searchFactor,
};

/**
 * - `ostrack-256`: the published OSTrack-256 geometry (320 tokens, 16x16 score map).
 * - `small`: 6 blocks of width 96 on 96/192 crops (36 + 144 tokens, 12x12 map); trains on a CPU
 *   in tens of minutes, for examples.
 * - `tiny`: 6 blocks of width 32 on 64/128 crops (16 + 64 = 80 tokens, 8x8 map); trains on a CPU
 *   in minutes, for CI and unit tests.
 */
export const PRESETS = {
  'ostrack-256': OSTRACK_256,
  small: { ...OSTRACK_256, dim: 96, depth: 6, heads: 3, templateSize: 96, searchSize: 192, headChannels: 64 },
  tiny: { ...OSTRACK_256, dim: 32, depth: 6, heads: 2, templateSize: 64, searchSize: 128, headChannels: 32 },
} as const satisfies Record<string, TrackerNetConfig>;

export type PresetName = keyof typeof PRESETS;

/** A preset by name, with any sizes overridden, checked. */
export function netConfig(preset: PresetName, overrides: Partial<TrackerNetConfig> = {}): TrackerNetConfig {
  const base: TrackerNetConfig | undefined = PRESETS[preset];
  if (!base) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `unknown model preset '${preset}'; presets are ${Object.keys(PRESETS).join(', ')}`);
  }
  return validateNetConfig({ ...base, ...overrides });
}

const INTEGER_KEYS = ['dim', 'depth', 'heads', 'mlpRatio', 'patch', 'templateSize', 'searchSize', 'headChannels'] as const;

/** Checks a config (e.g. one read from a checkpoint) and returns it as a clean object. */
export function validateNetConfig(value: unknown): TrackerNetConfig {
  const c = value as Partial<TrackerNetConfig> | null;
  const bad = (what: string) => {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `invalid tracker network config ${JSON.stringify(value)}: ${what}`);
  };
  if (typeof c !== 'object' || c === null) bad('not an object');
  for (const k of INTEGER_KEYS) {
    const v = c![k];
    if (!Number.isInteger(v) || (v as number) < (k === 'depth' ? 0 : 1)) bad(`${k} must be a ${k === 'depth' ? 'non-negative' : 'positive'} integer`);
  }
  for (const k of ['templateFactor', 'searchFactor'] as const) {
    if (!(typeof c![k] === 'number' && c![k]! > 0)) bad(`${k} must be a positive number`);
  }
  const n = c as TrackerNetConfig;
  if (n.dim % n.heads !== 0) bad(`dim ${n.dim} is not divisible by heads ${n.heads}`);
  if (n.templateSize % n.patch !== 0 || n.searchSize % n.patch !== 0) bad(`templateSize and searchSize must be multiples of patch ${n.patch}`);
  if (n.headChannels % 8 !== 0) bad(`headChannels ${n.headChannels} must be a multiple of 8 (the towers use /2, /4, /8)`);
  if (n.stem !== undefined) {
    if (!Array.isArray(n.stem) || n.stem.length === 0 || !n.stem.every((w) => Number.isInteger(w) && w >= 1)) bad('stem must be a list of positive integer widths');
    if (2 ** n.stem.length !== n.patch) bad(`a stem of ${n.stem.length} stride-2 convolutions makes patches of ${2 ** n.stem.length}, not ${n.patch}`);
    if (n.stem[n.stem.length - 1] !== n.dim) bad(`the stem's last width ${n.stem[n.stem.length - 1]} must be dim ${n.dim}`);
  }
  if (n.normEps !== undefined && !(typeof n.normEps === 'number' && n.normEps > 0 && n.normEps < 1)) bad('normEps must be a number in (0, 1)');
  if (n.headNorm !== undefined && n.headNorm !== 'batchnorm' && n.headNorm !== 'none') bad("headNorm must be 'batchnorm' or 'none'");
  if (n.channelOrder !== undefined && n.channelOrder !== 'rgb' && n.channelOrder !== 'bgr') bad("channelOrder must be 'rgb' or 'bgr'");
  if (n.boxMapping !== undefined && n.boxMapping !== 'ostrack' && n.boxMapping !== 'opencv') bad("boxMapping must be 'ostrack' or 'opencv'");
  if (n.lostThreshold !== undefined && !(typeof n.lostThreshold === 'number' && n.lostThreshold >= 0 && n.lostThreshold <= 1)) bad('lostThreshold must be in [0, 1]');
  if (n.attention !== undefined && n.attention !== 'joint' && n.attention !== 'asymmetric') bad("attention must be 'joint' or 'asymmetric'");
  return {
    dim: n.dim,
    depth: n.depth,
    heads: n.heads,
    mlpRatio: n.mlpRatio,
    patch: n.patch,
    templateSize: n.templateSize,
    searchSize: n.searchSize,
    headChannels: n.headChannels,
    templateFactor: n.templateFactor,
    searchFactor: n.searchFactor,
    // the optional fields only where set, so configs of OSTrack-style networks read as before
    ...(n.stem !== undefined && { stem: [...n.stem] }),
    ...(n.normEps !== undefined && { normEps: n.normEps }),
    ...(n.headNorm !== undefined && { headNorm: n.headNorm }),
    ...(n.channelOrder !== undefined && { channelOrder: n.channelOrder }),
    ...(n.boxMapping !== undefined && { boxMapping: n.boxMapping }),
    ...(n.lostThreshold !== undefined && { lostThreshold: n.lostThreshold }),
    ...(n.attention === 'asymmetric' && { attention: n.attention }),
  };
}

/** LayerNorm epsilon of a network (OSTrack's 1e-6 unless the config says otherwise). */
export const normEps = (c: TrackerNetConfig): number => c.normEps ?? 1e-6;

/** Token counts and map size derived from a config. */
export function geometry(c: TrackerNetConfig): { templateTokens: number; searchTokens: number; featureSize: number } {
  const featureSize = c.searchSize / c.patch;
  return { templateTokens: (c.templateSize / c.patch) ** 2, searchTokens: featureSize ** 2, featureSize };
}

/** The runtime's view of a ct-edge model: what its ONNX metadata tells the Engine. */
export function runtimeConfig(c: TrackerNetConfig): ModelConfig {
  return {
    inputs: { ...TENSOR_NAMES.inputs },
    outputs: { ...TENSOR_NAMES.outputs },
    templateSize: c.templateSize,
    searchSize: c.searchSize,
    featureSize: geometry(c).featureSize,
    templateFactor: c.templateFactor,
    searchFactor: c.searchFactor,
    mean: OSTRACK_DEFAULTS.mean,
    std: OSTRACK_DEFAULTS.std,
    channelOrder: c.channelOrder ?? OSTRACK_DEFAULTS.channelOrder,
    boxMapping: c.boxMapping ?? OSTRACK_DEFAULTS.boxMapping,
    lostThreshold: c.lostThreshold ?? OSTRACK_DEFAULTS.lostThreshold,
    batch: 'dynamic', // export-onnx.ts writes a symbolic batch
  };
}
