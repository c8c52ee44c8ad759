/**
 * Exports a tracker network to ONNX with protobufjs, from plain weights (no TensorFlow.js needed).
 *
 * The graph is built for deployment: IR 8 / opset 17, static shapes but for a symbolic batch
 * (`batch`: every Reshape copies its input's leading dimension with a 0, or folds it into a Gemm's
 * rows and back with a -1, so one graph runs one target or many; a TrackerGroup batches its targets
 * through it), LayerNorm as one LayerNormalization op (so TensorRT can keep it in FP32 under FP16),
 * GELU as its erf formula, BatchNorm folded into the head convs, and only ops TensorRT 10 parses:
 * Conv, MatMul, Gemm, Add, Mul, Div, Reshape, Transpose, Softmax, LayerNormalization, Erf,
 * Sigmoid, Clip, Concat, Slice, Relu. The ONNX contract: inputs `template` [B,3,Ht,Wt] and `search` [B,3,Hs,Ws] float32,
 * outputs `score_map` [B,1,F,F], `size_map` [B,2,F,F], `offset_map` [B,2,F,F], and metadata_props
 * that let the runtime run the model with no options.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './checkpoint/atomic.js';
import { geometry, normEps, runtimeConfig, type TrackerNetConfig } from './model/config.js';
import { BN_EPS } from './model/layers.js';
import { HEAD_TOWERS, TOWER_OUTPUTS, towerChannels, type WeightMap } from './model/params.js';
import { checkWeights } from './model/weights.js';
import { metadataFromConfig, NETWORK_METADATA_KEY, TENSOR_NAMES, TWO_PART_METADATA } from '../contract/model-config.js';
import { CtEdgeError } from '../contract/errors.js';
import { basename } from 'node:path';
import { ModelProto, OnnxDataType } from '../contract/onnx-schema.js';

export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;
/** metadata_props key holding the network config as JSON (for `ct-edge inspect`). */
const SCORE_CLAMP = 1e-4;

const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, INTS: 7 } as const;
type AttributeValue = number | number[] | { float: number };

/** Collects nodes and initializers with unique names. */
class GraphBuilder {
  readonly nodes: object[] = [];
  readonly initializers: object[] = [];
  private readonly used = new Set<string>();

  private unique(name: string): string {
    let candidate = name;
    for (let i = 1; this.used.has(candidate); i++) candidate = `${name}_${i}`;
    this.used.add(candidate);
    return candidate;
  }

  private readonly shared = new Map<string, string>();

  /** An initializer made once per name, however many nodes read it (the two token streams). */
  weight(name: string, dims: number[], make: () => Float32Array): string {
    let unique = this.shared.get(name);
    if (!unique) this.shared.set(name, (unique = this.floats(name, dims, make())));
    return unique;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    const unique = this.unique(name);
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength); // little-endian, as ONNX wants
    this.initializers.push({ name: unique, dims, dataType: OnnxDataType.FLOAT, rawData });
    return unique;
  }

  scalar(name: string, value: number): string {
    return this.floats(name, [], Float32Array.of(value));
  }

  int64s(name: string, values: number[]): string {
    const unique = this.unique(name);
    const rawData = new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
    this.initializers.push({ name: unique, dims: [values.length], dataType: OnnxDataType.INT64, rawData });
    return unique;
  }

  /** Adds a node; returns its output's name (`output` if given, else derived from `name`). */
  op(opType: string, inputs: string[], name: string, attributes: Record<string, AttributeValue> = {}, output?: string): string {
    const nodeName = this.unique(name);
    const out = output ?? nodeName;
    if (output) this.used.add(output);
    const attribute = Object.entries(attributes).map(([key, v]) => {
      if (Array.isArray(v)) return { name: key, type: ATTRIBUTE_TYPE.INTS, ints: v };
      if (typeof v === 'number') return { name: key, type: ATTRIBUTE_TYPE.INT, i: v };
      return { name: key, type: ATTRIBUTE_TYPE.FLOAT, f: v.float };
    });
    this.nodes.push({ name: nodeName, opType, input: inputs, output: [out], attribute });
    return out;
  }
}

/** W [out, in] (PyTorch Linear) as the [in, out] right operand of MatMul, times `scale`. */
function transposed(w: Float32Array, out: number, inp: number, rowStart = 0, rows = out, scale = 1): Float32Array {
  const t = new Float32Array(inp * rows);
  for (let o = 0; o < rows; o++) for (let i = 0; i < inp; i++) t[i * rows + o] = w[(rowStart + o) * inp + i] * scale;
  return t;
}

