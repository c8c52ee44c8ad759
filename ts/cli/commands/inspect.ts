/** `ct-edge inspect model.onnx`: what a model takes, gives and says about itself. */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readOnnxModel, type OnnxTensorInfo } from '../../contract/onnx-reader.js';
import { CtEdgeError } from '../../contract/errors.js';
import type { CliCommand } from '../command.js';

const usage = `usage: ct-edge inspect <model.onnx> [--json]

Prints the model's inputs, outputs, IR version, opsets, producer, metadata and op histogram.

  --json   print the same as one JSON object`;

/** ONNX TensorProto.DataType names for the types a tracker uses. */
const ELEM_TYPES: Record<number, string> = { 1: 'float32', 2: 'uint8', 6: 'int32', 7: 'int64', 10: 'float16', 11: 'float64' };

function describe(t: OnnxTensorInfo): string {
  return `${t.name}  ${ELEM_TYPES[t.elemType] ?? `type ${t.elemType}`} [${t.shape.join(', ')}]`;
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
    if (positionals.length !== 1) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `inspect takes one model file, got ${positionals.length ? positionals.join(' ') : 'none'}\n\n${usage}`);
    }
    const path = positionals[0];
    if (!(await stat(path).catch(() => undefined))?.isFile()) throw new CtEdgeError('ERR_MODEL_NOT_FOUND', `model file not found: ${path}`);
    const info = await readOnnxModel(path);
    if (values.json) {
      console.log(JSON.stringify(info, null, 2));
      return 0;
    }
    const ops = Object.entries(info.opTypes).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const lines = [
      path,
      `  IR version ${info.irVersion}, opsets ${info.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}${info.producer ? `, produced by ${info.producer}` : ''}`,
      '  inputs:',
      ...info.inputs.map((t) => `    ${describe(t)}`),
      '  outputs:',
      ...info.outputs.map((t) => `    ${describe(t)}`),
      `  metadata:${Object.keys(info.metadata).length ? '' : ' (none)'}`,
      ...Object.entries(info.metadata).map(([k, v]) => `    ${k} = ${v}`),
      `  ops (${info.nodeCount} nodes):`,
      ...ops.map(([op, count]) => `    ${op.padEnd(20)} ${count}`),
    ];
    console.log(lines.join('\n'));
    return 0;
  },
};
