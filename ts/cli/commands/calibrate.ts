/** `ct-edge calibrate`: removes a trained tracker's box-size bias (ts/train/calibrate.ts), or matches a student's lost threshold to its teacher's (ts/train/calibrate-lost.ts). */
import { parseArgs } from 'node:util';
import { CtEdgeError } from '../../contract/errors.js';
import { existsSync } from 'node:fs';
import { calibrateCheckpoint } from '../../train/calibrate.js';
import { calibrateLostThreshold } from '../../train/calibrate-lost.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile } from '../outputs.js';
import { parseIntFlag } from '../model-options.js';
import { dataSources, parseClipMix } from '../training-options.js';

const usage = `usage: ct-edge calibrate <checkpoint.safetensors> -o calibrated.safetensors [options]
       ct-edge calibrate <student.safetensors> --lost-from TEACHER.safetensors --data VIDEO... -o calibrated.safetensors

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
  --data SOURCE[@N]   labelled data to measure on instead (repeatable; as for train)

Lost threshold (students compressed without labels):
  --lost-from FILE    the teacher the student was compressed from. Both follow the same targets
                      through the --data footage (videos or image folders, unlabeled; the first
                      80%, as compression uses them), and the student's lost threshold becomes
                      the one at which it reports "lost" as often as the teacher does there. Its
                      weights and box sizes do not change. --data VIDEO is repeatable.`;

/** `--lost-from`: the student's lost threshold matched to its teacher's on unlabeled footage. */
async function lostThreshold(student: string, teacher: string, inputs: readonly string[], output: string, values: Record<string, unknown>): Promise<number> {
  for (const flag of ['pairs', 'seed', 'clip-mix'] as const) {
    if (values[flag] !== undefined) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--${flag} sets the box-size calibration on generated pairs; --lost-from measures on the --data footage`);
  }
  for (const input of inputs) if (!existsSync(input)) throw new CtEdgeError('ERR_DATASET', `--data ${input}: no such video or folder`);
  console.error(`ct-edge calibrate: ${teacher} and ${student} follow the same targets through ${inputs.join(', ')}`);
  const r = await calibrateLostThreshold(student, teacher, inputs, output);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(
    `wrote ${output}: on ${r.frames} frames the teacher reported lost ${pct(r.lostShare)} of the time (threshold ${r.teacherThreshold}), ` +
      `the student ${pct(r.studentLostShareBefore)} with its threshold ${r.before}; its threshold is now ${r.after}`,
  );
  return 0;
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { output: { type: 'string', short: 'o' }, pairs: { type: 'string' }, seed: { type: 'string' }, 'clip-mix': { type: 'string' }, data: { type: 'string', multiple: true }, 'lost-from': { type: 'string' } },
    });
    if (positionals.length !== 1) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `calibrate takes one checkpoint file, got ${positionals.length ? positionals.join(' ') : 'none'}\n\n${usage}`);
    }
    const [input] = positionals;
    const output = values.output;
    if (!output) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'name the calibrated checkpoint with -o FILE.safetensors');
    checkOutputFile(output, '-o');
    if (values['lost-from'] !== undefined) return lostThreshold(input, values['lost-from'], values.data ?? [], output, values);
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