/** The symbolic name of every graph input's and output's leading dimension. */
export const BATCH_DIM = 'batch';

/** A float tensor's type, its leading dimension the symbolic batch (shapes are written with a 1 there). */
function tensorType(shape: number[]) {
  return { tensorType: { elemType: OnnxDataType.FLOAT, shape: { dim: shape.map((d, i) => (i === 0 ? { dimParam: BATCH_DIM } : { dimValue: d })) } } };
}

function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version ?? '';
  } catch {
    return '';
  }
}

/** A conv's weight and bias with the BatchNorm after it (gamma, beta, mean, variance) folded in. */
function foldBatchNorm(weight: Float32Array, bias: Float32Array, [gamma, beta, mean, variance]: Float32Array[], cout: number): [Float32Array, Float32Array] {
  const foldedW = new Float32Array(weight.length);
  const foldedB = new Float32Array(cout);
  const per = weight.length / cout;
  for (let o = 0; o < cout; o++) {
    const s = gamma[o] / Math.sqrt(variance[o] + BN_EPS);
    for (let j = 0; j < per; j++) foldedW[o * per + j] = weight[o * per + j] * s;
    foldedB[o] = (bias[o] - mean[o]) * s + beta[o];
  }
  return [foldedW, foldedB];
}

/** OSTrack's centre head on the search map [1, dim, F, F]: the three towers to the three output maps. */
function centreHead(g: GraphBuilder, config: TrackerNetConfig, get: (name: string) => Float32Array, map: string): void {
  const ch = towerChannels(config);
  const names = TENSOR_NAMES.outputs;
  const outputs: Record<string, string> = { ctr: names.score, size: names.size, offset: names.offset };
  const low = g.scalar('clamp_min', SCORE_CLAMP);
  const high = g.scalar('clamp_max', 1 - SCORE_CLAMP);
  for (const tower of HEAD_TOWERS) {
    let y = map;
    for (let k = 1; k <= 4; k++) {
      const p = `box_head.conv${k}_${tower}.`;
      const [cin, cout] = [ch[k - 1], ch[k]];
      // BatchNorm's inference statistics folded into the conv (an imported, already folded head has none).
      const [weight, bias] = [get(`${p}0.weight`), get(`${p}0.bias`)];
      const [foldedW, foldedB] = config.headNorm === 'none' ? [weight, bias] : foldBatchNorm(weight, bias, ['weight', 'bias', 'running_mean', 'running_var'].map((s) => get(`${p}1.${s}`)), cout);
      const conv = g.op('Conv', [y, g.floats(`${p}weight_folded`, [cout, cin, 3, 3], foldedW), g.floats(`${p}bias_folded`, [cout], foldedB)], `${p}conv`, {
        kernel_shape: [3, 3],
        pads: [1, 1, 1, 1],
      });
      y = g.op('Relu', [conv], `${p}relu`);
    }
    const p = `box_head.conv5_${tower}`;
    const out = TOWER_OUTPUTS[tower];
    const inputs = [y, g.floats(`${p}.weight`, [out, ch[4], 1, 1], get(`${p}.weight`)), g.floats(`${p}.bias`, [out], get(`${p}.bias`))];
    if (tower === 'offset') {
      g.op('Conv', inputs, p, { kernel_shape: [1, 1] }, outputs[tower]);
    } else {
      const logits = g.op('Conv', inputs, p, { kernel_shape: [1, 1] });
      g.op('Clip', [g.op('Sigmoid', [logits], `${p}.sigmoid`), low, high], `${p}.clamp`, {}, outputs[tower]);
    }
  }
}

/**
 * Which graph to build: the whole network, or for an asymmetric network one of its two parts
 * (docs/MODEL_FORMAT.md, "Two-part models"): `template` (template crop in, the template's keys and
 * values of every block out: templateCacheTensors) and `frame` (search crop and those in, the maps out).
 */
export type OnnxPart = 'whole' | 'template' | 'frame';

/** The tensors a two-part model caches per init(): block i's template keys [1,h,hd,Nz] and values [1,h,Nz,hd]. */
export function templateCacheTensors(config: TrackerNetConfig): { name: string; shape: number[] }[] {
  const { templateTokens: nz } = geometry(config);
  const hd = config.dim / config.heads;
  return Array.from({ length: config.depth }, (_, i) => [
    { name: `template_k_${i}`, shape: [1, config.heads, hd, nz] },
    { name: `template_v_${i}`, shape: [1, config.heads, nz, hd] },
  ]).flat();
}

/**
 * Encodes the network (or `part` of it) as an ONNX model; weights are checked against the config
 * first. A `frame` part names its template part's file (`templatePartFile`, beside it) in its metadata.
 */
