/** `ct-edge import`: a pretrained OSTrack-family tracker in ONNX to a TrackerNet checkpoint (ts/train/import-onnx.ts). */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CtEdgeError } from '../../contract/errors.js';
import { writeCheckpoint } from '../../train/checkpoint/checkpoint.js';
import { importTrackerOnnx } from '../../train/import-onnx.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile } from '../outputs.js';
import { MODEL_OPTION_FLAGS, MODEL_OPTIONS_USAGE, modelOptionsFor, modelOptionsFromFlags } from '../model-options.js';

const usage = `usage: ct-edge import <model.onnx> -o teacher.safetensors [model options]

Turns a pretrained one-stream ViT tracker (OSTrack family: OSTrack, VitTrack) into a checkpoint
that trains, compresses, calibrates and exports like one made by \`ct-edge train\`. Weights are
placed by the graph's structure, not by tensor names. The model options it runs with (output
names, channel order, box mapping, ...) are checked against the graph and kept in the checkpoint,
so its exports and every student compressed from it run with them and no options.

  ct-edge import vitTracker.onnx --outputs score=output1,size=output2,offset=output3 \\
    --channel-order bgr --box-mapping opencv -o vittrack.safetensors

Options:
  -o, --output FILE   the checkpoint (safetensors)

${MODEL_OPTIONS_USAGE}`;

/** The students a teacher of `depth` blocks can be compressed into: --blocks, with the stages each needs. */
function studentShapes(depth: number): string {
  if (depth < 2) return 'a 1-block teacher has no depth to remove; --dim narrows it';
  const shapes = Array.from({ length: depth - 1 }, (_, i) => i + 1).map((n) => {
    const even = depth % n === 0;
    const base = Math.floor(depth / n);
    const sizes = Array.from({ length: n }, (_, i) => base + (i >= n - (depth % n) ? 1 : 0));
    return even ? `--blocks ${n}` : `--blocks ${n} --stages ${sizes.join(',')}`;
  });
  return `fits ${shapes.join('; ')}`;
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { output: { type: 'string', short: 'o' }, ...MODEL_OPTION_FLAGS } });
    if (positionals.length !== 1) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `import takes one ONNX model, got ${positionals.length ? positionals.join(' ') : 'none'}\n\n${usage}`);
    const [model] = positionals;
    if (!values.output) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'name the checkpoint with -o FILE.safetensors');
    if (resolve(values.output) === resolve(model)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `the output ${values.output} would overwrite the model`);
    checkOutputFile(values.output, '-o');
    const { config, weights } = await importTrackerOnnx(model, await modelOptionsFor(model, modelOptionsFromFlags(values)));
    await writeCheckpoint(values.output, { config, weights });
    const stem = config.stem ? `a ${config.stem.length}-conv stem (${config.stem.join('->')})` : `${config.patch}px patches`;
    console.log(
      `wrote ${values.output}: ${config.depth} blocks of width ${config.dim}, ${config.heads} head(s), ${stem}, ` +
        `template ${config.templateSize}, search ${config.searchSize}, ${config.channelOrder ?? 'rgb'} input\n` +
        `next: ct-edge compress --teacher ${values.output} --blocks N (${studentShapes(config.depth)}) ...`,
    );
    return 0;
  },
};
