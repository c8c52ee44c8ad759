/** CompressTracker's mechanics at CI size (tiny preset, random data). */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../ts/train/model/backend.js';
import { netConfig } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import {
  compressionObjective,
  DEFAULT_SCHEDULE,
  divideStages,
  drawReplacement,
  initStudent,
  replacementRate,
  type CompressOptions,
} from '../ts/train/compress.js';
import { Rng } from '../ts/train/data/random.js';
import { trainLoop } from '../ts/train/loop.js';
import { CtEdgeError } from '../ts/index.js';
import { randomBatch, randomBatches } from './helpers/batches.js';

test.before(async () => {
  await initBackend(['wasm', 'cpu']);
});

const teacherConfig = netConfig('tiny', { depth: 6, dim: 32, heads: 2, headChannels: 16 });
const options = (o: Partial<CompressOptions> = {}): CompressOptions => ({
  studentBlocks: 3,
  init: 'last',
  schedule: DEFAULT_SCHEDULE,
  guidance: true,
  mimic: true,
  replacement: true,
  batchSize: 2,
  steps: 10,
  seed: 7,
  ...o,
});

test('stage division: even by default, explicit lists on request, clear errors otherwise', (t) => {
  t.deepEqual(divideStages(12, 4), [{ start: 0, end: 3 }, { start: 3, end: 6 }, { start: 6, end: 9 }, { start: 9, end: 12 }]);
  t.deepEqual(divideStages(12, 4, [2, 2, 6, 2]).map((s) => s.end), [2, 4, 10, 12]);
  t.throws(() => divideStages(12, 5), { instanceOf: CtEdgeError, message: /--stages 3,3,2,2,2/ });
  t.throws(() => divideStages(12, 4, [2, 2, 2, 2]), { instanceOf: CtEdgeError, message: /summing to/ });
});

test('progressive p: p_init during warm-up, linear, 1 in the final phase', (t) => {
  const p = (f: number) => replacementRate(DEFAULT_SCHEDULE, f);
  t.is(p(0), 0.5);
  t.is(p(0.09), 0.5);
  t.true(Math.abs(p(0.5) - 0.75) < 1e-12); // 0.5 + 0.5 * 0.4 / 0.8
  t.true(Math.abs(p(0.3) - 0.625) < 1e-12);
  t.is(p(0.95), 1);
  // p_init = 0.2: the line goes from 0.2 to 1 (the released code; the paper's formula would not)
  t.true(Math.abs(replacementRate({ kind: 'progressive', pInit: 0.2, a1: 0.1, a2: 0.1 }, 0.5) - 0.6) < 1e-12);
  // Constant p, then the paper's final phase at p = 1 (the last 10% unless a2 says otherwise).
  t.is(replacementRate({ kind: 'constant', p: 0.7 }, 0.85), 0.7);
  t.is(replacementRate({ kind: 'constant', p: 0.7 }, 0.95), 1);
  t.is(replacementRate({ kind: 'constant', p: 0.7, a2: 0 }, 0.99), 0.7);
});

test('replacement draws: Bernoulli(p) per stage, never all teacher; exactly one student stage while p < 0.5', (t) => {
  const rng = new Rng(1);
  const stages = 4;
  const trials = 20000;
  for (const p of [0.5, 0.8]) {
    let students = 0;
    for (let i = 0; i < trials; i++) {
      const d = drawReplacement(stages, p, rng);
      t.true(d.some(Boolean));
      students += d.filter(Boolean).length;
    }
    // E[#student] = 4p + P(all teacher) * 1 = 4p + (1-p)^4
    const expected = stages * p + (1 - p) ** stages;
    t.true(Math.abs(students / trials - expected) < 0.05, `p=${p}: ${students / trials} vs ${expected}`);
  }
  // Below 0.5 (CompressTracker's code): one student stage per draw, spread evenly over the stages.
  for (const p of [0, 0.2, 0.49]) {
    const at = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const d = drawReplacement(stages, p, rng);
      t.is(d.filter(Boolean).length, 1);
      at[d.indexOf(true)] += 1;
    }
    t.true(at.every((n) => Math.abs(n - 1000) < 120), `p=${p}: student stages ${at.join(',')}`);
  }
});

