/**
 * Spells the ONNX `LayerNormalization` op (opset 17) out in primitive ops, for runtimes that cannot
 * parse it: TensorRT's ONNX parser gained it only in TensorRT 8.6, so JetPack 5.1 (TensorRT 8.5.2)
 * rejects ct-edge's own exports. `build-engine` applies this in memory on TensorRT < 8.6, and
 * `ct-edge export --decompose-layernorm` writes a model that way.
 *
 *   mean = ReduceMean(X, axes)          d = Sub(X, mean)          var = ReduceMean(Pow(d, 2), axes)
 *   Y = Add(Mul(Div(d, Sqrt(Add(var, epsilon))), Scale), B)       (axes: `axis` to the last axis)
 *
 * The optional outputs Mean and InvStdDev come from the same nodes (ReduceMean, Reciprocal). With a
 * float16 or bfloat16 X (when the model's value infos say so) the statistics are computed in float32
 * and the normalised value is cast back before Scale and B, as the op's own definition does.
 *
 * The rewrite works on the protobuf wire format: every byte of the model other than the replaced
 * nodes is kept as it was (weights, metadata, fields this project's schema does not know), new
 * nodes take the old node's place in the (topologically sorted) node list, and their constants are
 * appended as initializers. Every new node's name contains LAYERNORM_DECOMPOSED_MARKER, which is
 * how `--keep-fp32 layernorm` finds those layers on TensorRT < 8.6 (TensorRT names layers after
 * ONNX nodes).
 */
import protobuf from 'protobufjs';
import { CtEdgeError } from './errors.js';
import { OnnxDataType, onnxRoot } from './onnx-schema.js';

export const LAYERNORM_DECOMPOSED_MARKER = '/LayerNormDecomposed/';

const NodeProto = onnxRoot.lookupType('onnx.NodeProto');
const TensorProto = onnxRoot.lookupType('onnx.TensorProto');
const ValueInfoProto = onnxRoot.lookupType('onnx.ValueInfoProto');
const OperatorSetIdProto = onnxRoot.lookupType('onnx.OperatorSetIdProto');

/** Field numbers (onnx.proto). */
const MODEL = { graph: 7, opsetImport: 8 } as const;
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12, valueInfo: 13 } as const;
const TENSOR_NAME = 8;
const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, INTS: 7 } as const;

interface RawField {
  field: number;
  /** The whole field as it was encoded: tag and value. */
  raw: Uint8Array;
  /** The payload of a length-delimited field (wire type 2). */
  payload?: Uint8Array;
}

/** The top-level fields of one message, in order, without decoding them. */
function rawFields(bytes: Uint8Array, what: string): RawField[] {
  const reader = protobuf.Reader.create(bytes);
  const out: RawField[] = [];
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      const field = tag >>> 3;
      let payload: Uint8Array | undefined;
      if ((tag & 7) === 2) payload = reader.bytes();
      else reader.skipType(tag & 7, 0, field);
      out.push({ field, raw: bytes.subarray(start, reader.pos), payload });
    }
  } catch (error) {
    throw new CtEdgeError('ERR_MODEL_INVALID', `not a readable ONNX model (${what}): ${(error as Error).message}`, { cause: error });
  }
  return out;
}

function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32((field << 3) | 2).bytes(payload).finish();
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
}

function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : Number(v as { toString(): string });
}

interface Attribute {
  name: string;
  type?: number;
  f?: number;
  i?: unknown;
  ints?: unknown[];
}

interface Node {
  name?: string;
  opType?: string;
  domain?: string;
  input?: string[];
  output?: string[];
  attribute?: Attribute[];
}

interface TensorType {
  elemType?: number;
  rank?: number;
}

export interface LayerNormRewrite {
  /** The model with every LayerNormalization of the main graph spelled out. */
  bytes: Uint8Array;
  /** How many LayerNormalization nodes were replaced (0: `bytes` is the input itself). */
  replaced: number;
  /** Names of the nodes that replaced them (each contains LAYERNORM_DECOMPOSED_MARKER). */
  nodeNames: string[];
}

/** The default-domain opset the model imports (0 when it lists none). */
function defaultOpset(model: RawField[]): number {
  let version = 0;
  for (const f of model) {
    if (f.field !== MODEL.opsetImport || !f.payload) continue;
    const o = OperatorSetIdProto.decode(f.payload) as unknown as { domain?: string; version?: unknown };
    if (!o.domain || o.domain === 'ai.onnx') version = toNumber(o.version ?? 0);
  }
  return version;
}

/** The name field of a TensorProto, read without decoding its data. */
function tensorName(payload: Uint8Array): string {
  for (const f of rawFields(payload, 'an initializer')) {
    if (f.field === TENSOR_NAME && f.payload) return new TextDecoder().decode(f.payload);
  }
  return '';
}

