/**
 * What differs between trackers of the OSTrack family, resolved once per model from (in order of
 * precedence) the caller's options, the model's ONNX metadata_props, the model's tensor shapes, and
 * OSTrack's defaults.
 */
import { CtEdgeError } from './errors.js';

export type ChannelOrder = 'rgb' | 'bgr';
export type BoxMapping = 'ostrack' | 'opencv';
export type Triple = readonly [number, number, number];

export interface ModelOptions {
  /** Input tensor names; default `template` and `search`. */
  inputs?: { template?: string; search?: string };
  /** Output tensor names; default `score_map`, `size_map`, `offset_map` (VitTrack: output1/2/3). */
  outputs?: { score?: string; size?: string; offset?: string };
  templateSize?: number;
  searchSize?: number;
  /** Side of the score map; read from the score output's shape when static. */
  featureSize?: number;
  templateFactor?: number;
  searchFactor?: number;
  /** RGB order, applied after /255. */
  mean?: Triple;
  std?: Triple;
  /** Channel order the model was trained on (VitTrack: bgr, as OpenCV feeds it). */
  channelOrder?: ChannelOrder;
  /** How boxes go back to the frame: OSTrack's float map-back and clip, or OpenCV TrackerVit's. */
  boxMapping?: BoxMapping;
  /** Windowed peak score below which the target is reported lost. */
  lostThreshold?: number;
}

export interface ModelConfig {
  inputs: { template: string; search: string };
  outputs: { score: string; size: string; offset: string };
  templateSize: number;
  searchSize: number;
  featureSize: number;
  templateFactor: number;
  searchFactor: number;
  mean: Triple;
  std: Triple;
  channelOrder: ChannelOrder;
  boxMapping: BoxMapping;
  lostThreshold: number;
  /**
   * 'dynamic': every input's leading dimension is symbolic, so one inference takes a batch of
   * crops, one per target (what `ct-edge export` writes); 'fixed': batch 1 only (VitTrack's own ONNX).
   */
  batch: 'fixed' | 'dynamic';
}

export interface TensorSignature {
  name: string;
  shape: readonly (number | string)[];
}

/** Tensor names of OSTrack-family exports (ct-edge's own); foreign models name theirs in metadata or options. */
export const TENSOR_NAMES = {
  inputs: { template: 'template', search: 'search' },
  outputs: { score: 'score_map', size: 'size_map', offset: 'offset_map' },
} as const;

export const OSTRACK_DEFAULTS = {
  templateFactor: 2,
  searchFactor: 4,
  mean: [0.485, 0.456, 0.406] as Triple,
  std: [0.229, 0.224, 0.225] as Triple,
  channelOrder: 'rgb' as ChannelOrder,
  boxMapping: 'ostrack' as BoxMapping,
  lostThreshold: 0.2,
};

/** metadata_props keys written by `ct-edge export` and read by the runtime. */
export const METADATA_KEYS = {
  inputs: 'ct_edge.inputs',
  outputs: 'ct_edge.outputs',
  templateSize: 'ct_edge.template_size',
  searchSize: 'ct_edge.search_size',
  featureSize: 'ct_edge.feature_size',
  templateFactor: 'ct_edge.template_factor',
  searchFactor: 'ct_edge.search_factor',
  mean: 'ct_edge.mean',
  std: 'ct_edge.std',
  channelOrder: 'ct_edge.channel_order',
  boxMapping: 'ct_edge.box_mapping',
  lostThreshold: 'ct_edge.lost_threshold',
} as const satisfies Record<keyof ModelOptions, string>;

/**
 * metadata_props of a two-part model (asymmetric attention; docs/MODEL_FORMAT.md): the per-frame
 * part names its template part's file, beside it; the template part says it is one. The tensors
 * the template part outputs are the per-frame part's inputs other than the search crop, by name.
 */
export const TWO_PART_METADATA = { templatePart: 'ct_edge.template_part', part: 'ct_edge.part' } as const;

/** metadata_props key of the exporter's network config (JSON): what `ct-edge/train` needs to read a model back. */
export const NETWORK_METADATA_KEY = 'ct_edge.network';