test('student init: block i from the last (or first) teacher block of stage i, the rest copied', (t) => {
  const teacher = TrackerNet.random(teacherConfig, 1);
  const stages = divideStages(6, 3);
  const student = initStudent(teacher, stages, options());
  const same = (a: string, b: string) => Array.from(teacher.variable(a).dataSync()).every((v, i) => v === student.variable(b).dataSync()[i]);
  t.true(same('blocks.1.attn.qkv.weight', 'blocks.0.attn.qkv.weight'));
  t.true(same('blocks.5.mlp.fc2.weight', 'blocks.2.mlp.fc2.weight'));
  t.true(same('patch_embed.proj.weight', 'patch_embed.proj.weight'));
  t.true(same('box_head.conv1_ctr.1.running_var', 'box_head.conv1_ctr.1.running_var'));
  const first = initStudent(teacher, stages, options({ init: 'first' }));
  t.deepEqual(Array.from(first.variable('blocks.1.norm1.weight').dataSync()), Array.from(teacher.variable('blocks.2.norm1.weight').dataSync()));
  t.is(student.config.depth, 3);
});

test('narrower student init: the teacher cut to its width (first channels; q, k and v each), the stem whole', (t) => {
  const config = netConfig('tiny', { depth: 2, dim: 32, heads: 2, headChannels: 16, stem: [4, 8, 16, 32] });
  const teacher = TrackerNet.random(config, 5);
  const student = initStudent(teacher, divideStages(2, 2), options({ studentBlocks: 2, studentDim: 16, studentHeads: 1 }));
  const T = (name: string) => ({ data: teacher.variable(name).dataSync(), shape: teacher.variable(name).shape });
  const S = (name: string) => ({ data: student.variable(name).dataSync(), shape: student.variable(name).shape });
  // The stem's first convolutions do not depend on the width: whole.
  t.deepEqual(Array.from(S('patch_embed.stem.0.weight').data), Array.from(T('patch_embed.stem.0.weight').data));
  // Its last one and the head's first: the first 16 output / input channels.
  const last = S('patch_embed.stem.3.weight');
  t.deepEqual(last.shape, [16, 16, 3, 3]);
  t.deepEqual(Array.from(last.data), Array.from(T('patch_embed.stem.3.weight').data.slice(0, 16 * 16 * 9)));
  t.deepEqual(student.config.stem, [4, 8, 16, 16]);
  const head = S('box_head.conv1_ctr.0.weight'); // [16 out, 16 in, 3, 3] from [16 out, 32 in, 3, 3]
  t.is(head.data[1 * 16 * 9 + 15 * 9 + 4], T('box_head.conv1_ctr.0.weight').data[1 * 32 * 9 + 15 * 9 + 4]);
  // qkv [3*16, 16] from [3*32, 32]: row r of the k part is the teacher's k row r.
  const qkv = S('blocks.1.attn.qkv.weight');
  t.deepEqual(qkv.shape, [48, 16]);
  t.is(qkv.data[(16 + 3) * 16 + 7], T('blocks.1.attn.qkv.weight').data[(32 + 3) * 32 + 7]);
  t.is(S('blocks.0.attn.qkv.bias').data[32 + 5], T('blocks.0.attn.qkv.bias').data[64 + 5]);
  t.is(S('pos_embed_x').data[2 * 16 + 9], T('pos_embed_x').data[2 * 32 + 9]);
  t.throws(() => initStudent(teacher, divideStages(2, 2), options({ studentBlocks: 2, studentDim: 48 })), { instanceOf: CtEdgeError, message: /wider than its teacher \(32\); .*--dim 1 to 32/ });
});

