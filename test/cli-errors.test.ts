/**
 * The command line never shows a stack trace: every command run with broken arguments prints one
 * line starting with `ct-edge:` that says what to do, and exits 1 (an error) or 2 (usage).
 * Outputs whose folder does not exist are refused before any work starts. Also --version, and
 * `--frames -1` reported as a bad value rather than "ambiguous".
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli.js';
import { repoRoot } from './helpers/data.js';

const model = join(repoRoot, 'models', 'student-2.onnx');
const checkpoint = join(repoRoot, 'models', 'student-2.safetensors');
const missing = '/nonexistent-ct-edge-folder';

let dir = '';
let notAVideo = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-cli-errors-'));
  notAVideo = join(dir, 'not-a-video.mp4');
  await writeFile(notAVideo, 'not a video');
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

/** Broken command lines, each with the exit code it must give. */
const cases: [string[], 1 | 2][] = [
  [['no-such-command'], 2],
  [['track'], 1],
  [['track', 'x.mp4', '--model', model, '--no-such-flag'], 2],
  [['track', 'x.mp4', '--model', model, '--box', '1,2,3,4', '--frames', '-1'], 1],
  [['track', '/nonexistent/x.mp4', '--model', model, '--box', '1,2,3,4'], 1],
  [['track', 'NOT_A_VIDEO', '--model', model, '--box', '1,2,3,4'], 1],
  [['track', 'NOT_A_VIDEO', '--model', model, '--box', '1,2,3,4', '--out', `${missing}/x.mp4`], 1],
  [['track', 'NOT_A_VIDEO', '--model', model, '--box', '1,2,3,4', '--jsonl', `${missing}/x.jsonl`], 1],
  [['track', 'NOT_A_VIDEO', '--model', model, '--box', '1,2,3,4', '--threads', '1000'], 1],
  [['train', '--steps', '1', '-o', `${missing}/x.safetensors`], 1],
  [['train', '--steps', 'many', '-o', 'x.safetensors'], 1],
  [['compress', '--teacher', checkpoint, '--blocks', '2', '--steps', '1', '-o', `${missing}/x.safetensors`], 1],
  [['compress', '--teacher', '/nonexistent/t.safetensors', '--blocks', '2', '--steps', '1', '-o', 'OUT/s.safetensors'], 1],
  [['calibrate', checkpoint, '-o', `${missing}/x.safetensors`], 1],
  [['calibrate'], 1],
  [['export', checkpoint, '-o', `${missing}/x.onnx`], 1],
  [['export', '/nonexistent/c.safetensors', '-o', 'OUT/c.onnx'], 1],
  [['export', 'NOT_A_VIDEO', '-o', 'OUT/c.onnx'], 1],
  [['generate', '-o', `NOT_A_VIDEO`], 1],
  [['generate', '-o', 'OUT/clips', '--size', '10x10'], 1],
  [['generate', '-o', 'OUT/clips', '--contact-sheet', `${missing}/sheet.png`], 1],
  [['inspect', '/nonexistent/m.onnx'], 1],
  [['inspect', 'NOT_A_VIDEO'], 1],
  [['eval', '--model', model, '--dataset', '/nonexistent/data'], 1],
  [['eval', '--model', model, '--dataset', 'OUT', '--out', 'NOT_A_VIDEO'], 1],
  [['bench', '--model', model, '--json', `${missing}/b.json`], 1],
  [['bench', '--model', '/nonexistent/m.onnx', '--frames', '5'], 1],
  [['bench', '--model', model, '--frames', '0'], 1],
  [['demo', '--sequences', '/nonexistent/sequences'], 1],
  [['build-engine', '/nonexistent/m.onnx'], 1],
  [['import', '/nonexistent/m.onnx', '-o', 'OUT/t.safetensors'], 1],
  [['import', '--no-such-flag'], 2],
  [['import', model, '-o', `${missing}/t.safetensors`], 1],
  [['build-engine', model, '-o', `${missing}/m.engine`], 1],
  [['build-engine', model, '--timing-cache', `${missing}/t.cache`], 1],
  [['doctor', '--no-such-flag'], 2],
];

for (const [args, expected] of cases) {
  const shown = args.join(' ').replaceAll(repoRoot, '.');
  test(`ct-edge ${shown}: one line, no stack trace, exit ${expected}`, async (t) => {
    const argv = args.map((a) => a.replace('NOT_A_VIDEO', notAVideo).replace(/^OUT/, dir));
    const r = await cli(argv);
    t.is(r.signal, null);
    t.is(r.code, expected, r.stderr);
    t.notRegex(r.stderr, /^\s+at /m, 'a stack trace');
    t.notRegex(r.stderr, /\.(ts|js):\d+/, 'a source location');
    const lines = r.stderr.trim().split('\n').filter((l) => !/^(track|train|compress|calibrate|generate|eval|bench) \[|ct-edge (track|train|compress|calibrate|eval|demo):/.test(l));
    t.is(lines.length, 1, r.stderr);
    t.regex(lines[0], /^ct-edge: \S/);
    if (args.some((a) => a.startsWith(missing))) t.regex(lines[0], /does not exist; create it/);
  });
}

test('ct-edge without a command prints the commands and exits 2 (usage)', async (t) => {
  const r = await cli([]);
  t.is(r.code, 2);
  t.regex(r.stdout, /^usage: ct-edge <command>/);
});

test('ct-edge --version prints the package version', async (t) => {
  const { version } = (await import('../package.json', { with: { type: 'json' } })).default as { version: string };
  for (const flag of ['--version', '-v']) {
    const r = await cli([flag]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.trim(), version);
  }
});

test('--frames -1 says what is wrong with the value, not that it is ambiguous', async (t) => {
  const r = await cli(['track', notAVideo, '--model', model, '--box', '1,2,3,4', '--frames', '-1']);
  t.regex(r.stderr, /--frames must be a whole number >= 1, got '-1'/);
  t.notRegex(r.stderr, /ambiguous|forget/i);
});

test('compress --blocks beyond the teacher says to give fewer blocks', async (t) => {
  const r = await cli(['compress', '--teacher', join(repoRoot, 'models', 'teacher.safetensors'), '--blocks', '99', '--steps', '1', '-o', join(dir, 's.safetensors')]);
  t.is(r.code, 1);
  t.regex(r.stderr, /give --blocks from 1 to 6; 1, 2, 3, 6 divide it evenly/);
  t.notRegex(r.stderr, /--stages/);
});
