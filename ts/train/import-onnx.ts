/**
 * A pretrained OSTrack-family tracker from ONNX into a TrackerNet checkpoint, so that it trains,
 * compresses and exports like ct-edge's own networks (`ct-edge import`).
 *
 * Weights are placed by graph structure, never by name: exporters leave initializers unnamed
 * (VitTrack's are numbers) and store Linear weights transposed as MatMul operands. The walk:
 *   1. each input's patch embedding: one patch x patch Conv, or a stem of 3x3 stride-2 Convs with
 *      HardSwish between them (template and search must share it), up to the Add of its position
 *      embedding;
 *   2. in node order, every LayerNorm (the LayerNormalization op, or ReduceMean/Sub/Pow/ReduceMean/
 *      Add eps/Sqrt/Div spelled out, then Mul weight and Add bias) and every MatMul by a weight
 *      plus its bias: per block norm1, qkv, proj, norm2, fc1, fc2; the last norm is the final one;
 *   3. from each output back: [Clip] <- [Sigmoid] <- 1x1 Conv <- 4 x (Relu <- [BatchNormalization]
 *      <- 3x3 Conv), the centre head's three towers.
 * Anything else stops the import with ERR_MODEL_INVALID naming the node: never a half-mapped network.
 */
import { readFile } from 'node:fs/promises';
import { CtEdgeError } from '../contract/errors.js';
import { OSTRACK_DEFAULTS, optionsFromMetadata, resolveModelConfig, type ModelOptions } from '../contract/model-config.js';
import { parseOnnxModel } from '../contract/onnx-reader.js';
import { ModelProto, OnnxDataType } from '../contract/onnx-schema.js';
import { validateNetConfig, type TrackerNetConfig } from './model/config.js';
import { HEAD_TOWERS, type HeadTower, type WeightMap } from './model/params.js';
import { checkWeights } from './model/weights.js';

interface Node {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute?: { name: string; f?: number; i?: unknown; ints?: unknown[]; t?: Tensor }[];
}

interface Tensor {
  name?: string;
  dims?: unknown[];
  dataType?: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int64Data?: unknown[];
}

interface Array32 {
  dims: number[];
  data: Float32Array;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v as bigint | string | { toString(): string }));

/** The graph with lookups by tensor: who makes it, who reads it, and the constants' values. */
class Graph {
  readonly producer = new Map<string, Node>();
  readonly consumers = new Map<string, Node[]>();
  private readonly constants = new Map<string, Tensor>();

  constructor(
    readonly nodes: Node[],
    initializers: Tensor[],
    private readonly source: string,
    graphInputs: readonly string[] = [],
  ) {
    for (const t of initializers) this.constants.set(t.name ?? '', t);
    for (const n of nodes) {
      for (const o of n.output) this.producer.set(o, n);
      for (const i of n.input) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
      if (n.opType === 'Constant') {
        const value = n.attribute?.find((a) => a.name === 'value')?.t;
        if (value) this.constants.set(n.output[0], value);
      }
    }
    // Every tensor a node reads must come from somewhere (an empty name is an omitted optional input).
    const known = new Set([...graphInputs, ...this.constants.keys(), ...this.producer.keys()]);
    for (const n of nodes) {
      const dangling = n.input.find((i) => i !== '' && !known.has(i));
      if (dangling !== undefined) this.fail(`tensor '${dangling}' is read but no input, initializer or node makes it`, n);
    }
  }

  fail(what: string, node?: Node): never {
    const where = node ? ` at node '${node.name || node.output[0]}' (${node.opType})` : '';
    throw new CtEdgeError('ERR_MODEL_INVALID', `cannot import ${this.source}: ${what}${where}. ct-edge imports one-stream ViT trackers of the OSTrack family (OSTrack, VitTrack)`);
  }

