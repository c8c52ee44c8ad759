/** The one-step check measures what the model predicts: smaller boxes from the size head show as a smaller size ratio. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { oneStepCheck } from '../ts/deploy/eval/one-step.js';
import { writeTrackerOnnx } from '../ts/train/export-onnx.js';
import { Engine } from '../ts/deploy/engine.js';
import { CtEdgeError } from '../ts/contract/errors.js';
import { heldOutClips } from '../ts/train/data/generator.js';
import { repoRoot } from './helpers/data.js';

const teacher = new URL('../models/teacher.safetensors', import.meta.url).pathname;

test('a size head biased towards smaller boxes lowers the size ratio; counts and ranges hold', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-one-step-'));
  try {
    const { config, weights } = await readCheckpoint(teacher);
    await writeTrackerOnnx(join(dir, 'plain.onnx'), config, weights);
    // sigmoid(z - 0.5) is 0.66-0.70x sigmoid(z) for the sizes this head predicts (0.2-0.35)
    const bias = weights.get('box_head.conv5_size.bias')!;
    bias.data = (bias.data as Float32Array).map((v) => v - 0.5);
    await writeTrackerOnnx(join(dir, 'smaller.onnx'), config, weights);

    const clips = heldOutClips(3, 7, { length: 9 });
    const expectedFrames = clips.reduce((n, c) => n + c.visible.slice(1).filter((v, i) => v && c.visible[i]).length, 0);
    const stats = [];
    for (const name of ['plain', 'smaller']) {
      const engine = await Engine.load(join(dir, `${name}.onnx`));
      stats.push(await oneStepCheck(engine, clips, 1));
      await engine.dispose();
    }
    const [plain, smaller] = stats;
    t.is(plain.frames, expectedFrames);
    t.is(smaller.frames, expectedFrames);
    for (const s of stats) {
      t.true(s.meanIou >= 0 && s.meanIou <= 1);
      t.true(s.medianCentreError >= 0 && Number.isFinite(s.medianCentreError));
    }
    const shrink = smaller.sizeRatio / plain.sizeRatio;
    t.true(shrink > 0.55 && shrink < 0.8, `size ratio ${plain.sizeRatio} -> ${smaller.sizeRatio}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the one-step check refuses a bad stride and clips with nothing to measure', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-one-step-'));
  try {
    const { config, weights } = await readCheckpoint(teacher);
    await writeTrackerOnnx(join(dir, 'm.onnx'), config, weights);
    const engine = await Engine.load(join(dir, 'm.onnx'));
    const [clip] = heldOutClips(1, 7, { length: 4 });
    await t.throwsAsync(oneStepCheck(engine, [clip], 0), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /every must be a whole number/ });
    const hidden = { ...clip, visible: clip.visible.map(() => false) };
    await t.throwsAsync(oneStepCheck(engine, [hidden], 1), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /no pair of consecutive frames/ });
    await engine.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tools/one-step-check.ts says what is wrong with its flags and exits 1', (t) => {
  const tool = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'tools', 'one-step-check.ts'), ...args], { encoding: 'utf8' });
  const noModel = tool([]);
  t.is(noModel.status, 1);
  t.regex(noModel.stderr, /one-step-check: usage: .*--model FILE\.onnx/);
  const badDifficulty = tool(['--model', teacher, '--difficulty', 'extreme']);
  t.is(badDifficulty.status, 1);
  t.regex(badDifficulty.stderr, /--difficulty must be easy, moderate or hard, got 'extreme'/);
});