/** Builds the replacement of one LayerNormalization node. */
class Decomposer {
  readonly initializers: Uint8Array[] = [];
  readonly nodeNames: string[] = [];
  constructor(
    private readonly names: Set<string>,
    private readonly types: Map<string, TensorType>,
    private readonly opset: number,
  ) {}

  private unique(name: string): string {
    let candidate = name;
    for (let i = 1; this.names.has(candidate); i++) candidate = `${name}_${i}`;
    this.names.add(candidate);
    return candidate;
  }

  private constant(name: string, dataType: number, dims: number[], rawData: Uint8Array): string {
    const unique = this.unique(name);
    this.initializers.push(lengthDelimited(GRAPH.initializer, TensorProto.encode(TensorProto.fromObject({ name: unique, dims, dataType, rawData })).finish()));
    return unique;
  }

  private float32(name: string, value: number): string {
    return this.constant(name, OnnxDataType.FLOAT, [], new Uint8Array(Float32Array.of(value).buffer));
  }

  decompose(node: Node): Uint8Array[] {
    const [x, scale, bias] = [...(node.input ?? []), '', '', ''];
    const [y, meanOut, invStdOut] = [...(node.output ?? []), '', '', ''];
    const base = node.name || `node_of_${y}`;
    const where = `LayerNormalization node '${base}'`;
    if (!x || !scale || !y) throw new CtEdgeError('ERR_MODEL_INVALID', `${where} lacks its X, Scale or Y`);
    const attr = (key: string) => (node.attribute ?? []).find((a) => a.name === key);
    const axis = attr('axis') ? toNumber(attr('axis')!.i ?? 0) : -1;
    const epsilon = attr('epsilon')?.f ?? 1e-5;
    const stash = attr('stash_type') ? toNumber(attr('stash_type')!.i ?? 1) : 1;
    if (stash !== OnnxDataType.FLOAT) throw new CtEdgeError('ERR_MODEL_INVALID', `${where} has stash_type ${stash}; only 1 (float32) can be decomposed`);
    const xType = this.types.get(x);
    let axes: number[];
    if (axis < 0) {
      axes = Array.from({ length: -axis }, (_, k) => axis + k);
    } else if (xType?.rank !== undefined) {
      axes = Array.from({ length: xType.rank - axis }, (_, k) => axis + k);
    } else {
      throw new CtEdgeError('ERR_MODEL_INVALID', `${where} normalises from axis ${axis}, and the rank of its input '${x}' is not in the model's value infos; export it with a negative axis`);
    }
    if (axes.length === 0) throw new CtEdgeError('ERR_MODEL_INVALID', `${where} has axis ${axis} beyond its input's rank`);

    const prefix = `${base}${LAYERNORM_DECOMPOSED_MARKER}`;
    const nodes: object[] = [];
    const op = (opType: string, inputs: string[], what: string, attributes: object[] = [], output?: string): string => {
      const name = this.unique(`${prefix}${what}`);
      const out = output || this.unique(`${prefix}${what}_out`);
      this.names.add(out);
      nodes.push({ name, opType, input: inputs, output: [out], attribute: attributes });
      this.nodeNames.push(name);
      return out;
    };
    // ReduceMean takes its axes as an attribute up to opset 17 and as an input from opset 18.
    const axesInput = this.opset >= 18 ? this.constant(`${prefix}axes`, OnnxDataType.INT64, [axes.length], new Uint8Array(BigInt64Array.from(axes.map(BigInt)).buffer)) : '';
    const keepdims = { name: 'keepdims', type: ATTRIBUTE_TYPE.INT, i: 1 };
    const reduceMean = (input: string, what: string, output?: string) =>
      axesInput ? op('ReduceMean', [input, axesInput], what, [keepdims], output) : op('ReduceMean', [input], what, [{ name: 'axes', type: ATTRIBUTE_TYPE.INTS, ints: axes }, keepdims], output);

    // Statistics in float32 (stash_type 1) whatever X's type; X's type known from the value infos.
    const lowPrecision = xType?.elemType !== undefined && xType.elemType !== OnnxDataType.FLOAT && xType.elemType !== 0;
    const xs = lowPrecision ? op('Cast', [x], 'cast_in', [{ name: 'to', type: ATTRIBUTE_TYPE.INT, i: OnnxDataType.FLOAT }]) : x;
    const mean = reduceMean(xs, 'mean', meanOut || undefined);
    const centred = op('Sub', [xs, mean], 'sub');
    const squared = op('Pow', [centred, this.float32(`${prefix}two`, 2)], 'pow');
    const variance = reduceMean(squared, 'variance');
    const shifted = op('Add', [variance, this.float32(`${prefix}epsilon`, epsilon)], 'add_epsilon');
    const std = op('Sqrt', [shifted], 'sqrt');
    if (invStdOut) op('Reciprocal', [std], 'inv_std_dev', [], invStdOut);
    let normalised = op('Div', [centred, std], 'div');
    if (lowPrecision) normalised = op('Cast', [normalised], 'cast_out', [{ name: 'to', type: ATTRIBUTE_TYPE.INT, i: xType!.elemType }]);
    const scaled = op('Mul', [normalised, scale], 'scale', [], bias ? undefined : y);
    if (bias) op('Add', [scaled, bias], 'bias', [], y);
    return nodes.map((n) => lengthDelimited(GRAPH.node, NodeProto.encode(NodeProto.fromObject(n)).finish()));
  }
}

