/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header mapping each tensor name to {dtype, shape, data_offsets} (offsets relative to the data
 * that follows the header) plus an optional string-to-string `__metadata__`, then the raw
 * little-endian tensor bytes. ct-edge reads F32, F16 and BF16 (as float32) and writes F32 or F16.
 */
import { readFile } from 'node:fs/promises';
import { fileKindOf, wrongKindHint } from '../../contract/file-kind.js';
import { CtEdgeError } from '../../contract/errors.js';
import type { WeightMap, WeightTensor } from '../model/params.js';
import { writeFileAtomic } from './atomic.js';

export type SafetensorsDtype = 'F32' | 'F16';

export interface Safetensors {
  tensors: WeightMap;
  metadata: Record<string, string>;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 is the top half of a float32. */
function bfloat16ToFloat32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** Round-to-nearest-even float32 -> float16 bits. */
function float32ToFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && r & 1)) r += 1;
    return sign | r;
  }
  let r = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r += 1; // may carry into the exponent, as it should
  return sign | r;
}

function decodeTensor(name: string, entry: HeaderEntry, bytes: Uint8Array, source: string): WeightTensor {
  const { dtype, shape } = entry;
  const count = shape.reduce((a, b) => a * b, 1);
  const [begin, end] = entry.data_offsets;
  if (end - begin !== count * BYTES[dtype]) {
    throw new CtEdgeError('ERR_CHECKPOINT', `${source}: tensor '${name}' has ${end - begin} bytes, but ${dtype} [${shape.join(',')}] needs ${count * BYTES[dtype]}`);
  }
  const raw = bytes.subarray(begin, end);
  const data = new Float32Array(count);
  if (dtype === 'F32') {
    new Uint8Array(data.buffer).set(raw);
  } else {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      const h = view.getUint16(2 * i, true);
      data[i] = dtype === 'F16' ? float16ToFloat32(h) : bfloat16ToFloat32(h);
    }
  }
  return { shape: [...shape], data };
}

/** Parses a safetensors file's bytes; `source` names it in errors. */
export function parseSafetensors(file: Uint8Array, source: string): Safetensors {
  const bad = (what: string): never => {
    const hint = wrongKindHint(fileKindOf(file.subarray(0, 16)), 'safetensors', source);
    throw new CtEdgeError('ERR_CHECKPOINT', hint ?? `${source} is not a readable safetensors file: ${what}`);
  };
  if (file.byteLength < 8) bad('shorter than its 8-byte header length');
  const headerLength = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > file.byteLength - 8) bad(`header length ${headerLength} runs past the end of the file (${file.byteLength} bytes); is it complete?`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength)));
  } catch (error) {
    return bad(`header is not JSON (${(error as Error).message})`);
  }
  const data = file.subarray(8 + headerLength);
  const tensors: WeightMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as HeaderEntry;
    const [begin, end] = entry?.data_offsets ?? [];
    if (!Array.isArray(entry?.shape) || !(Number.isInteger(begin) && Number.isInteger(end) && begin <= end && end <= data.byteLength)) {
      bad(`tensor '${name}' has a bad entry ${JSON.stringify(value)} (data is ${data.byteLength} bytes)`);
    }
    if (!(entry.dtype in BYTES)) {
      throw new CtEdgeError('ERR_CHECKPOINT', `${source}: tensor '${name}' is ${entry.dtype}; ct-edge reads F32, F16 and BF16`);
    }
    tensors.set(name, decodeTensor(name, entry, data, source));
  }
  return { tensors, metadata };
}

export async function readSafetensors(path: string): Promise<Safetensors> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (error) {
    throw new CtEdgeError('ERR_CHECKPOINT', `cannot read checkpoint ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseSafetensors(file, path);
}

function* encode(tensors: WeightMap, metadata: Record<string, string>, dtype: SafetensorsDtype): Generator<Uint8Array> {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(',')}]`);
    }
    const size = count * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align the data to 8 bytes
  const text = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(text.byteLength), true);
  yield prefix;
  yield text;
  for (const t of tensors.values()) {
    if (dtype === 'F32') {
      yield new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    } else {
      const half = new Uint16Array(t.data.length);
      for (let i = 0; i < half.length; i++) half[i] = float32ToFloat16(t.data[i]);
      yield new Uint8Array(half.buffer);
    }
  }
}

/** Writes tensors (and string metadata) as safetensors, atomically (see writeFileAtomic). */
export async function writeSafetensors(
  path: string,
  tensors: WeightMap,
  options: { metadata?: Record<string, string>; dtype?: SafetensorsDtype } = {},
): Promise<void> {
  const chunks = [...encode(tensors, options.metadata ?? {}, options.dtype ?? 'F32')]; // validates before touching the disk
  await writeFileAtomic(path, chunks);
}
