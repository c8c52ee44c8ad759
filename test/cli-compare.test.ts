/**
 * `ct-edge compare`: models side by side on an unlabeled video (the held-out tail, agreement with
 * the first model) and on labelled sequences (AUC too); bad input is one line, exit 1 or 2.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareModels } from '../ts/deploy/eval/compare.js';
import { Engine } from '../ts/index.js';
import { squareFrame } from './helpers/frames.js';
import { repoRoot } from './helpers/data.js';
import { spawn } from 'node:child_process';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'ts', 'cli', 'main.ts'), ...args], { cwd: repoRoot, env: { ...process.env, CT_EDGE_DEBUG: '' } });
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const models = ['teacher', 'student-2'].map((m) => join(repoRoot, 'models', `${m}.onnx`));
const dir = mkdtemp(join(tmpdir(), 'ct-compare-'));
test.after.always(async () => rm(await dir, { recursive: true, force: true }));

test('on a video: the held-out tail, agreement with the first model, lost share and speed-up', async (t) => {
  const json = join(await dir, 'video.json');
  const run = await cli(['compare', '--model', models[0], '--model', models[1], join(repoRoot, 'models', 'tree.avi'), '--targets', '3', '--json', json]);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /\| teacher \| 1\.000 \| 100\.0% \|/);
  t.regex(run.stdout, /\| student-2 \| 0\.\d{3} \| [\d.]+% \| [\d.]+% \| [\d.]+ \| [\d.]+x \|/);
  const result = JSON.parse(await readFile(json, 'utf8'));
  t.is(result.heldOut, 0.2);
  const [clip] = result.clips;
  t.is(clip.targets, 3);
  t.true(clip.frames >= 2 && clip.frames < 40, `the last 20% of the video's frames, got ${clip.frames}`);
  t.true(result.rows[1].agreement < 1, 'another model differs from the reference somewhere');
  t.is(result.rows[0].speedup, 1);
});

test('the figures: identical models agree fully; a target the reference loses counts as lost', async (t) => {
  const engines = [await Engine.load(models[0], { threads: 1 }), await Engine.load(models[0], { threads: 1 })];
  // a square that moves steadily, then jumps away: the tracker keeps up, then loses it
  const frames = Array.from({ length: 12 }, (_, i) => (i < 8 ? squareFrame(320, 240, 100 + 3 * i, 90, 40) : squareFrame(320, 240, 10, 10, 8)));
  const result = await compareModels([{ label: 'a', engine: engines[0] }, { label: 'b', engine: engines[1] }], [{ name: 'moving', frames, starts: [{ x: 100, y: 90, width: 40, height: 40 }], labels: frames.map((_, i) => ({ x: i < 8 ? 100 + 3 * i : 10, y: i < 8 ? 90 : 10, width: i < 8 ? 40 : 8, height: i < 8 ? 40 : 8 })) }]);
  t.is(result.rows[1].agreement, 1);
  t.is(result.rows[1].agreementOver50, 1);
  t.is(result.rows[0].auc, result.rows[1].auc);
  t.true(result.rows[0].auc! > 0.3 && result.rows[0].auc! < 1, `AUC ${result.rows[0].auc}`);
  t.true(result.rows[0].lostShare > 0 && result.rows[0].lostShare < 0.5, `lost share ${result.rows[0].lostShare}: the frames after the jump`);
  await Promise.all(engines.map((e) => e.dispose()));
});

test('bad input is one line that names the fix', async (t) => {
  const cases: [string[], number, RegExp][] = [
    [['compare', '--model', models[0], join(repoRoot, 'models', 'tree.avi')], 1, /two or more --model/],
    [['compare', '--model', models[0], '--model', models[1]], 1, /name at least one INPUT/],
    [['compare', '--model', models[0], '--model', models[1], 'no-such-video.mp4'], 1, /no-such-video\.mp4: no such file or folder/],
    [['compare', '--model', models[0], '--model', models[1], '--held-out', '1.5', 'x'], 1, /--held-out must be a share in \(0, 1\]/],
    [['compare', '--model', models[0], '--model', models[1], '--box', '1,2,0,4', 'x'], 1, /--box must be x,y,w,h/],
    [['compare', '--model', models[0], '--model', models[1], '--bogus', 'x'], 2, /bogus/],
  ];
  for (const [args, code, message] of cases) {
    const run = await cli(args);
    t.is(run.code, code, args.join(' '));
    t.regex(run.stderr, message);
    t.is(run.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
  }
});
