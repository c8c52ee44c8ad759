/**
 * `ct-edge calibrate --lost-from`: a student's lost threshold matched to its teacher's on unlabeled
 * footage (ts/train/calibrate-lost.ts); only the threshold changes.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as calibrate } from '../ts/cli/commands/calibrate.js';
import { CtEdgeError } from '../ts/index.js';
import { readCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { quantile } from '../ts/train/calibrate-lost.js';
import { writeImage } from '../ts/deploy/io/images.js';
import { runCommand } from './helpers/cli.js';
import { squareFrame } from './helpers/frames.js';
import { repoRoot } from './helpers/data.js';

const teacher = join(repoRoot, 'models', 'teacher.safetensors');
const student = join(repoRoot, 'models', 'student-2.safetensors');
const footage = join(repoRoot, 'models', 'tree.avi'); // real video, 67 frames
let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-lost-'));
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

test('quantile interpolates between sorted values', (t) => {
  t.is(quantile([3, 1, 2, 4], 0), 1);
  t.is(quantile([3, 1, 2, 4], 1), 4);
  t.is(quantile([3, 1, 2, 4], 0.5), 2.5);
  t.is(quantile([10], 0.3), 10);
});

test.serial('the student gets the threshold at which it reports lost as often as the teacher on the footage; its weights do not change', async (t) => {
  const out = join(dir, 'calibrated.safetensors');
  const r = await runCommand(calibrate, [student, '--lost-from', teacher, '--data', footage, '-o', out]);
  t.is(r.code, 0);
  const m = /on (\d+) frames the teacher reported lost ([\d.]+)% of the time \(threshold 0\.2\), the student ([\d.]+)% with its threshold 0\.2; its threshold is now ([\d.]+)/.exec(r.stdout);
  t.truthy(m, r.stdout);
  t.true(Number(m![1]) >= 100, 'two targets through the first 80% of the video');
  const [before, after] = [await readCheckpoint(student), await readCheckpoint(out)];
  t.is(after.config.lostThreshold, Number(m![4]));
  t.true(after.config.lostThreshold! >= 0 && after.config.lostThreshold! <= 1);
  t.deepEqual({ ...after.config, lostThreshold: undefined }, { ...before.config, lostThreshold: undefined }, 'nothing else in the network changes');
  for (const [name, w] of before.weights) t.deepEqual(after.weights.get(name)!.data, w.data, name);
  // the same lost share for both is the point: a student that was lost more often gets a lower threshold
  if (Number(m![3]) > Number(m![2])) t.true(after.config.lostThreshold! < 0.2);
  if (Number(m![3]) < Number(m![2])) t.true(after.config.lostThreshold! > 0.2);
});

const bad: [string, string[], RegExp][] = [
  ['no footage', [student, '--lost-from', teacher, '-o', 'OUT'], /give the footage to calibrate on with --data VIDEO/],
  ['footage that is not there', [student, '--lost-from', teacher, '--data', '/nonexistent/v.mp4', '-o', 'OUT'], /--data \/nonexistent\/v\.mp4: no such video or folder/],
  ['a box-size flag with --lost-from', [student, '--lost-from', teacher, '--data', footage, '--pairs', '10', '-o', 'OUT'], /--pairs sets the box-size calibration/],
  ['the input as the output', [student, '--lost-from', teacher, '--data', footage, '-o', student], /would overwrite the checkpoint/],
];
for (const [what, args, message] of bad) {
  test(`--lost-from with ${what} is a typed error`, async (t) => {
    await t.throwsAsync(runCommand(calibrate, args.map((a) => (a === 'OUT' ? join(dir, `${what.replace(/\W+/g, '-')}.safetensors`) : a))), { instanceOf: CtEdgeError, message });
  });
}

test.serial('footage too short to read a threshold from is ERR_CALIBRATION, and nothing is written', async (t) => {
  const folder = join(dir, 'short');
  await mkdir(folder);
  for (let i = 0; i < 10; i++) await writeImage(join(folder, `${String(i).padStart(4, '0')}.png`), squareFrame(160, 120, 40 + 2 * i, 30, 30));
  const out = join(dir, 'short.safetensors');
  await t.throwsAsync(runCommand(calibrate, [student, '--lost-from', teacher, '--data', folder, '-o', out]), { instanceOf: CtEdgeError, code: 'ERR_CALIBRATION', message: /only \d+ frames tracked in .*short; the lost threshold needs at least 50/ });
  t.false(existsSync(out));
});
