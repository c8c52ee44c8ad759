/** `ct-edge calibrate`: removes a trained tracker's box-size bias (ts/train/calibrate.ts). */
import { parseArgs } from 'node:util';
import { CtEdgeError } from '../../contract/errors.js';
import { calibrateCheckpoint } from '../../train/calibrate.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile } from '../outputs.js';
import { parseIntFlag } from '../model-options.js';
import { dataSources, parseClipMix } from '../training-options.js';

const usage = `usage: ct-edge calibrate <checkpoint.safetensors> -o calibrated.safetensors [options]

A tracker trained on OSTrack's losses can predict boxes a few percent too large on the crops the
tracker cuts, and in a tracking loop that bias compounds (each search crop is cut from the last box). This measures the bias on
generated pairs cut the way the tracker cuts them (search crop centred on the target, no scale
jitter), then shifts the size head's width and height biases to remove it. Nothing else changes.
Run it after \`ct-edge train\` or \`ct-edge compress\`, then \`ct-edge export\`.

Options:
  -o, --output FILE   the calibrated checkpoint (never the input)
  --pairs N           pairs to measure on, each from a generated clip of its own (default 2048;
                      about 45 s for the tiny preset on 2 cores)
  --seed N            seed of the calibration clips (default 1); they are drawn from a stream of
                      their own, not from the clips \`train --seed N\` trains on
  --clip-mix SPEC     generated clip difficulties and their shares, as for train (default moderate);
                      give the mix the network was trained on
  --data SOURCE[@N]   labelled data to measure on instead (repeatable; as for train)`;

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { output: { type: 'string', short: 'o' }, pairs: { type: 'string' }, seed: { type: 'string' }, 'clip-mix': { type: 'string' }, data: { type: 'string', multiple: true } },
    });
    if (positionals.length !== 1) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `calibrate takes one checkpoint file, got ${positionals.length ? positionals.join(' ') : 'none'}\n\n${usage}`);
    }
    const [input] = positionals;
    const output = values.output;
    if (!output) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'name the calibrated checkpoint with -o FILE.safetensors');
    checkOutputFile(output, '-o');
    const pairs = parseIntFlag(values.pairs, 'pairs', 2048);
    const sources = await dataSources(values.data, 'calibrate');
    console.error(`ct-edge calibrate: measuring on ${pairs} pairs`);
    const r = await calibrateCheckpoint(input, output, { pairs, seed: parseIntFlag(values.seed, 'seed', 1, 0), mix: parseClipMix(values['clip-mix']), sources });
    const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;
    console.log(
      `wrote ${output}: on ${r.measured} of ${r.pairs} pairs (those whose score peak lay on the target) boxes were ` +
        `${pct(r.before[0])} wide and ${pct(r.before[1])} high; size logits shifted by ${r.shift[0].toFixed(4)} and ${r.shift[1].toFixed(4)}`,
    );
    return 0;
  },
};
