/**
 * `ct-edge eval` end to end on real data: VitTrack, side by side with a copy of itself (described by a
 * sidecar in the other format) and with a student of it, on two real sequences plus three broken
 * ones that must be skipped by name.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { command } from '../ts/cli/commands/eval.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { CtEdgeError } from '../ts/index.js';
import { hasSharedData, repoRoot, sequencesDir, sharedDataSkipReason, vitTrackPath } from './helpers/data.js';

const real = hasSharedData ? test.serial : test.skip;
const skipNote = hasSharedData ? '' : ` (${sharedDataSkipReason})`;

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-eval-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the command with console output captured. */
async function runEval(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    const code = await command.run(argv);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    Object.assign(console, { log, error });
  }
}

interface ResultsJson {
  models: { label: string; auc: number; precision: number; normPrecision: number; fps: number; aucKept: number; speedup: number; successCurve: number[] }[];
  sequences: { name: string; frames: number; results: { model: string; auc: number; scoredFrames: number; boxes: number[][] }[] }[];
  skipped: { name: string; reason: string }[];
}

real(`eval: two models side by side on two real sequences; broken sequences skipped by name${skipNote}`, async (t) => {
  const dir = await tempDir(t);
  const dataset = join(dir, 'dataset');
  await mkdir(dataset);
  for (const name of ['crossing', 'football1']) await symlink(join(sequencesDir, name), join(dataset, name));
  // Malformed ground truth: found when the dataset is opened.
  await mkdir(join(dataset, 'badgt'));
  await symlink(join(sequencesDir, 'crossing', 'img'), join(dataset, 'badgt', 'img'));
  await writeFile(join(dataset, 'badgt', 'groundtruth_rect.txt'), '1,2,3\n');
  // An undecodable frame: found mid-run.
  await mkdir(join(dataset, 'corrupt', 'img'), { recursive: true });
  for (const i of [1, 2, 3]) await copyFile(join(sequencesDir, 'crossing', 'img', `000${i}.jpg`), join(dataset, 'corrupt', 'img', `000${i}.jpg`));
  await writeFile(join(dataset, 'corrupt', 'img', '0002.jpg'), 'not a jpeg');
  await writeFile(join(dataset, 'corrupt', 'groundtruth_rect.txt'), '205,151,17,50\n202,150,19,49\n201,150,18,49\n');

  // A first box outside the frame: refused by the tracker at init.
  await mkdir(join(dataset, 'outside'));
  await symlink(join(sequencesDir, 'crossing', 'img'), join(dataset, 'outside', 'img'));
  await writeFile(join(dataset, 'outside', 'groundtruth_rect.txt'), '5000,5000,10,10\n'.repeat(120));

  // Two copies of VitTrack, each described by a sidecar (JSON values in one, flag text in the other).
  const a = join(dir, 'vitA.onnx');
  const b = join(dir, 'vitB.onnx');
  await copyFile(vitTrackPath, a);
  await copyFile(vitTrackPath, b);
  await writeFile(`${a}.json`, JSON.stringify({ outputs: { score: 'output1', size: 'output2', offset: 'output3' }, channelOrder: 'bgr', boxMapping: 'opencv' }));
  await writeFile(`${b}.json`, JSON.stringify({ outputs: 'score=output1,size=output2,offset=output3', channelOrder: 'bgr', boxMapping: 'opencv' }));

  const student = join(repoRoot, 'models', 'vittrack-student-2.onnx'); // its conventions in its metadata
  const out = join(dir, 'out');
  const { code, stdout, stderr } = await runEval(['--model', a, '--model', b, '--model', student, '--dataset', dataset, '--out', out, '--threads', '1']);
  t.is(code, 0);
  t.regex(stderr, /skipped sequence badgt: .*groundtruth_rect\.txt:1: expected x,y,w,h/);
  t.regex(stderr, /skipped sequence corrupt: cannot read image .*0002\.jpg/);
  t.regex(stderr, /skipped sequence outside: first ground-truth box: box lies wholly outside/);
  t.regex(stdout, /\| vitA +\| +\d+\.\d \|.*\| +100\.0% \| +1\.00x \|/);
  t.regex(stdout, /overall \(2\)/);

  const json = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as ResultsJson;
  t.deepEqual(json.models.map((m) => m.label), ['vitA', 'vitB', 'vittrack-student-2']);
  t.deepEqual(json.sequences.map((s) => s.name), ['crossing', 'football1']);
  t.deepEqual(json.skipped.map((s) => s.name), ['badgt', 'corrupt', 'outside']);
  t.is(json.models[0].successCurve.length, 21);
  // VitTrack on these two (published mean IoU 0.66 each): AUC well above chance, below perfect.
  t.true(json.models[0].auc > 0.6 && json.models[0].auc < 0.8, `AUC ${json.models[0].auc}`);
  t.true(json.models[0].fps > 0);
  // The same network fed the same decoded frames must give the same boxes.
  t.deepEqual(json.sequences[0].results[0].boxes, json.sequences[0].results[1].boxes);
  t.is(json.models[1].aucKept, 1);
  // A student is another network: other boxes, its own AUC, and the share of VitTrack's it keeps.
  const [vit, , studentRow] = json.models;
  t.notDeepEqual(json.sequences[0].results[2].boxes, json.sequences[0].results[0].boxes);
  t.not(studentRow.auc, vit.auc);
  t.true(Math.abs(studentRow.aucKept - studentRow.auc / vit.auc) < 1e-3, `kept (4 decimals) ${studentRow.aucKept} = ${studentRow.auc} / ${vit.auc}`);
  t.regex(stdout, /\| vittrack-student-2 +\|/);

  // Every stored score agrees with an AUC written out here from the stored boxes (IoU > t for t = 0, 0.05, ..., 1, OTB's rule).
  const overlap = (p: number[], g: { x: number; y: number; width: number; height: number }) => {
    const w = Math.max(0, Math.min(p[0] + p[2], g.x + g.width) - Math.max(p[0], g.x));
    const h = Math.max(0, Math.min(p[1] + p[3], g.y + g.height) - Math.max(p[1], g.y));
    return (w * h) / (p[2] * p[3] + g.width * g.height - w * h);
  };
  for (const s of json.sequences) {
    const seq = await readOtbSequence(join(dataset, s.name));
    for (const r of s.results) {
      t.is(r.boxes.length, s.frames);
      t.is(r.scoredFrames, s.frames);
      const ious = r.boxes.map((b, i) => overlap(b, seq.groundTruth[i]!));
      const auc = Array.from({ length: 21 }, (_, k) => ious.filter((v) => v > k * 0.05).length / ious.length).reduce((x, y) => x + y) / 21;
      t.true(Math.abs(auc - r.auc) < 2e-3, `${s.name}, ${r.model}: AUC ${r.auc} vs ${auc} by hand`);
    }
  }

  for (const png of ['success.png', 'precision.png', 'norm_precision.png']) {
    const image = sharp(join(out, png));
    const meta = await image.metadata();
    t.deepEqual([meta.format, meta.width, meta.height], ['png', 1280, 960], png);
    const { channels } = await image.stats();
    t.true(channels[0].min < channels[0].max, `${png} is blank`);
  }
  t.regex(await readFile(join(out, 'table.md'), 'utf8'), /\| crossing +\| +120 \|/);
});

