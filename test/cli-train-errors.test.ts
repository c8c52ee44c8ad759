/** Bad flags to train, compress and generate are CtEdgeErrors that say what to pass, before any work starts. */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as compress } from '../ts/cli/commands/compress.js';
import { command as generate } from '../ts/cli/commands/generate.js';
import { command as train } from '../ts/cli/commands/train.js';
import { CtEdgeError } from '../ts/index.js';
import { repoRoot } from './helpers/data.js';

const bad = (message: RegExp) => ({ instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message });

const cases: [string, () => Promise<number>, RegExp][] = [
  ['train without -o', () => train.run(['--steps', '5']), /-o FILE\.safetensors/],
  ['train without --steps', () => train.run(['-o', '/tmp/x.safetensors']), /--steps N/],
  ['train with an unknown preset', () => train.run(['--preset', 'huge', '--steps', '5', '-o', '/tmp/x.safetensors']), /presets are ostrack-256, small, tiny/],
  ['train with a bad --clip-mix', () => train.run(['--clip-mix', 'easy=1,weird=2', '--steps', '5', '-o', '/tmp/x.safetensors']), /easy, moderate, hard/],
  ['train with a bad --clip-size', () => train.run(['--clip-size', '10x10', '--steps', '5', '-o', '/tmp/x.safetensors']), /--clip-size must be WxH/],
  ['train with a negative --lr', () => train.run(['--lr=-1', '--steps', '5', '-o', '/tmp/x.safetensors']), /--lr must be a non-negative number/],
  ['train with --width not divisible by --heads', () => train.run(['--width', '30', '--heads', '4', '--steps', '5', '-o', '/tmp/x.safetensors']), /dim 30 is not divisible by heads 4/],
  ['train with --width 0', () => train.run(['--width', '0', '--steps', '5', '-o', '/tmp/x.safetensors']), /--width must be a whole number >= 1/],
  ['train with --head-channels not a multiple of 8', () => train.run(['--head-channels', '20', '--steps', '5', '-o', '/tmp/x.safetensors']), /headChannels 20 must be a multiple of 8/],
  ['train with --workers 0', () => train.run(['--workers', '0', '--steps', '5', '-o', '/tmp/x.safetensors']), /--workers must be a whole number >= 1/],
  ['train with more --workers than pairs', () => train.run(['--workers', '9', '--batch', '8', '--steps', '5', '-o', '/tmp/x.safetensors']), /--workers 9 is more than the batch \(8 pairs\)/],
  ['compress without --teacher', () => compress.run(['--blocks', '2']), /--teacher FILE/],
  ['compress without --blocks', () => compress.run(['--teacher', 't.safetensors']), /--blocks N/],
  ['compress with an unknown --init', () => compress.run(['--teacher', 't.safetensors', '--blocks', '2', '--init', 'middle']), /last, first or random/],
  ['compress with --constant-p above 1', () => compress.run(['--teacher', 't.safetensors', '--blocks', '2', '--constant-p', '1.5', '--steps', '5', '-o', '/tmp/s.safetensors']), /\[0, 1\]/],
  ['generate without -o', () => generate.run(['--clips', '1']), /-o DIR/],
  ['generate with an unknown difficulty', () => generate.run(['-o', '/tmp/g', '--difficulty', 'extreme']), /easy, moderate or hard/],
];

for (const [what, run, message] of cases) {
  test(`${what} is a clear error`, async (t) => {
    await t.throwsAsync(run(), bad(message));
  });
}

test('a student that cannot come from the teacher is refused before the teacher labels any footage', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-early-'));
  const out = join(dir, 's.safetensors');
  const teacher = join(repoRoot, 'models', 'teacher.safetensors');
  const args = ['--teacher', teacher, '--steps', '5', '--data', join(repoRoot, 'models', 'tree.avi'), '-o', out];
  process.env.CT_EDGE_CACHE = join(dir, 'cache');
  const started = performance.now();
  await t.throwsAsync(compress.run(['--blocks', '50', ...args]), bad(/a student of 50 blocks cannot come from a \d+-block teacher/));
  await t.throwsAsync(compress.run(['--blocks', '2', '--dim', '4096', ...args]), bad(/wider than its teacher/));
  t.false(existsSync(join(dir, 'cache', 'footage')), 'no footage was labelled');
  t.true(performance.now() - started < 60_000);
  await rm(dir, { recursive: true });
});
