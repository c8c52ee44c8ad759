/**
 * Two-part models (the template computed once, docs/MODEL_FORMAT.md): finding a per-frame part's
 * template part beside it and checking that the two fit together. One rule for ONNX models on
 * onnxruntime and for the pair of engines build-engine makes from them.
 */
import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CtEdgeError } from '../contract/errors.js';
import type { TensorSignature } from '../contract/model-config.js';

/**
 * The template part a per-frame part names (`templatePart`, a file name beside `path`), checked to
 * exist; undefined for one-graph models. A template part itself (`part` is 'template') is refused:
 * load the per-frame part.
 */
export function twoPartTemplatePath(path: string, part: string | undefined, templatePart: string | undefined): string | undefined {
  if (part === 'template') {
    throw new CtEdgeError('ERR_MODEL_IO', `${path} is the template part of a two-part model; load its per-frame part (the file beside it without .template), which runs this one once per init()`);
  }
  if (templatePart === undefined) return undefined;
  if (templatePart !== basename(templatePart) || templatePart === '' || templatePart === '.' || templatePart === '..') {
    throw new CtEdgeError('ERR_MODEL_INVALID', `${path} names its template part '${templatePart}', which is not a file name beside it; export (or build) the model again`);
  }
  const templatePath = join(dirname(path), templatePart);
  if (!statSync(templatePath, { throwIfNoEntry: false })?.isFile()) {
    throw new CtEdgeError(
      'ERR_MODEL_NOT_FOUND',
      `${path} is the per-frame part of a two-part model, and its template part ${templatePath} is missing; keep the two files together (ct-edge export and build-engine write both)`,
    );
  }
  return templatePath;
}

/** A tensor's name, shape and, where known (TensorRT engines), element type. */
export type PartTensor = TensorSignature & { dtype?: string };

/**
 * The template part must take one input (the template crop) and make exactly the tensors the
 * per-frame part reads besides the search crop (`search`), with the same shapes and types.
 */
export function checkTemplatePart(
  path: string,
  templatePath: string,
  search: string,
  perFrameInputs: readonly PartTensor[],
  part: { inputs: readonly PartTensor[]; outputs: readonly PartTensor[] },
): void {
  const fail = (what: string): never => {
    throw new CtEdgeError('ERR_MODEL_IO', `${path} and its template part ${templatePath} do not fit together: ${what}; export (or build) both again from one checkpoint`);
  };
  if (part.inputs.length !== 1) fail(`the template part takes ${part.inputs.map((t) => t.name).join(', ')}, not one template crop`);
  const cached = perFrameInputs.filter((t) => t.name !== search);
  const shape = (t: PartTensor | undefined) => (t ? `[${t.shape.join(',')}]${t.dtype ? ` ${t.dtype}` : ''}` : 'nothing');
  for (const t of cached) {
    const made = part.outputs.find((o) => o.name === t.name);
    if (shape(made) !== shape(t)) fail(`the per-frame part reads '${t.name}' ${shape(t)}, the template part makes ${shape(made)}`);
  }
  const unread = part.outputs.filter((o) => !cached.some((t) => t.name === o.name));
  if (unread.length > 0) fail(`the template part makes ${unread.map((t) => `'${t.name}'`).join(', ')}, which the per-frame part does not read`);
}