test('a compression run lowers its losses, never changes the teacher, and at least one student block runs each step', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-compress-'));
  const teacher = TrackerNet.random(teacherConfig, 3);
  const before = teacher.weights();
  const objective = compressionObjective(teacher, randomBatches(teacherConfig, 5, true), options({ steps: 30, schedule: { kind: 'constant', p: 0.5, a2: 0 } }));
  const draws: boolean[][] = [];
  const prepare = objective.prepare.bind(objective);
  objective.prepare = async (step) => {
    await prepare(step);
    draws.push([...objective.lastDraws]);
  };
  const log = await trainLoop(objective, {
    steps: 30, learningRate: 1e-3, weightDecay: 1e-4, clipNorm: 0.1, lrDropAt: 0.8, lrDropFactor: 0.1, checkpointEvery: 100,
    checkpointPath: join(dir, 'ckpt.safetensors'), logPath: join(dir, 'log.jsonl'), plotPath: join(dir, 'curves.png'), resume: false, label: 'compress',
  });
  const mean = (from: number, to: number, key: string) => log.slice(from, to).reduce((a, e) => a + e.losses[key], 0) / (to - from);
  t.true(mean(25, 30, 'total') < mean(0, 5, 'total'), `total ${mean(0, 5, 'total')} -> ${mean(25, 30, 'total')}`);
  t.log(`total ${mean(0, 5, 'total').toFixed(3)} -> ${mean(25, 30, 'total').toFixed(3)}, ${log[log.length - 1].ms.toFixed(0)} ms/step`);
  t.true(draws.every((d) => d.some(Boolean)));
  t.true(log.every((e, i) => e.info?.replacementRate === 0.5 && e.info.studentStages === draws[i].filter(Boolean).length), 'the log records p and the stages run');
  t.true(draws.some((d) => !d.every(Boolean)), 'some steps ran teacher stages');
  for (const [name, w] of teacher.weights()) t.deepEqual(w.data, before.get(name)!.data, `teacher ${name} changed`);
  objective.dispose();
  await rm(dir, { recursive: true });
});

test('feature mimicking pulls the student stage outputs towards the teacher\'s', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-compress-'));
  const teacher = TrackerNet.random(teacherConfig, 3);
  // Blocks that move the tokens far (random init barely does), so that a fresh student starts far off.
  const strong = teacher.weights();
  for (const [name, w] of strong) if (/^blocks\.\d+\.(attn|mlp)\..*weight$/.test(name)) w.data.forEach((v, i) => (w.data[i] = v * 30));
  teacher.loadWeights(strong, 'scaled teacher');
  // p = 1: every stage runs the student, so the mimic term compares the same stages every step
  const objective = compressionObjective(teacher, randomBatches(teacherConfig, 5, true), options({ steps: 20, init: 'random', schedule: { kind: 'constant', p: 1 } }));
  const log = await trainLoop(objective, {
    steps: 20, learningRate: 1e-2, weightDecay: 1e-4, clipNorm: 0.1, lrDropAt: 1, lrDropFactor: 0.1, checkpointEvery: 100,
    checkpointPath: join(dir, 'ckpt.safetensors'), logPath: join(dir, 'log.jsonl'), plotPath: join(dir, 'curves.png'), resume: false, label: 'mimic',
  });
  t.log(`mimic ${log[0].losses.mimic.toFixed(4)} -> ${log[19].losses.mimic.toFixed(4)}`);
  t.true(log[19].losses.mimic < log[0].losses.mimic * 0.7);
  objective.dispose();
  await rm(dir, { recursive: true });
});

