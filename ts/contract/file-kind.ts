/**
 * What a file is, from its first bytes, for errors that name the command a user needs: a
 * checkpoint given where a model goes (`ct-edge export` it), an ONNX model given as a teacher
 * (`ct-edge import` it), a video given where a model or dataset goes, a TensorRT engine (by its
 * name) given where a model file to read or a checkpoint goes.
 */

export type FileKind = 'onnx' | 'safetensors' | 'video' | 'image' | 'unknown';

/** The kind of a file whose leading bytes are `head` (16 bytes are enough; fewer say less). */
export function fileKindOf(head: Uint8Array): FileKind {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  // safetensors: an 8-byte little-endian header length, then the JSON header.
  if (head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) return 'safetensors';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ') return 'video';
  if (ascii(4, 8) === 'ftyp' || (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3)) return 'video'; // MP4/MOV, Matroska/WebM
  if (head[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image';
  // ONNX ModelProto: field 1 (ir_version, a small varint) comes first in every exporter's output.
  if (head[0] === 0x08 && head.length > 1 && head[1] > 0 && head[1] < 0x80) return 'onnx';
  return 'unknown';
}

/**
 * A sentence for a file of kind `kind` found where `wanted` goes, naming what to run; undefined when
 * the kind is the wanted one or unknown (the caller's own message stands).
 */
export function wrongKindHint(kind: FileKind, wanted: 'onnx' | 'safetensors', path = 'FILE'): string | undefined {
  // TensorRT plans have no documented signature: their name (what build-engine writes) tells them
  if (kind === 'unknown' && /\.(engine|plan)$/i.test(path)) {
    return wanted === 'onnx'
      ? `${path} is a TensorRT engine, not an ONNX model; engines run with track, bench and eval (a GPU build), and build from the ONNX model: \`ct-edge build-engine MODEL.onnx\``
      : `${path} is a TensorRT engine, not a training checkpoint; compress and export start from a checkpoint (\`ct-edge import MODEL.onnx\` makes one from the ONNX model the engine was built from)`;
  }
  if (kind === wanted || kind === 'unknown') return undefined;
  switch (kind) {
    case 'onnx':
      return `${path} is an ONNX model, not a training checkpoint; turn it into one with \`ct-edge import ${path} -o teacher.safetensors\``;
    case 'safetensors':
      return `${path} is a training checkpoint (safetensors), not an ONNX model; export it with \`ct-edge export ${path} -o model.onnx\``;
    case 'video':
      return `${path} is a video, not a ${wanted === 'onnx' ? 'model' : 'checkpoint'}; give it as the footage (the source or --data), and the ${wanted === 'onnx' ? 'model with --model' : 'checkpoint'} apart`;
    case 'image':
      return `${path} is an image, not a ${wanted === 'onnx' ? 'model' : 'checkpoint'}`;
  }
}
