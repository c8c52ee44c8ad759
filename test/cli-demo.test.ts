/** The README's main command: the shipped teacher and students side by side on held-out clips. */
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { command } from '../ts/cli/commands/demo.js';
import { runCommand } from './helpers/cli.js';
import { repoRoot } from './helpers/data.js';

test('ct-edge demo tracks held-out clips with the shipped teacher and every shipped student', async (t) => {
  for (const name of ['teacher', 'student-4', 'student-3', 'student-2']) t.true(existsSync(join(repoRoot, 'models', `${name}.onnx`)), `models/${name}.onnx is shipped`);
  const { code, stdout: table } = await runCommand(command, ['--clips', '2', '--frames', '20']);
  t.is(code, 0);
  t.log(table);
  for (const name of ['teacher', 'student-4', 'student-3', 'student-2']) t.regex(table, new RegExp(`models/${name}\\.onnx`));
  t.regex(table, /AUC kept/);
});

test('ct-edge demo names a missing model and how it is made', async (t) => {
  await t.throwsAsync(command.run(['--teacher', '/nonexistent/teacher.onnx']), { code: 'ERR_MODEL_NOT_FOUND', message: /README/ });
});