  /** The value of a constant (initializer or Constant node) as float32, or undefined. */
  constant(name: string): Array32 | undefined {
    const t = this.constants.get(name);
    if (!t) return undefined;
    const dims = (t.dims ?? []).map(num);
    const count = dims.reduce((a, b) => a * b, 1);
    if (!dims.every((d) => Number.isInteger(d) && d >= 0)) this.fail(`constant '${name}' has the shape [${dims.join(',')}]`);
    // A copy of the bytes: protobufjs may hand out a Buffer that views a larger pool.
    const raw = t.rawData?.length ? new Uint8Array(t.rawData).buffer : undefined;
    const width = t.dataType === OnnxDataType.FLOAT ? 4 : t.dataType === OnnxDataType.INT64 ? 8 : 0;
    if (raw && width && raw.byteLength !== count * width) {
      this.fail(`constant '${name}' holds ${raw.byteLength} bytes, but its shape [${dims.join(',')}] needs ${count * width}; the file is damaged: export or download it again`);
    }
    let data: Float32Array;
    if (t.dataType === OnnxDataType.FLOAT) {
      data = raw ? new Float32Array(raw, 0, count) : Float32Array.from(t.floatData ?? []);
    } else if (t.dataType === OnnxDataType.INT64) {
      data = raw ? Float32Array.from(new BigInt64Array(raw, 0, count), Number) : Float32Array.from((t.int64Data ?? []).map(num));
    } else {
      return undefined;
    }
    if (data.length !== count) this.fail(`constant '${name}' holds ${data.length} values for shape [${dims.join(',')}]`);
    return { dims, data };
  }

  /** The one node reading `tensor` with op `opType` (shape plumbing such as Shape is skipped). */
  next(tensor: string, opType: string | readonly string[], from?: Node): Node {
    const ops = typeof opType === 'string' ? [opType] : opType;
    const found = (this.consumers.get(tensor) ?? []).filter((n) => ops.includes(n.opType));
    if (found.length !== 1) this.fail(`expected one ${ops.join(' or ')} reading '${tensor}', found ${found.length}`, from);
    return found[0];
  }

  /** The constant input of `node` (the other input is the activation). */
  weightOf(node: Node): Array32 {
    for (const i of node.input) {
      const c = this.constant(i);
      if (c) return c;
    }
    return this.fail('expected a constant (weight) input', node);
  }

  attr(node: Node, name: string): number[] | undefined {
    const a = node.attribute?.find((x) => x.name === name);
    if (!a) return undefined;
    if (a.ints?.length) return a.ints.map(num);
    return [a.f !== undefined && a.f !== 0 ? a.f : num(a.i ?? 0)];
  }
}

/** A conv weight and bias (bias zero when absent). */
function convParams(g: Graph, node: Node): { weight: Array32; bias: Array32 } {
  const weight = g.constant(node.input[1]) ?? g.fail('Conv weight is not a constant', node);
  const bias = node.input[2] ? (g.constant(node.input[2]) ?? g.fail('Conv bias is not a constant', node)) : { dims: [weight.dims[0]], data: new Float32Array(weight.dims[0]) };
  return { weight, bias };
}

const sameValues = (a: Array32, b: Array32) => a.dims.join() === b.dims.join() && a.data.every((v, i) => v === b.data[i]);

/** Step 1: the patch embedding of `input` and the position-embedding Add after it. */
function patchEmbedding(g: Graph, input: string): { convs: { weight: Array32; bias: Array32; stride: number }[]; pos: Array32; tokens: string } {
  const convs: { weight: Array32; bias: Array32; stride: number }[] = [];
  let node = g.next(input, 'Conv');
  for (;;) {
    const stride = g.attr(node, 'strides')?.[0] ?? 1;
    convs.push({ ...convParams(g, node), stride });
    const after = g.consumers.get(node.output[0]) ?? [];
    const swish = after.find((n) => n.opType === 'HardSwish');
    if (!swish) break;
    node = g.next(swish.output[0], 'Conv', swish);
  }
  // Reshape/Transpose/Flatten to tokens, then the Add of the position embedding.
  let tensor = node.output[0];
  for (let hops = 0; hops < 6; hops++) {
    const add = (g.consumers.get(tensor) ?? []).find((n) => n.opType === 'Add');
    if (add) {
      const pos = g.weightOf(add);
      if (pos.dims.length !== 3 || pos.dims[0] !== 1) g.fail(`expected a position embedding [1, N, dim], got [${pos.dims.join(',')}]`, add);
      return { convs, pos, tokens: add.output[0] };
    }
    tensor = g.next(tensor, ['Reshape', 'Transpose', 'Flatten'], node).output[0];
  }
  return g.fail(`no position embedding after the patch embedding of '${input}'`, node);
}

interface Norm {
  weight: Array32;
  bias: Array32;
  eps: number;
  output: string;
}

