/** `ct-edge export model.safetensors -o model.onnx`: a checkpoint to a deployable ONNX model. */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readCheckpoint } from '../../train/checkpoint/checkpoint.js';
import { netConfig, PRESETS, type PresetName } from '../../train/model/config.js';
import { writeFileAtomic } from '../../train/checkpoint/atomic.js';
import { buildTrackerOnnx, templatePartPath, type OnnxPart } from '../../train/export-onnx.js';
import { basename } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import { decomposeLayerNorm } from '../../contract/onnx-layernorm.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile } from '../outputs.js';

const usage = `usage: ct-edge export <checkpoint.safetensors> [-o model.onnx] [--preset NAME] [--single-graph] [--decompose-layernorm]

Writes the tracker in the checkpoint as ONNX (opset 17, static shapes, BatchNorm folded,
inputs template/search, outputs score_map/size_map/offset_map, metadata for the runtime).
The checkpoint may also be a run's FILE.resume.safetensors: the network at its last checkpoint
(the moving average of the weights where the run keeps one, --ema), to try a run before it ends.
A student with asymmetric attention (compress --attention asymmetric) is written in two parts:
model.onnx runs per frame, model.template.onnx once per init() (docs/MODEL_FORMAT.md).

  -o, --output PATH   where to write (default: the checkpoint's name with .onnx)
  --preset NAME       network of a checkpoint that does not record one (weights converted from
                      PyTorch): ${Object.keys(PRESETS).join(', ')}
  --single-graph      an asymmetric student as one graph (template recomputed each frame; TensorRT can batch it)
  --decompose-layernorm
                      spell LayerNormalization out in primitive ops (ReduceMean, Sub, Pow, Sqrt,
                      Div, Mul, Add), for runtimes whose parser lacks the op: TensorRT 8.5
                      (JetPack 5.1) and trtexec there. ct-edge build-engine does this by itself.`;

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { output: { type: 'string', short: 'o' }, preset: { type: 'string' }, 'single-graph': { type: 'boolean' }, 'decompose-layernorm': { type: 'boolean' } },
    });
    if (positionals.length !== 1) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `export takes one checkpoint file, got ${positionals.length ? positionals.join(' ') : 'none'}\n\n${usage}`);
    }
    const input = positionals[0];
    const output = values.output ?? input.replace(/\.safetensors$/i, '') + '.onnx';
    if (output === input) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `the output ${output} would overwrite the checkpoint`);
    checkOutputFile(output, '-o');
    if (values.preset !== undefined && !(values.preset in PRESETS)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `unknown preset '${values.preset}'; presets are ${Object.keys(PRESETS).join(', ')}`);
    }
    const { config, weights } = await readCheckpoint(input, values.preset === undefined ? undefined : netConfig(values.preset as PresetName));
    const twoPart = config.attention === 'asymmetric' && !values['single-graph'];
    if (twoPart) checkOutputFile(templatePartPath(output), '-o (its template part)');
    const parts: [string, OnnxPart][] = twoPart ? [[templatePartPath(output), 'template'], [output, 'frame']] : [[output, 'whole']];
    let replaced = 0;
    for (const [path, part] of parts) {
      // the template part first: a per-frame part never names a file that is not there
      const model = buildTrackerOnnx(config, weights, part, basename(templatePartPath(output)));
      const rewrite = values['decompose-layernorm'] ? decomposeLayerNorm(model) : undefined;
      replaced += rewrite?.replaced ?? 0;
      await writeFileAtomic(path, [rewrite?.bytes ?? model]);
    }
    const sizes = await Promise.all(parts.map(async ([path]) => `${path} (${((await stat(path)).size / 1e6).toFixed(1)} MB)`));
    const rewrite = values['decompose-layernorm'] ? { replaced } : undefined;
    console.log(
      `wrote ${sizes.reverse().join(' and ')}: ${config.depth} blocks of width ${config.dim}${twoPart ? ' (asymmetric: the template part runs once per init)' : ''}, ` +
        `template ${config.templateSize}, search ${config.searchSize}, score map ${config.searchSize / config.patch}x${config.searchSize / config.patch}` +
        (rewrite ? `; ${rewrite.replaced} LayerNormalization ops spelled out in primitive ops` : ''),
    );
    return 0;
  },
};
