/**
 * Exports a tracker network to ONNX with protobufjs, from plain weights (no TensorFlow.js needed).
 *
 * The graph is built for deployment: IR 8 / opset 17, batch 1 and static shapes everywhere,
 * LayerNorm as one LayerNormalization op (so TensorRT can keep it in FP32 under FP16), GELU as its
 * erf formula, BatchNorm folded into the head convs, and only ops TensorRT 10 parses: Conv,
 * MatMul, Add, Mul, Reshape, Transpose, Softmax, LayerNormalization, Erf, Sigmoid, Clip, Concat,
 * Slice, Relu. The ONNX contract: inputs `template` [1,3,Ht,Wt] and `search` [1,3,Hs,Ws] float32,
 * outputs `score_map` [1,1,F,F], `size_map` [1,2,F,F], `offset_map` [1,2,F,F], and metadata_props
 * that let the runtime run the model with no options.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './checkpoint/atomic.js';
import { geometry, normEps, runtimeConfig, type TrackerNetConfig } from './model/config.js';
import { BN_EPS } from './model/layers.js';
import { HEAD_TOWERS, TOWER_OUTPUTS, towerChannels, type WeightMap } from './model/params.js';
import { checkWeights } from './model/weights.js';
import { metadataFromConfig, NETWORK_METADATA_KEY, TENSOR_NAMES } from '../contract/model-config.js';
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

function tensorType(shape: number[]) {
  return { tensorType: { elemType: OnnxDataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } };
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

/** Encodes the network as an ONNX model (weights are checked against the config first). */
export function buildTrackerOnnx(config: TrackerNetConfig, weights: WeightMap): Uint8Array {
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
    const flat = g.op('Reshape', [conv, g.int64s(`${input}_tokens_shape`, [1, d, tokens])], `${input}_flatten`);
    const seq = g.op('Transpose', [flat], `${input}_tokens`, { perm: [0, 2, 1] });
    return g.op('Add', [seq, g.floats(pos, [1, tokens, d], get(pos))], `${input}_pos`);
  };
  let x = g.op('Concat', [embed(TENSOR_NAMES.inputs.template, nz, 'pos_embed_z'), embed(TENSOR_NAMES.inputs.search, nx, 'pos_embed_x')], 'tokens', { axis: 1 });

  const layerNorm = (input: string, prefix: string) =>
    g.op('LayerNormalization', [input, g.floats(`${prefix}.weight`, [d], get(`${prefix}.weight`)), g.floats(`${prefix}.bias`, [d], get(`${prefix}.bias`))], prefix, {
      axis: -1,
      epsilon: { float: normEps(config) },
    });
  const linear = (input: string, name: string, weight: Float32Array, out: number, inp: number, bias: Float32Array) =>
    g.op('Add', [g.op('MatMul', [input, g.floats(`${name}.weight_t`, [inp, out], weight)], `${name}.matmul`), g.floats(`${name}.bias`, [out], bias)], name);

  const headShape = g.int64s('heads_shape', [1, n, heads, hd]);
  const tokenShape = g.int64s('token_shape', [1, n, d]);
  const scale = 1 / Math.sqrt(hd);
  for (let i = 0; i < config.depth; i++) {
    const p = `blocks.${i}.`;
    const h = layerNorm(x, `${p}norm1`);
    // qkv splits into three matmuls (no Slice ops), with the 1/sqrt(hd) score scale folded into q.
    const qkvW = get(`${p}attn.qkv.weight`);
    const qkvB = get(`${p}attn.qkv.bias`);
    const project = (j: number, what: string, perm: number[], s = 1) => {
      const y = linear(h, `${p}attn.${what}`, transposed(qkvW, 3 * d, d, j * d, d, s), d, d, qkvB.slice(j * d, (j + 1) * d).map((v) => v * s));
      return g.op('Transpose', [g.op('Reshape', [y, headShape], `${p}attn.${what}_heads`)], `${p}attn.${what}_t`, { perm });
    };
    const q = project(0, 'q', [0, 2, 1, 3], scale);
    const k = project(1, 'k', [0, 2, 3, 1]);
    const v = project(2, 'v', [0, 2, 1, 3]);
    const attn = g.op('Softmax', [g.op('MatMul', [q, k], `${p}attn.scores`)], `${p}attn.softmax`, { axis: -1 });
    const mixed = g.op('Transpose', [g.op('MatMul', [attn, v], `${p}attn.mix`)], `${p}attn.mix_t`, { perm: [0, 2, 1, 3] });
    const merged = g.op('Reshape', [mixed, tokenShape], `${p}attn.merge`);
    const proj = linear(merged, `${p}attn.proj`, transposed(get(`${p}attn.proj.weight`), d, d), d, d, get(`${p}attn.proj.bias`));
    x = g.op('Add', [x, proj], `${p}attn.residual`);

    const h2 = layerNorm(x, `${p}norm2`);
    const fc1 = linear(h2, `${p}mlp.fc1`, transposed(get(`${p}mlp.fc1.weight`), hidden, d), hidden, d, get(`${p}mlp.fc1.bias`));
    // GELU(x) = 0.5 * x * (1 + erf(x / sqrt 2)), the exact form.
    const erf = g.op('Erf', [g.op('Mul', [fc1, g.scalar(`${p}mlp.inv_sqrt2`, Math.SQRT1_2)], `${p}mlp.gelu_scale`)], `${p}mlp.gelu_erf`);
    const gate = g.op('Add', [erf, g.scalar(`${p}mlp.one`, 1)], `${p}mlp.gelu_add`);
    const gelu = g.op('Mul', [g.op('Mul', [fc1, gate], `${p}mlp.gelu_mul`), g.scalar(`${p}mlp.half`, 0.5)], `${p}mlp.gelu`);
    const fc2 = linear(gelu, `${p}mlp.fc2`, transposed(get(`${p}mlp.fc2.weight`), d, hidden), d, hidden, get(`${p}mlp.fc2.bias`));
    x = g.op('Add', [x, fc2], `${p}mlp.residual`);
  }

  // Final norm; the search tokens as a [1, dim, F, F] map (token t is cell (t / F, t % F)).
  const normed = layerNorm(x, 'norm');
  const search = g.op('Slice', [normed, g.int64s('search_start', [nz]), g.int64s('search_end', [n]), g.int64s('search_axis', [1])], 'search_tokens');
  const channels = g.op('Transpose', [search], 'search_channels', { perm: [0, 2, 1] });
  const map = g.op('Reshape', [channels, g.int64s('map_shape', [1, d, f, f])], 'search_map');

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

  const metadata = { ...metadataFromConfig(runtimeConfig(config)), [NETWORK_METADATA_KEY]: JSON.stringify(config) };
  const model = ModelProto.fromObject({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'ct-edge',
    producerVersion: packageVersion(),
    graph: {
      name: 'ct_edge_tracker',
      node: g.nodes,
      initializer: g.initializers,
      input: [
        { name: TENSOR_NAMES.inputs.template, type: tensorType([1, 3, config.templateSize, config.templateSize]) },
        { name: TENSOR_NAMES.inputs.search, type: tensorType([1, 3, config.searchSize, config.searchSize]) },
      ],
      output: [
        { name: names.score, type: tensorType([1, 1, f, f]) },
        { name: names.size, type: tensorType([1, 2, f, f]) },
        { name: names.offset, type: tensorType([1, 2, f, f]) },
      ],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return ModelProto.encode(model).finish();
}

/** Exports to `path` atomically. */
export async function writeTrackerOnnx(path: string, config: TrackerNetConfig, weights: WeightMap): Promise<void> {
  await writeFileAtomic(path, [buildTrackerOnnx(config, weights)]);
}