real(`eval | head: a reader that closes stdout early ends nothing; the result files are written${skipNote}`, async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'ts', 'cli', 'main.ts'), 'eval', '--model', join(repoRoot, 'models', 'teacher.onnx'), '--dataset', sequencesDir, '--sequences', 'football1', '--out', out, '--threads', '1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  // read the first chunk of the tables, then hang up as `head -1` does
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(code, 0);
  const json = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as ResultsJson;
  t.deepEqual(json.sequences.map((s) => s.name), ['football1']);
});

test('eval: bad input is a CtEdgeError that says what is wrong', async (t) => {
  const dir = await tempDir(t);
  const model = hasSharedData ? vitTrackPath : join(dir, 'm.onnx');
  await t.throwsAsync(command.run(['--model', model]), { instanceOf: CtEdgeError, message: /--dataset DIR/ });
  await t.throwsAsync(command.run(['--model', model, '--dataset', join(dir, 'nope')]), { instanceOf: CtEdgeError, message: /dataset folder not found: .*nope/ });
  await t.throwsAsync(command.run(['--model', model, '--dataset', dir, '--format', 'vot']), { instanceOf: CtEdgeError, message: /unknown dataset format 'vot'/ });
  await t.throwsAsync(command.run(['--dataset', dir]), { instanceOf: CtEdgeError, message: /no readable otb sequences/ });
  await mkdir(join(dir, 'seq', 'img'), { recursive: true });
  await sharp({ create: { width: 32, height: 32, channels: 3, background: 'gray' } }).png().toFile(join(dir, 'seq', 'img', '1.png'));
  await writeFile(join(dir, 'seq', 'groundtruth_rect.txt'), '1,1,8,8\n');
  await t.throwsAsync(command.run(['--dataset', dir]), { instanceOf: CtEdgeError, message: /at least one --model/ });
  await t.throwsAsync(command.run(['--dataset', dir, '--model', model, '--threads', 'two']), { instanceOf: CtEdgeError, message: /--threads must be a whole number/ });
});