/** A LayerNorm ending at `node` (LayerNormalization, or the Sqrt of a spelled-out one). */
function layerNorm(g: Graph, node: Node): Norm {
  if (node.opType === 'LayerNormalization') {
    const weight = g.constant(node.input[1]) ?? g.fail('LayerNormalization scale is not a constant', node);
    const bias = g.constant(node.input[2]) ?? g.fail('LayerNormalization bias is not a constant', node);
    return { weight, bias, eps: g.attr(node, 'epsilon')?.[0] ?? 1e-5, output: node.output[0] };
  }
  const addEps = g.producer.get(node.input[0]);
  const eps = addEps?.opType === 'Add' ? g.weightOf(addEps).data[0] : g.fail('expected Add(variance, epsilon) before Sqrt', node);
  const div = g.next(node.output[0], 'Div', node);
  const mul = g.next(div.output[0], 'Mul', div);
  const add = g.next(mul.output[0], 'Add', mul);
  return { weight: g.weightOf(mul), bias: g.weightOf(add), eps, output: add.output[0] };
}

interface Linear {
  /** PyTorch layout [out, in]. */
  weight: Array32;
  bias: Array32;
  node: Node;
  output: string;
}

/**
 * A PyTorch Linear: MatMul by a constant [in, out] plus its bias (an Add), or a Gemm with its
 * constant weight [in, out] and bias (ct-edge's export).
 */
function linear(g: Graph, matmul: Node): Linear {
  const w = g.constant(matmul.input[1]) ?? g.fail(`expected ${matmul.opType}(x, weight)`, matmul);
  if (w.dims.length !== 2) g.fail(`expected a 2-D ${matmul.opType} weight, got [${w.dims.join(',')}]`, matmul);
  const attribute = (name: string, fallback: number) => g.attr(matmul, name)?.[0] ?? fallback;
  const gemm = matmul.opType === 'Gemm';
  if (gemm && (['transA', 'transB'].some((a) => attribute(a, 0) !== 0) || ['alpha', 'beta'].some((a) => attribute(a, 1) !== 1))) {
    g.fail('a Gemm that transposes or scales is not read as a linear layer (ct-edge reads Gemm(x, weight [in, out], bias))', matmul);
  }
  const [inp, out] = w.dims;
  const t = new Float32Array(inp * out);
  for (let i = 0; i < inp; i++) for (let o = 0; o < out; o++) t[o * inp + i] = w.data[i * out + o];
  if (gemm) {
    const bias = (matmul.input[2] && g.constant(matmul.input[2])) || g.fail('expected a Gemm with a constant bias', matmul);
    if (bias.data.length !== out) g.fail(`bias of ${bias.data.length} for a linear layer of ${out}`, matmul);
    return { weight: { dims: [out, inp], data: t }, bias, node: matmul, output: matmul.output[0] };
  }
  const add = g.next(matmul.output[0], 'Add', matmul);
  const bias = g.weightOf(add);
  if (bias.data.length !== out) g.fail(`bias of ${bias.data.length} for a linear layer of ${out}`, add);
  return { weight: { dims: [out, inp], data: t }, bias, node: matmul, output: add.output[0] };
}

/**
 * Follows `tensor` through shape plumbing to the next compute node; the first Reshape on the way
 * into heads (to 4 or more dimensions), if any.
 */
function throughShapes(g: Graph, tensor: string, from: Node): { node: Node; reshape?: Node } {
  let reshape: Node | undefined;
  for (let hops = 0; hops < 8; hops++) {
    const next = (g.consumers.get(tensor) ?? []).filter((n) => n.opType !== 'Shape');
    if (next.length !== 1) g.fail(`expected one node reading '${tensor}', found ${next.length}`, from);
    const node = next[0];
    if (!['Reshape', 'Transpose', 'Split', 'Squeeze', 'Unsqueeze'].includes(node.opType)) return { node, reshape };
    if (node.opType === 'Reshape' && (g.constant(node.input[1])?.data.length ?? 4) >= 4) reshape ??= node;
    tensor = node.output[0];
  }
  return g.fail(`no attention after '${tensor}'`, from);
}

/**
 * A block's attention input projection as PyTorch's qkv Linear [3 dim, dim], and its head count.
 * Either one MatMul (timm's export: reshaped to [B, N, 3, heads, head_dim], q scaled by a Mul) or
 * three reading the same tensor (ct-edge's export: each reshaped to [B, N, heads, head_dim], the
 * 1/sqrt(head_dim) scale folded into q, which is undone here).
 */