function valueInfoType(payload: Uint8Array): [string, TensorType] {
  const v = ValueInfoProto.decode(payload) as unknown as { name: string; type?: { tensorType?: { elemType?: number; shape?: { dim?: unknown[] } } } };
  const t = v.type?.tensorType;
  return [v.name, { elemType: t?.elemType, rank: t?.shape ? (t.shape.dim ?? []).length : undefined }];
}

function hasLayerNorm(node: Node): boolean {
  return node.opType === 'LayerNormalization' && (!node.domain || node.domain === 'ai.onnx');
}

/** Nested graphs (If/Loop bodies) are not rewritten: a LayerNormalization there is refused. */
function nestedLayerNorm(payload: Uint8Array): boolean {
  const node = NodeProto.decode(payload) as unknown as { attribute?: { g?: { node?: Node[] }; graphs?: unknown }[] };
  return (node.attribute ?? []).some((a) => (a.g?.node ?? []).some((n) => hasLayerNorm(n)));
}

/**
 * Replaces every LayerNormalization node of the model's main graph with primitive ops (see the
 * module comment). Models without one come back unchanged (`replaced: 0`, the same bytes).
 */
export function decomposeLayerNorm(model: Uint8Array): LayerNormRewrite {
  const top = rawFields(model, 'the model');
  const graphs = top.filter((f) => f.field === MODEL.graph && f.payload);
  if (graphs.length === 0) throw new CtEdgeError('ERR_MODEL_INVALID', 'not a readable ONNX model: it has no graph');
  const graph = rawFields(graphPayload(graphs), 'the graph');

  const names = new Set<string>();
  const types = new Map<string, TensorType>();
  const nodes = new Map<RawField, Node>();
  for (const f of graph) {
    if (!f.payload) continue;
    if (f.field === GRAPH.node) {
      const node = NodeProto.decode(f.payload) as unknown as Node;
      nodes.set(f, node);
      for (const n of [...(node.output ?? []), node.name ?? '']) if (n) names.add(n);
    } else if (f.field === GRAPH.initializer) {
      names.add(tensorName(f.payload));
    } else if (f.field === GRAPH.input || f.field === GRAPH.output || f.field === GRAPH.valueInfo) {
      const [name, type] = valueInfoType(f.payload);
      names.add(name);
      types.set(name, type);
    }
  }
  if (![...nodes.values()].some(hasLayerNorm)) {
    const nested = graph.find((f) => f.field === GRAPH.node && nestedLayerNorm(f.payload!));
    if (nested) throw new CtEdgeError('ERR_MODEL_INVALID', 'a LayerNormalization inside a subgraph (If/Loop body) cannot be decomposed');
    return { bytes: model, replaced: 0, nodeNames: [] };
  }

  const decomposer = new Decomposer(names, types, defaultOpset(top));
  let replaced = 0;
  const parts: Uint8Array[] = [];
  for (const f of graph) {
    const node = nodes.get(f);
    if (node && hasLayerNorm(node)) {
      parts.push(...decomposer.decompose(node));
      replaced += 1;
    } else {
      parts.push(f.raw);
    }
  }
  parts.push(...decomposer.initializers);
  const newGraph = lengthDelimited(MODEL.graph, concat(parts));
  const out: Uint8Array[] = [];
  let placed = false;
  for (const f of top) {
    if (f.field !== MODEL.graph) out.push(f.raw);
    else if (!placed) out.push(newGraph), (placed = true);
  }
  return { bytes: concat(out), replaced, nodeNames: decomposer.nodeNames };
}

/** Repeated occurrences of a message field merge: their payloads concatenated are the one graph. */
function graphPayload(graphs: RawField[]): Uint8Array {
  return graphs.length === 1 ? graphs[0].payload! : concat(graphs.map((g) => g.payload!));
}

/** Every node of the main graph: name (TensorRT's layer name: `node_of_<output>` when empty) and op. */
export function onnxNodes(model: Uint8Array): { name: string; opType: string }[] {
  const graphs = rawFields(model, 'the model').filter((f) => f.field === MODEL.graph && f.payload);
  return rawFields(graphPayload(graphs), 'the graph')
    .filter((f) => f.field === GRAPH.node && f.payload)
    .map((f) => {
      const node = NodeProto.decode(f.payload!) as unknown as Node;
      return { name: node.name || `node_of_${node.output?.[0] ?? ''}`, opType: node.opType ?? '' };
    });
}