function invalid(what: string, value: unknown, expected: string): never {
  throw new CtEdgeError('ERR_INVALID_ARGUMENT', `${what} must be ${expected}, got ${JSON.stringify(value)}`);
}

function parsePairs(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').filter(Boolean)) {
    const [key, value] = part.split('=').map((s) => s.trim());
    if (!key || !value) invalid(what, text, 'a list like role=name,role=name');
    out[key] = value;
  }
  return out;
}

function parseTriple(text: string, what: string): Triple {
  const values = text.split(',').map(Number);
  if (values.length !== 3 || values.some((v) => !Number.isFinite(v))) invalid(what, text, 'three comma-separated numbers');
  return [values[0], values[1], values[2]];
}

function parsePositive(text: string, what: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) invalid(what, text, 'a positive number');
  return v;
}

/**
 * Options from text key/values: the model's metadata_props, a JSON sidecar's strings, or CLI flags
 * (`--outputs score=output1,size=output2,offset=output3 --channel-order bgr`).
 */
export function optionsFromStrings(values: Partial<Record<keyof ModelOptions, string>>, source: string): ModelOptions {
  const o: ModelOptions = {};
  const at = (k: keyof ModelOptions) => `${k} (${source})`;
  if (values.inputs) o.inputs = parsePairs(values.inputs, at('inputs'));
  if (values.outputs) o.outputs = parsePairs(values.outputs, at('outputs'));
  for (const k of ['templateSize', 'searchSize', 'featureSize', 'templateFactor', 'searchFactor'] as const) {
    if (values[k] !== undefined) o[k] = parsePositive(values[k]!, at(k));
  }
  if (values.lostThreshold !== undefined) {
    o.lostThreshold = Number(values.lostThreshold);
    if (!Number.isFinite(o.lostThreshold)) invalid(at('lostThreshold'), values.lostThreshold, 'a number');
  }
  if (values.mean) o.mean = parseTriple(values.mean, at('mean'));
  if (values.std) o.std = parseTriple(values.std, at('std'));
  if (values.channelOrder) o.channelOrder = values.channelOrder as ChannelOrder;
  if (values.boxMapping) o.boxMapping = values.boxMapping as BoxMapping;
  return o;
}

export function optionsFromMetadata(metadata: Record<string, string>): ModelOptions {
  const values: Partial<Record<keyof ModelOptions, string>> = {};
  for (const [option, key] of Object.entries(METADATA_KEYS) as [keyof ModelOptions, string][]) {
    if (metadata[key] !== undefined) values[option] = metadata[key];
  }
  return optionsFromStrings(values, 'model metadata');
}

/** The metadata_props a model needs so that the runtime runs it with no options at all. */
export function metadataFromConfig(c: ModelConfig): Record<string, string> {
  return {
    [METADATA_KEYS.inputs]: `template=${c.inputs.template},search=${c.inputs.search}`,
    [METADATA_KEYS.outputs]: `score=${c.outputs.score},size=${c.outputs.size},offset=${c.outputs.offset}`,
    [METADATA_KEYS.templateSize]: String(c.templateSize),
    [METADATA_KEYS.searchSize]: String(c.searchSize),
    [METADATA_KEYS.featureSize]: String(c.featureSize),
    [METADATA_KEYS.templateFactor]: String(c.templateFactor),
    [METADATA_KEYS.searchFactor]: String(c.searchFactor),
    [METADATA_KEYS.mean]: c.mean.join(','),
    [METADATA_KEYS.std]: c.std.join(','),
    [METADATA_KEYS.channelOrder]: c.channelOrder,
    [METADATA_KEYS.boxMapping]: c.boxMapping,
    [METADATA_KEYS.lostThreshold]: String(c.lostThreshold),
  };
}

function describe(tensors: readonly TensorSignature[]): string {
  return tensors.map((t) => `${t.name}[${t.shape.join(',')}]`).join(', ');
}

/** The side of a [1 or batch, channels, N, N] tensor. */
function staticSquareSide(t: TensorSignature, channels: number): number | undefined {
  const [n, c, h, w] = t.shape;
  if (t.shape.length !== 4 || (n !== 1 && typeof n !== 'string') || c !== channels || typeof h !== 'number' || h !== w) return undefined;
  return h;
}