function attentionInput(g: Graph, projections: Linear[], dim: number): { qkv: Linear; heads: number } {
  const [first] = projections;
  const { node, reshape } = throughShapes(g, first.output, first.node);
  const shape = reshape && g.constant(reshape.input[1]);
  const separate = projections.length === 3;
  if (!shape || shape.data.length !== (separate ? 4 : 5) || (!separate && shape.data[2] !== 3)) g.fail(separate ? 'expected q reshaped to [B, N, heads, head_dim]' : 'expected qkv reshaped to [B, N, 3, heads, head_dim]', reshape ?? first.node);
  const heads = shape.data[separate ? 2 : 3];
  if (!(Number.isInteger(heads) && heads >= 1 && dim % heads === 0)) g.fail(`a head count of ${heads} does not divide the width ${dim}`, reshape);
  const scale = 1 / Math.sqrt(dim / heads);
  const explicit = node.opType === 'Mul' ? g.weightOf(node).data[0] : undefined;
  if (explicit !== undefined && Math.abs(explicit - scale) > scale * 1e-4) g.fail(`an attention scale of ${explicit}, not 1/sqrt(head_dim) = ${scale}`, node);
  if (!separate) return { qkv: first, heads };
  const unscale = explicit === undefined ? 1 / scale : 1;
  const weight = new Float32Array(3 * dim * dim);
  const bias = new Float32Array(3 * dim);
  projections.forEach((l, j) => {
    const s = j === 0 ? unscale : 1;
    weight.set(l.weight.data.map((v) => v * s), j * dim * dim);
    bias.set(l.bias.data.map((v) => v * s), j * dim);
  });
  return { qkv: { weight: { dims: [3 * dim, dim], data: weight }, bias: { dims: [3 * dim], data: bias }, node: first.node, output: first.output }, heads };
}

interface Tower {
  convs: { weight: Array32; bias: Array32; bn?: Array32[] }[];
  out: { weight: Array32; bias: Array32 };
  sigmoid: boolean;
  input: string;
}

/** Step 3: a head tower, walked back from its output. */
function tower(g: Graph, output: string): Tower {
  let node = g.producer.get(output) ?? g.fail(`no node makes the output '${output}'`);
  if (node.opType === 'Clip') node = g.producer.get(node.input[0]) ?? g.fail('Clip of nothing', node);
  const sigmoid = node.opType === 'Sigmoid';
  if (sigmoid) node = g.producer.get(node.input[0]) ?? g.fail('Sigmoid of nothing', node);
  if (node.opType !== 'Conv') g.fail(`expected the head's 1x1 Conv before output '${output}'`, node);
  const out = convParams(g, node);
  const convs: Tower['convs'] = [];
  for (let k = 0; k < 4; k++) {
    const relu = g.producer.get(node.input[0]);
    if (relu?.opType !== 'Relu') g.fail(`expected Relu before conv ${4 - k + 1} of the tower of '${output}'`, relu ?? node);
    let conv = g.producer.get(relu.input[0]) ?? g.fail('Relu of nothing', relu);
    let bn: Array32[] | undefined;
    if (conv.opType === 'BatchNormalization') {
      bn = [1, 2, 3, 4].map((i) => g.constant(conv.input[i]) ?? g.fail('BatchNormalization parameters are not constants', conv));
      conv = g.producer.get(conv.input[0]) ?? g.fail('BatchNormalization of nothing', conv);
    }
    if (conv.opType !== 'Conv' || g.attr(conv, 'kernel_shape')?.[0] !== 3) g.fail(`expected a 3x3 Conv in the tower of '${output}'`, conv);
    convs.unshift({ ...convParams(g, conv), bn });
    node = conv;
  }
  return { convs, out, sigmoid, input: node.input[0] };
}

export interface ImportedTracker {
  config: TrackerNetConfig;
  weights: WeightMap;
}

/**
 * Maps an OSTrack-family ONNX model onto TrackerNet. `options` are the model options `eval` and
 * `track` take (output names, channel order, box mapping, ...); they end up in the config, so the
 * checkpoint and every student made from it carry them.
 */