export function buildTrackerOnnx(config: TrackerNetConfig, weights: WeightMap, part: OnnxPart = 'whole', templatePartFile?: string): Uint8Array {
  if (part !== 'whole' && config.attention !== 'asymmetric') {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'only a network with asymmetric attention splits into a template part and a per-frame part (compress with --attention asymmetric)');
  }
  if (part === 'frame' && !templatePartFile) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'a per-frame part needs the name of its template part file');
  const w = checkWeights(config, weights, 'the weights to export');
  const get = (name: string) => w.get(name)!.data;
  const g = new GraphBuilder();
  const { dim: d, heads } = config;
  const hd = d / heads;
  const hidden = d * config.mlpRatio;
  const { templateTokens: nz, searchTokens: nx, featureSize: f } = geometry(config);
  const n = nz + nx;

  // Patch embedding (one strided conv, or a stem of 3x3 stride-2 convs with HardSwish between
  // them, shared by template and search) and position embeddings; template tokens first.
  const stem = (config.stem ?? []).map((width, i) => ({
    weight: g.floats(`patch_embed.stem.${i}.weight`, [width, i === 0 ? 3 : config.stem![i - 1], 3, 3], get(`patch_embed.stem.${i}.weight`)),
    bias: g.floats(`patch_embed.stem.${i}.bias`, [width], get(`patch_embed.stem.${i}.bias`)),
  }));
  const patch = config.stem ? undefined : {
    weight: g.floats('patch_embed.proj.weight', [d, 3, config.patch, config.patch], get('patch_embed.proj.weight')),
    bias: g.floats('patch_embed.proj.bias', [d], get('patch_embed.proj.bias')),
  };
  const embed = (input: string, tokens: number, pos: string) => {
    let conv = input;
    if (patch) {
      conv = g.op('Conv', [input, patch.weight, patch.bias], `${input}_patch_embed`, { kernel_shape: [config.patch, config.patch], strides: [config.patch, config.patch] });
    } else {
      stem.forEach(({ weight, bias }, i) => {
        conv = g.op('Conv', [conv, weight, bias], `${input}_stem_${i}`, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
        if (i < stem.length - 1) conv = g.op('HardSwish', [conv], `${input}_stem_${i}_hardswish`);
      });
    }
    const flat = g.op('Reshape', [conv, g.int64s(`${input}_tokens_shape`, [0, d, tokens])], `${input}_flatten`);
    const seq = g.op('Transpose', [flat], `${input}_tokens`, { perm: [0, 2, 1] });
    return g.op('Add', [seq, g.floats(pos, [1, tokens, d], get(pos))], `${input}_pos`);
  };
  const layerNorm = (input: string, prefix: string) =>
    g.op('LayerNormalization', [input, g.weight(`${prefix}.weight`, [d], () => get(`${prefix}.weight`)), g.weight(`${prefix}.bias`, [d], () => get(`${prefix}.bias`))], prefix, {
      axis: -1,
      epsilon: { float: normEps(config) },
    });
  /** Tokens [B, n, d] as rows [B n, d], made once per tensor (q, k and v read the same rows). */
  const rowsOf = new Map<string, string>();
  /**
   * A linear layer on tokens [B, n, inp] -> [B, n, out]: a Gemm on the tokens as rows, which
   * onnxruntime runs with its bias fused (it fuses a MatMul's bias Add only in two dimensions); the
   * Reshapes around it move no data.
   */
  const linear = (input: string, n: number, name: string, weight: () => Float32Array, out: number, inp: number, bias: () => Float32Array) => {
    let rows = rowsOf.get(input);
    if (!rows) rowsOf.set(input, (rows = g.op('Reshape', [input, g.int64s(`${name}.rows_shape`, [-1, inp])], `${name}.rows`)));
    const y = g.op('Gemm', [rows, g.weight(`${name}.weight_t`, [inp, out], weight), g.weight(`${name}.bias`, [out], bias)], `${name}.gemm`);
    return g.op('Reshape', [y, g.int64s(`${name}.tokens_shape`, [-1, n, out])], name);
  };

  const scale = 1 / Math.sqrt(hd);
  /**
   * q, k or v of tokens [1, n, d] (its part j of qkv; three matmuls, no Slice ops), as heads: q and
   * v [1, heads, n, hd], k transposed [1, heads, hd, n]; the 1/sqrt(hd) score scale folded into q.
   */
  const project = (h: string, i: number, j: 0 | 1 | 2, n: number, out?: string) => {
    const p = `blocks.${i}.attn.${'qkv'[j]}`;
    const s = j === 0 ? scale : 1;
    const qkvW = get(`blocks.${i}.attn.qkv.weight`);
    const qkvB = get(`blocks.${i}.attn.qkv.bias`);
    const y = linear(h, n, p, () => transposed(qkvW, 3 * d, d, j * d, d, s), d, d, () => qkvB.slice(j * d, (j + 1) * d).map((v) => v * s));
    const heads4 = g.op('Reshape', [y, g.int64s(`${p}_heads_shape`, [0, n, heads, hd])], `${p}_heads`);
    // One head: q and v as [1, 1, n, hd] are the same memory as [1, n, 1, hd], a Reshape, no copy
    // (the first Reshape stays: it is where an import reads the head count).
    if (heads === 1 && j !== 1) return g.op('Reshape', [heads4, g.int64s(`${p}_one_head_shape`, [0, 1, n, hd])], `${p}_t`, {}, out);
    return g.op('Transpose', [heads4], `${p}_t`, { perm: j === 1 ? [0, 2, 3, 1] : [0, 2, 1, 3] }, out);
  };
  /** softmax(q k) v back to tokens [1, n, d], then the rest of block i: projection, residual, MLP. */
  const finish = (x: string, q: string, k: string, v: string, i: number, n: number) => {
    const p = `blocks.${i}.`;
    const attn = g.op('Softmax', [g.op('MatMul', [q, k], `${p}attn.scores`)], `${p}attn.softmax`, { axis: -1 });
    const mix = g.op('MatMul', [attn, v], `${p}attn.mix`);
    const mixed = heads === 1 ? mix : g.op('Transpose', [mix], `${p}attn.mix_t`, { perm: [0, 2, 1, 3] });
    const merged = g.op('Reshape', [mixed, g.int64s(`${p}attn.merge_shape`, [0, n, d])], `${p}attn.merge`);
    const proj = linear(merged, n, `${p}attn.proj`, () => transposed(get(`${p}attn.proj.weight`), d, d), d, d, () => get(`${p}attn.proj.bias`));
    const x1 = g.op('Add', [x, proj], `${p}attn.residual`);
    const h2 = layerNorm(x1, `${p}norm2`);
    const fc1 = linear(h2, n, `${p}mlp.fc1`, () => transposed(get(`${p}mlp.fc1.weight`), hidden, d), hidden, d, () => get(`${p}mlp.fc1.bias`));
    // GELU(x) = 0.5 * x * (1 + erf(x / sqrt 2)), the exact form, written as onnxruntime's GeluFusion
    // matches it (Div by sqrt 2, not Mul by its inverse): one Gelu op, its bias folded in (BiasGelu).
    const erf = g.op('Erf', [g.op('Div', [fc1, g.weight('gelu.sqrt2', [], () => Float32Array.of(Math.SQRT2))], `${p}mlp.gelu_scale`)], `${p}mlp.gelu_erf`);
    const gate = g.op('Add', [erf, g.weight('gelu.one', [], () => Float32Array.of(1))], `${p}mlp.gelu_add`);
    const gelu = g.op('Mul', [g.op('Mul', [fc1, gate], `${p}mlp.gelu_mul`), g.weight('gelu.half', [], () => Float32Array.of(0.5))], `${p}mlp.gelu`);
    const fc2 = linear(gelu, n, `${p}mlp.fc2`, () => transposed(get(`${p}mlp.fc2.weight`), d, hidden), d, hidden, () => get(`${p}mlp.fc2.bias`));
    return g.op('Add', [x1, fc2], `${p}mlp.residual`);
  };

  const inputs: { name: string; shape: number[] }[] = [];
  const outputs: { name: string; shape: number[] }[] = [];
  const cache = templateCacheTensors(config);
  let searchTokens: string | undefined; // [1, nx, d] after the last block, before the final norm
  if (config.attention !== 'asymmetric') {
    // Joint attention: one sequence, template tokens first.
    let x = g.op('Concat', [embed(TENSOR_NAMES.inputs.template, nz, 'pos_embed_z'), embed(TENSOR_NAMES.inputs.search, nx, 'pos_embed_x')], 'tokens', { axis: 1 });
    for (let i = 0; i < config.depth; i++) {
      const h = layerNorm(x, `blocks.${i}.norm1`);
      x = finish(x, project(h, i, 0, n), project(h, i, 1, n), project(h, i, 2, n), i, n);
    }
    searchTokens = g.op('Slice', [x, g.int64s('search_start', [nz]), g.int64s('search_end', [n]), g.int64s('search_axis', [1])], 'search_tokens');
  } else {
    // Asymmetric attention: the template's tokens attend to each other only, so its keys and values
    // in every block (the cache) depend on the template alone; search tokens attend to both.
    const kv: { k: string; v: string }[] = [];
    if (part === 'frame') {
      for (const t of cache) inputs.push(t);
      for (let i = 0; i < config.depth; i++) kv.push({ k: cache[2 * i].name, v: cache[2 * i + 1].name });
    } else {
      let z = embed(TENSOR_NAMES.inputs.template, nz, 'pos_embed_z');
      for (let i = 0; i < config.depth; i++) {
        const h = layerNorm(z, `blocks.${i}.norm1`);
        const named = part === 'template';
        kv.push({ k: project(h, i, 1, nz, named ? cache[2 * i].name : undefined), v: project(h, i, 2, nz, named ? cache[2 * i + 1].name : undefined) });
        if (i < config.depth - 1) z = finish(z, project(h, i, 0, nz), kv[i].k, kv[i].v, i, nz); // the last block's template tokens feed nothing
      }
      if (part === 'template') for (const t of cache) outputs.push(t);
    }
    if (part !== 'template') {
      let x = embed(TENSOR_NAMES.inputs.search, nx, 'pos_embed_x');
      for (let i = 0; i < config.depth; i++) {
        const h = layerNorm(x, `blocks.${i}.norm1`);
        const k = g.op('Concat', [kv[i].k, project(h, i, 1, nx)], `blocks.${i}.attn.k_all`, { axis: 3 });
        const v = g.op('Concat', [kv[i].v, project(h, i, 2, nx)], `blocks.${i}.attn.v_all`, { axis: 2 });
        x = finish(x, project(h, i, 0, nx), k, v, i, nx);
      }
      searchTokens = x;
    }
  }
  if (part !== 'frame') inputs.unshift({ name: TENSOR_NAMES.inputs.template, shape: [1, 3, config.templateSize, config.templateSize] });
  if (part !== 'template') inputs.splice(part === 'frame' ? 0 : 1, 0, { name: TENSOR_NAMES.inputs.search, shape: [1, 3, config.searchSize, config.searchSize] });

  if (searchTokens) {
    // Final norm; the search tokens as a [1, dim, F, F] map (token t is cell (t / F, t % F)).
    const normed = layerNorm(searchTokens, 'norm');
    const channels = g.op('Transpose', [normed], 'search_channels', { perm: [0, 2, 1] });
    const map = g.op('Reshape', [channels, g.int64s('map_shape', [0, d, f, f])], 'search_map');
    centreHead(g, config, get, map);
    outputs.push({ name: TENSOR_NAMES.outputs.score, shape: [1, 1, f, f] }, { name: TENSOR_NAMES.outputs.size, shape: [1, 2, f, f] }, { name: TENSOR_NAMES.outputs.offset, shape: [1, 2, f, f] });
  }

  const metadata: Record<string, string> = { ...metadataFromConfig(runtimeConfig(config)), [NETWORK_METADATA_KEY]: JSON.stringify(config) };
  if (part === 'frame') metadata[TWO_PART_METADATA.templatePart] = templatePartFile!;
  if (part === 'template') metadata[TWO_PART_METADATA.part] = 'template';
  const model = ModelProto.fromObject({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'ct-edge',
    producerVersion: packageVersion(),
    graph: {
      name: 'ct_edge_tracker',
      node: g.nodes,
      initializer: g.initializers,
      input: inputs.map((t) => ({ name: t.name, type: tensorType(t.shape) })),
      output: outputs.map((t) => ({ name: t.name, type: tensorType(t.shape) })),
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return ModelProto.encode(model).finish();
}

/** Where the template part of a two-part model goes: `X.onnx` -> `X.template.onnx` beside it. */
export const templatePartPath = (path: string): string => path.replace(/(\.onnx)?$/i, '.template.onnx');

/**
 * Exports to `path` atomically: the whole network as one graph, or (`twoPart`, asymmetric networks
 * only) the per-frame part at `path` and the template part at templatePartPath(path).
 * Returns the files written.
 */
export async function writeTrackerOnnx(path: string, config: TrackerNetConfig, weights: WeightMap, options: { twoPart?: boolean } = {}): Promise<string[]> {
  if (!options.twoPart) {
    await writeFileAtomic(path, [buildTrackerOnnx(config, weights)]);
    return [path];
  }
  const template = templatePartPath(path);
  // the template part first: a per-frame part never names a file that is not there
  await writeFileAtomic(template, [buildTrackerOnnx(config, weights, 'template')]);
  await writeFileAtomic(path, [buildTrackerOnnx(config, weights, 'frame', basename(template))]);
  return [path, template];
}
