/**
 * docs/TRAINING.md's "Your own video" walkthrough, run as written at toy size: the commands are read
 * from the page itself (only the step counts, batch and box shrink, and files live in a temporary
 * folder), so the page cannot drift from the CLI (issue 27, item 8).
 */
import test from 'ava';
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli.js';
import { repoRoot } from './helpers/data.js';
import { makeMovingSquareVideo } from './helpers/video.js';

/** The first sh block under `heading`, as commands split into words (quotes and line continuations as a shell reads them). */
function commandsUnder(markdown: string, heading: string): string[][] {
  const from = markdown.indexOf(`\n${heading}\n`);
  if (from < 0) throw new Error(`no '${heading}' in the page`);
  const block = /```sh\n([\s\S]*?)```/.exec(markdown.slice(from))![1];
  return block
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => [...line.replace(/\s+#.*$/, '').matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]));
}

/** Toy sizes for the real run's figures, and the box of the toy video's square. */
const TOY: Record<string, string> = { '--steps': '2', '--batch': '2', '--warmup': '1', '--box': '20,30,24,24' };

test('the "Your own video" walkthrough runs as written', async (t) => {
  const page = await readFile(join(repoRoot, 'docs', 'TRAINING.md'), 'utf8');
  const commands = commandsUnder(page, '## Your own video');
  t.deepEqual(
    commands.map((c) => c.slice(0, 3).join(' ')),
    ['npx ct-edge import', 'npx ct-edge export', 'npx ct-edge compress', 'npx ct-edge calibrate', 'npx ct-edge export', 'npx ct-edge compare', 'npx ct-edge frame', 'npx ct-edge track'],
  );
  const dir = await mkdtemp(join(tmpdir(), 'ct-walkthrough-'));
  try {
    process.env.CT_EDGE_CACHE = join(dir, 'cache'); // the commands' children inherit it
    const video = join(dir, 'my-video.mp4');
    makeMovingSquareVideo(video);
    await copyFile(join(repoRoot, 'models', 'vittrack.onnx'), join(dir, 'vitTracker.onnx'));
    for (const command of commands) {
      const args = command.slice(2).map((word, i, all) => {
        if (TOY[all[i - 1]]) return TOY[all[i - 1]];
        if (/^[\w.-]+\.(safetensors|onnx|png|mp4)$/.test(word)) return join(dir, word);
        return word.replace('my-video.mp4', video);
      });
      const r = await cli(args);
      t.is(r.code, 0, `${command.join(' ')}\n${r.stderr}`);
      if (command[2] === 'compare') t.regex(r.stdout, /\| student \| [01]\.\d{3} \|/, 'a student row with its agreement');
    }
    for (const file of ['vittrack.safetensors', 'vittrack.onnx', 'student.safetensors', 'student.calibrated.safetensors', 'student.onnx', 'student.template.onnx', 'first.png', 'tracked.mp4']) {
      t.true((await stat(join(dir, file))).size > 0, file);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