test('heterogeneous student: projections train with it and are absent from its weights', async (t) => {
  const teacher = TrackerNet.random(teacherConfig, 4);
  const objective = compressionObjective(teacher, randomBatches(teacherConfig, 6), options({ studentDim: 16, studentHeads: 1 }));
  t.true([...objective.trainable.keys()].some((k) => k.startsWith('proj.')));
  // The projections start as the channel cut of the student's init: in = [I; 0], out = [I 0].
  const into = objective.trainable.get('proj.0.in.weight')!.arraySync() as number[][];
  t.deepEqual([into[3][3], into[3][4], into[20][3], into.length, into[0].length], [1, 0, 0, 32, 16]);
  t.is(objective.student.config.dim, 16);
  t.false([...objective.student.weights().keys()].some((k) => k.startsWith('proj.')));
  await objective.prepare(1);
  const { grads } = tf.variableGrads(() => objective.losses(1).total, [...objective.trainable.values()]);
  // every student parameter gets a gradient, and the projections of the stages the teacher ran
  const withGrad = new Set(Object.keys(grads));
  const names = new Map([...objective.trainable].map(([name, v]) => [v.name, name]));
  const graded = [...withGrad].map((n) => names.get(n)!);
  objective.lastDraws.forEach((student, i) => {
    t.is(graded.includes(`blocks.${i}.attn.qkv.weight`), student, `student block ${i}`);
    t.is(graded.includes(`proj.${i}.in.weight`), !student, `projection into teacher stage ${i}`);
  });
  t.true(graded.includes('patch_embed.proj.weight') && graded.includes('box_head.conv5_ctr.weight'));
  objective.dispose();
});

test('feature mimicking counts every stage, teacher-run ones too, template and search tokens half each, over the student blocks', async (t) => {
  const config = netConfig('tiny', { depth: 2, headNorm: 'none' });
  const teacher = TrackerNet.random(config, 8);
  const objective = compressionObjective(teacher, randomBatches(config, 9, true), options({ studentBlocks: 2, guidance: false, schedule: { kind: 'constant', p: 0.2, a2: 0 } }));
  // A student block 0 unlike the teacher's, so that every stage after it differs too.
  const w = objective.student.variable('blocks.0.mlp.fc2.weight');
  w.assign(tf.mul(w, 3));
  let step = 1;
  for (; step < 50; step++) {
    await objective.prepare(step);
    if (objective.lastDraws[0] && !objective.lastDraws[1]) break;
  }
  t.deepEqual(objective.lastDraws, [true, false]);
  const [got, expected, teacherRun] = tf.tidy(() => {
    const mimic = objective.losses(step).mimic.dataSync()[0];
    // By hand, on the same (fixed) batch: student block 0, then teacher block 1, each compared with the
    // teacher's own output of that stage; template (first 16 tokens) and search tokens half each.
    const b = randomBatch(config, 2, 9);
    const template = tf.tensor4d(b.template, [2, 3, 64, 64]);
    const search = tf.tensor4d(b.search, [2, 3, 128, 128]);
    const reference = teacher.forward(template, search).features;
    const s0 = objective.student.blocks[0].apply(objective.student.embed(template, search));
    const s1 = teacher.blocks[1].apply(s0);
    const half = (x: tf.Tensor3D, y: tf.Tensor3D) => {
      const [n, nz, d] = [x.shape[1], 16, x.shape[2]];
      const part = (from: number, size: number) => tf.mean(tf.squaredDifference(tf.slice(x, [0, from, 0], [2, size, d]), tf.slice(y, [0, from, 0], [2, size, d]))).dataSync()[0];
      return (part(0, nz) + part(nz, n - nz)) / 2;
    };
    const teacherRunStage = half(s1, reference[1]);
    return [mimic, (half(s0, reference[0]) + teacherRunStage) / 2, teacherRunStage];
  });
  t.true(teacherRun > 0, 'the teacher-run stage sees a changed input');
  t.true(Math.abs(got - expected) <= 1e-5 * Math.max(1, expected), `mimic ${got} vs ${expected}`);
  objective.dispose();
  teacher.dispose();
});
