/** The README's main command: VitTrack and the students compressed from it, on the shipped clip. */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { command } from '../ts/cli/commands/demo.js';
import { runCommand } from './helpers/cli.js';
import { hasSharedData, repoRoot, sequencesDir, sharedDataSkipReason } from './helpers/data.js';

const students = readdirSync(join(repoRoot, 'models')).filter((n) => /^vittrack-student.*\.onnx$/.test(n) && !n.endsWith('.template.onnx'));

test.serial('ct-edge demo puts every shipped VitTrack student beside VitTrack on held-out footage', async (t) => {
  const { code, stdout } = await runCommand(command, []);
  t.is(code, 0);
  t.log(stdout);
  t.regex(stdout, /\| VitTrack \| 1\.000 \| 100\.0% \|/);
  // every student follows VitTrack somewhat (an agreement of 0.000 would mean it never overlaps)
  for (const name of students) t.regex(stdout, new RegExp(`\\| ${name.replace('.onnx', '')} \\| 0\\.(?!000)\\d{3} \\| [\\d.]+% \\|`));
  t.regex(stdout, /--sequences DIR/);
});

(hasSharedData ? test.serial : test.skip)(`ct-edge demo --sequences adds success AUC on labelled sequences${hasSharedData ? '' : ` (${sharedDataSkipReason})`}`, async (t) => {
  const { stdout } = await runCommand(command, ['--sequences', sequencesDir]);
  t.regex(stdout, /\| VitTrack +\| +7\d\.\d \| +100\.0% \|/);
});

test('ct-edge demo refuses bad flags', async (t) => {
  await t.throwsAsync(command.run(['--threads', '0']), { code: 'ERR_INVALID_ARGUMENT', message: /--threads must be a whole number >= 1/ });
  await t.throwsAsync(command.run(['--clips', '2']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
});