export function importTrackerModel(bytes: Uint8Array, options: ModelOptions = {}, source = 'the model'): ImportedTracker {
  const info = parseOnnxModel(bytes, source);
  const resolved = resolveModelConfig(info, optionsFromMetadata(info.metadata), options);
  const decoded = ModelProto.decode(bytes) as unknown as { graph?: { node?: Node[]; initializer?: Tensor[]; input?: { name?: string }[] } };
  const g = new Graph(decoded.graph?.node ?? [], decoded.graph?.initializer ?? [], source, (decoded.graph?.input ?? []).map((i) => i.name ?? ''));
  const same = (a: readonly number[], b: readonly number[]) => a.every((v, i) => Math.abs(v - b[i]) < 1e-6);
  if (!same(resolved.mean, OSTRACK_DEFAULTS.mean) || !same(resolved.std, OSTRACK_DEFAULTS.std)) {
    g.fail(`its normalisation (mean ${resolved.mean}, std ${resolved.std}) is not ImageNet's, which TrackerNet trains with`);
  }

  // 1. Patch embeddings.
  const z = patchEmbedding(g, resolved.inputs.template);
  const x = patchEmbedding(g, resolved.inputs.search);
  if (z.convs.length !== x.convs.length || !z.convs.every((c, i) => sameValues(c.weight, x.convs[i].weight) && sameValues(c.bias, x.convs[i].bias))) {
    g.fail('the template and search patch embeddings differ; TrackerNet shares one');
  }
  const dim = z.convs[z.convs.length - 1].weight.dims[0];
  const weights: WeightMap = new Map();
  const put = (name: string, t: Array32, shape = t.dims) => weights.set(name, { shape, data: t.data });
  let stem: number[] | undefined;
  let patch: number;
  if (z.convs.length === 1) {
    patch = z.convs[0].weight.dims[2];
    if (z.convs[0].stride !== patch) g.fail(`a patch embedding with kernel ${patch} and stride ${z.convs[0].stride}`);
    put('patch_embed.proj.weight', z.convs[0].weight);
    put('patch_embed.proj.bias', z.convs[0].bias);
  } else {
    if (!z.convs.every((c) => c.stride === 2 && c.weight.dims[2] === 3)) g.fail('a convolutional stem other than 3x3 stride-2 convolutions');
    stem = z.convs.map((c) => c.weight.dims[0]);
    patch = 2 ** stem.length;
    z.convs.forEach((c, i) => {
      put(`patch_embed.stem.${i}.weight`, c.weight);
      put(`patch_embed.stem.${i}.bias`, c.bias);
    });
  }
  put('pos_embed_z', z.pos);
  put('pos_embed_x', x.pos);

  // 2. Norms and linear layers in node order.
  const norms: Norm[] = [];
  const linears: Linear[] = [];
  let gelu: 'exact' | 'other' | undefined;
  for (const node of g.nodes) {
    if (node.opType === 'LayerNormalization' || node.opType === 'Sqrt') norms.push(layerNorm(g, node));
    else if ((node.opType === 'MatMul' || node.opType === 'Gemm') && g.constant(node.input[1])) linears.push(linear(g, node));
    else if (node.opType === 'Erf') gelu ??= 'exact';
    else if (node.opType === 'Tanh' || node.opType === 'Gelu') gelu = 'other';
  }
  // Per block: qkv (one MatMul, or q, k and v reading one tensor), proj, fc1, fc2.
  const blocks: Linear[][] = [];
  for (let i = 0; i < linears.length; ) {
    const q = linears[i].node.input[0];
    const inputs = linears.slice(i, i + 3).filter((l) => l.node.input[0] === q).length === 3 ? 3 : 1;
    blocks.push(linears.slice(i, i + inputs + 3));
    i += inputs + 3;
  }
  const depth = blocks.length;
  if (depth < 1 || blocks[depth - 1].length < 4 || norms.length !== 2 * depth + 1) {
    g.fail(`found ${linears.length} linear layers and ${norms.length} LayerNorms, which do not make ViT blocks (per block: qkv, proj, fc1, fc2 and two norms, then a final norm)`);
  }
  if (gelu !== 'exact') g.fail("the MLP's GELU is not the exact (Erf) form TrackerNet computes");
  const eps = Number(norms[0].eps.toPrecision(6)); // stored as float32: 1e-5 reads 9.99999974e-6
  if (norms.some((n) => Math.abs(n.eps - eps) > eps * 1e-3)) g.fail('LayerNorms with different epsilons');
  let heads = 1;
  blocks.forEach((block, i) => {
    const [proj, fc1, fc2] = block.slice(-3);
    const attention = attentionInput(g, block.slice(0, -3), dim);
    const qkv = attention.qkv;
    heads = attention.heads;
    const hidden = fc1.weight.dims[0];
    const shapes = [qkv, proj, fc1, fc2].map((l) => l.weight.dims.join('x')).join(', ');
    if (shapes !== `${3 * dim}x${dim}, ${dim}x${dim}, ${hidden}x${dim}, ${dim}x${hidden}`) g.fail(`block ${i}'s linear layers are [${shapes}], not qkv, proj, fc1, fc2 of width ${dim}`, qkv.node);
    const p = `blocks.${i}.`;
    for (const [name, l] of [['attn.qkv', qkv], ['attn.proj', proj], ['mlp.fc1', fc1], ['mlp.fc2', fc2]] as const) {
      put(`${p}${name}.weight`, l.weight);
      put(`${p}${name}.bias`, l.bias);
    }
    put(`${p}norm1.weight`, norms[2 * i].weight);
    put(`${p}norm1.bias`, norms[2 * i].bias);
    put(`${p}norm2.weight`, norms[2 * i + 1].weight);
    put(`${p}norm2.bias`, norms[2 * i + 1].bias);
  });
  put('norm.weight', norms[2 * depth].weight);
  put('norm.bias', norms[2 * depth].bias);

  // 3. The centre head.
  const towers: Record<HeadTower, Tower> = {
    ctr: tower(g, resolved.outputs.score),
    size: tower(g, resolved.outputs.size),
    offset: tower(g, resolved.outputs.offset),
  };
  if (!towers.ctr.sigmoid || !towers.size.sigmoid || towers.offset.sigmoid) g.fail('expected sigmoids on the score and size maps and raw offsets');
  const withBn = HEAD_TOWERS.map((t) => towers[t].convs.every((c) => c.bn));
  if (!(withBn.every(Boolean) || withBn.every((b) => !b))) g.fail('some head convolutions have BatchNorm and some do not');
  const headChannels = towers.ctr.convs[0].weight.dims[0];
  for (const name of HEAD_TOWERS) {
    const t = towers[name];
    t.convs.forEach((c, k) => {
      const p = `box_head.conv${k + 1}_${name}.`;
      put(`${p}0.weight`, c.weight);
      put(`${p}0.bias`, c.bias);
      if (c.bn) ['weight', 'bias', 'running_mean', 'running_var'].forEach((s, j) => put(`${p}1.${s}`, c.bn![j]));
    });
    put(`box_head.conv5_${name}.weight`, t.out.weight);
    put(`box_head.conv5_${name}.bias`, t.out.bias);
  }

  const config = validateNetConfig({
    dim,
    depth,
    heads,
    mlpRatio: blocks[0][blocks[0].length - 2].weight.dims[0] / dim,
    patch,
    templateSize: resolved.templateSize,
    searchSize: resolved.searchSize,
    headChannels,
    templateFactor: resolved.templateFactor,
    searchFactor: resolved.searchFactor,
    ...(stem && { stem }),
    ...(Math.abs(eps - 1e-6) > 1e-9 && { normEps: eps }),
    ...(!withBn[0] && { headNorm: 'none' }),
    ...(resolved.channelOrder !== OSTRACK_DEFAULTS.channelOrder && { channelOrder: resolved.channelOrder }),
    ...(resolved.boxMapping !== OSTRACK_DEFAULTS.boxMapping && { boxMapping: resolved.boxMapping }),
    ...(resolved.lostThreshold !== OSTRACK_DEFAULTS.lostThreshold && { lostThreshold: resolved.lostThreshold }),
  });
  if (config.searchSize / config.patch !== resolved.featureSize) g.fail(`search ${config.searchSize} over patches of ${patch} is not the ${resolved.featureSize}x${resolved.featureSize} score map`);
  // Every tensor in place and of the right shape, or the import fails here.
  return { config, weights: checkWeights(config, weights, source) };
}

export async function importTrackerOnnx(path: string, options: ModelOptions = {}): Promise<ImportedTracker> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new CtEdgeError('ERR_MODEL_NOT_FOUND', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return importTrackerModel(bytes, options, path);
}