/** Merges options over metadata over what the model's tensors say, and checks the result. */
export function resolveModelConfig(
  model: { inputs: readonly TensorSignature[]; outputs: readonly TensorSignature[] },
  metadata: ModelOptions,
  options: ModelOptions,
): ModelConfig {
  const pick = <K extends keyof ModelOptions>(k: K): ModelOptions[K] => options[k] ?? metadata[k];
  const inputs = { ...TENSOR_NAMES.inputs, ...metadata.inputs, ...options.inputs };
  const outputs = { ...TENSOR_NAMES.outputs, ...metadata.outputs, ...options.outputs };

  const findIn = (list: readonly TensorSignature[], name: string, role: string, kind: 'input' | 'output', optionHint: string) => {
    const t = list.find((x) => x.name === name);
    if (!t) {
      throw new CtEdgeError(
        'ERR_MODEL_IO',
        `the model has no ${kind} '${name}' for the ${role}; its ${kind}s are ${describe(list)}. ` +
          `Name the right one with the ${optionHint} option (CLI: --${kind}s ${kind === 'input' ? 'template=...,search=...' : 'score=...,size=...,offset=...'}).`,
      );
    }
    return t;
  };
  const templateInput = findIn(model.inputs, inputs.template, 'template', 'input', `inputs.template`);
  const searchInput = findIn(model.inputs, inputs.search, 'search region', 'input', `inputs.search`);
  const scoreOutput = findIn(model.outputs, outputs.score, 'score map', 'output', 'outputs.score');
  findIn(model.outputs, outputs.size, 'size map', 'output', 'outputs.size');
  findIn(model.outputs, outputs.offset, 'offset map', 'output', 'outputs.offset');

  const size = (value: number | undefined, tensor: TensorSignature, channels: number, what: keyof ModelOptions) => {
    const fromShape = staticSquareSide(tensor, channels);
    const v = value ?? fromShape;
    if (v === undefined) {
      throw new CtEdgeError(
        'ERR_MODEL_IO',
        `cannot tell the ${what} of '${tensor.name}' (shape [${tensor.shape.join(',')}], expected [1,${channels},N,N]); pass the ${what} option`,
      );
    }
    if (fromShape !== undefined && fromShape !== v) {
      throw new CtEdgeError('ERR_MODEL_IO', `${what} ${v} disagrees with '${tensor.name}' of shape [${tensor.shape.join(',')}]`);
    }
    return v;
  };

  const config: ModelConfig = {
    inputs,
    outputs,
    templateSize: size(pick('templateSize'), templateInput, 3, 'templateSize'),
    searchSize: size(pick('searchSize'), searchInput, 3, 'searchSize'),
    featureSize: size(pick('featureSize'), scoreOutput, 1, 'featureSize'),
    templateFactor: pick('templateFactor') ?? OSTRACK_DEFAULTS.templateFactor,
    searchFactor: pick('searchFactor') ?? OSTRACK_DEFAULTS.searchFactor,
    mean: pick('mean') ?? OSTRACK_DEFAULTS.mean,
    std: pick('std') ?? OSTRACK_DEFAULTS.std,
    channelOrder: pick('channelOrder') ?? OSTRACK_DEFAULTS.channelOrder,
    boxMapping: pick('boxMapping') ?? OSTRACK_DEFAULTS.boxMapping,
    lostThreshold: pick('lostThreshold') ?? OSTRACK_DEFAULTS.lostThreshold,
    batch: model.inputs.every((t) => typeof t.shape[0] === 'string') ? 'dynamic' : 'fixed',
  };
  if (config.channelOrder !== 'rgb' && config.channelOrder !== 'bgr') invalid('channelOrder', config.channelOrder, "'rgb' or 'bgr'");
  if (config.boxMapping !== 'ostrack' && config.boxMapping !== 'opencv') invalid('boxMapping', config.boxMapping, "'ostrack' or 'opencv'");
  if (config.std.some((s) => !(s > 0))) invalid('std', config.std, 'three positive numbers');
  return config;
}
