/** Reads what a runtime or a person needs to know about an ONNX model without running it. */
import { readFile } from 'node:fs/promises';
import protobuf from 'protobufjs';
import { CtEdgeError } from './errors.js';
import { fileKindOf, wrongKindHint } from './file-kind.js';
import { ModelProto } from './onnx-schema.js';

export interface OnnxTensorInfo {
  name: string;
  elemType: number;
  shape: (number | string)[];
}

export interface OnnxModelInfo {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  metadata: Record<string, string>;
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
  nodeCount: number;
  opTypes: Record<string, number>;
}

const MODEL_METADATA_FIELD = 14;

/**
 * Only the metadata_props of a model, found by walking ModelProto's top-level fields and skipping
 * the graph (which holds the weights), so that this is cheap even for a 300 MB model.
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const reader = protobuf.Reader.create(bytes);
  const metadata: Record<string, string> = {};
  const Entry = ModelProto.lookupType('onnx.StringStringEntryProto');
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === MODEL_METADATA_FIELD && (tag & 7) === 2) {
      const entry = Entry.decode(reader.bytes()) as unknown as { key: string; value: string };
      metadata[entry.key] = entry.value;
    } else {
      reader.skipType(tag & 7); // the graph (field 7) and everything else
    }
  }
  return metadata;
}

function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : Number(v as { toString(): string });
}

interface DecodedValueInfo {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: { dimValue?: unknown; dimParam?: string }[] } } };
}

function tensorInfo(v: DecodedValueInfo): OnnxTensorInfo {
  const t = v.type?.tensorType;
  return {
    name: v.name,
    elemType: t?.elemType ?? 0,
    shape: (t?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue ?? 0))),
  };
}

/** Decodes the whole model: inputs, outputs, opsets, op histogram and metadata. */
export function parseOnnxModel(bytes: Uint8Array, source?: string): OnnxModelInfo {
  let model: Record<string, any>;
  try {
    model = ModelProto.decode(bytes) as unknown as Record<string, any>;
  } catch (error) {
    const hint = wrongKindHint(fileKindOf(bytes.subarray(0, 16)), 'onnx', source);
    throw new CtEdgeError('ERR_MODEL_INVALID', hint ?? `not a readable ONNX model: ${(error as Error).message}`, { cause: error });
  }
  const graph = model.graph ?? {};
  const initializers = new Set<string>((graph.initializer ?? []).map((t: { name: string }) => t.name));
  const opTypes: Record<string, number> = {};
  for (const node of graph.node ?? []) opTypes[node.opType] = (opTypes[node.opType] ?? 0) + 1;
  return {
    irVersion: toNumber(model.irVersion ?? 0),
    opsets: (model.opsetImport ?? []).map((o: { domain?: string; version: unknown }) => ({ domain: o.domain ?? '', version: toNumber(o.version) })),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    metadata: Object.fromEntries((model.metadataProps ?? []).map((e: { key: string; value: string }) => [e.key, e.value])),
    // Older exporters list initializers among the inputs; they are weights, not inputs.
    inputs: (graph.input ?? []).filter((v: DecodedValueInfo) => !initializers.has(v.name)).map(tensorInfo),
    outputs: (graph.output ?? []).map(tensorInfo),
    nodeCount: (graph.node ?? []).length,
    opTypes,
  };
}

export async function readOnnxModel(path: string): Promise<OnnxModelInfo> {
  return parseOnnxModel(await readFile(path), path);
}
