/**
 * The start of a student narrower than its teacher (ts/train/narrow-start.ts): the teacher's
 * activation statistics keep the channels the teacher uses, where the plain cut keeps the first
 * ones whatever they carry. A teacher whose first residual channels are dead (nothing writes them)
 * shows the difference: the statistics never keep a dead channel, the cut keeps all of them, and
 * the statistics' student starts closer to the teacher's maps. The CLI flag's bad values are typed errors.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { command as compressCommand } from '../ts/cli/commands/compress.js';
import { CtEdgeError } from '../ts/index.js';
import { initBackend } from '../ts/train/model/backend.js';
import { netConfig } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { compressionObjective, DEFAULT_SCHEDULE, divideStages, initStudent, isNarrower, studentConfig, type CompressOptions } from '../ts/train/compress.js';
import { HEAD_TOWERS } from '../ts/train/model/params.js';
import { leadingChannels, teacherChannels } from '../ts/train/narrow-start.js';
import { runCommand } from './helpers/cli.js';

const DEAD = 8;

test.before(async () => {
  await initBackend(['wasm', 'cpu']);
});

/** A tiny teacher whose residual channels 0..DEAD-1 stay exactly 0: nothing that writes the residual stream writes them. */
function teacherWithDeadChannels(): TrackerNet {
  const config = netConfig('tiny', { depth: 2 });
  const random = TrackerNet.random(config, 3);
  const weights = random.weights();
  random.dispose();
  const zeroRows = (name: string, rows: number, perRow: number) => {
    const w = weights.get(name)!;
    w.data.fill(0, 0, rows * perRow);
  };
  const d = config.dim;
  zeroRows('patch_embed.proj.weight', DEAD, 3 * config.patch * config.patch);
  zeroRows('patch_embed.proj.bias', DEAD, 1);
  for (const pos of ['pos_embed_z', 'pos_embed_x']) {
    const w = weights.get(pos)!;
    for (let token = 0; token < w.shape[1]; token++) w.data.fill(0, token * d, token * d + DEAD);
  }
  for (let b = 0; b < config.depth; b++) {
    zeroRows(`blocks.${b}.attn.proj.weight`, DEAD, d);
    zeroRows(`blocks.${b}.attn.proj.bias`, DEAD, 1);
    zeroRows(`blocks.${b}.mlp.fc2.weight`, DEAD, d * config.mlpRatio);
    zeroRows(`blocks.${b}.mlp.fc2.bias`, DEAD, 1);
  }
  return TrackerNet.fromWeights(config, weights, 'a teacher with dead channels');
}

function crops(net: TrackerNet, n: number): { template: tf.Tensor4D; search: tf.Tensor4D } {
  const { templateSize: t, searchSize: s } = net.config;
  return { template: tf.randomNormal([n, 3, t, t], 0, 1, 'float32', 5) as tf.Tensor4D, search: tf.randomNormal([n, 3, s, s], 0, 1, 'float32', 6) as tf.Tensor4D };
}

test('the statistics keep the channels the teacher uses; the plain cut keeps the first ones; the statistics start closer to the teacher', (t) => {
  const teacher = teacherWithDeadChannels();
  const { template, search } = crops(teacher, 8);
  const stages = divideStages(teacher.config.depth, 1);
  const width = teacher.config.dim - DEAD;
  const hidden = width * teacher.config.mlpRatio;
  const stats = teacherChannels(teacher, template, search, stages, 'last', { ...teacher.config, dim: width });
  t.deepEqual(stats.residual, Array.from({ length: width }, (_, i) => DEAD + i), 'every live channel, no dead one');
  t.is(stats.hidden.length, 1);
  t.is(stats.hidden[0].length, hidden);
  t.true(stats.hidden[0].every((u, i) => i === 0 || u > stats.hidden[0][i - 1]), 'hidden units ascending, no repeats');
  const cut = leadingChannels(width, hidden, 1);
  t.deepEqual(cut.residual.slice(0, DEAD), Array.from({ length: DEAD }, (_, i) => i));

  const options: CompressOptions = {
    studentBlocks: 1, init: 'last', schedule: DEFAULT_SCHEDULE, guidance: true, mimic: true, replacement: true,
    studentDim: width, studentHeads: 1, batchSize: 8, steps: 1, seed: 1,
  };
  const teacherMaps = teacher.forward(template, search);
  const error = (keep: typeof stats | undefined) => {
    const student = initStudent(teacher, stages, { ...options, ...(keep && { keep }) });
    const maps = student.forward(template, search);
    const e = tf.tidy(() => tf.mean(tf.squaredDifference(maps.score, teacherMaps.score)).dataSync()[0]);
    tf.dispose([maps.score, maps.size, maps.offset, ...maps.features]);
    student.dispose();
    return e;
  };
  const fromStats = error(stats);
  const fromCut = error(undefined);
  t.log(`score-map MSE against the teacher at the start: statistics ${fromStats.toExponential(3)}, plain cut ${fromCut.toExponential(3)}`);
  t.true(fromStats < fromCut / 2, `statistics ${fromStats} against cut ${fromCut}`);
  // The projections that bridge the widths start as the same cut: student channel c <-> teacher channel keep[c].
  const noData = { batch: () => Promise.reject(new Error('not used')), describe: () => ({}) };
  for (const [keep, narrowStart] of [[stats, 'stats'], [undefined, 'cut']] as const) {
    const objective = compressionObjective(teacher, noData, { ...options, ...(keep && { keep }), narrowStart });
    const kept = keep?.residual ?? cut.residual;
    const into = objective.state.get('proj.0.in.weight')!.arraySync() as number[][]; // [teacher, student]
    const out = objective.state.get('proj.0.out.weight')!.arraySync() as number[][]; // [student, teacher]
    t.true(into.every((row, r) => row.every((v, c) => v === (kept[c] === r ? 1 : 0))), `${narrowStart}: proj in`);
    t.true(out.every((row, c) => row.every((v, r) => v === (kept[c] === r ? 1 : 0))), `${narrowStart}: proj out`);
    // Recorded for a resume only when it is the statistics (runs from before the option were cuts).
    t.is((objective.describe() as { narrowStart?: string }).narrowStart, narrowStart === 'stats' ? 'stats' : undefined);
    objective.dispose();
    objective.student.dispose();
  }
  tf.dispose([template, search, teacherMaps.score, teacherMaps.size, teacherMaps.offset, ...teacherMaps.features]);
  teacher.dispose();
});

/**
 * A tiny teacher whose first MLP_DEAD hidden units and each tower's first HEAD_DEAD conv1 channels stay 0 (their inputs
 * cut, their biases negative): as many as the narrower student keeps, so the plain cut keeps only dead ones.
 */
function teacherWithDeadUnits(): TrackerNet {
  const config = netConfig('tiny', { depth: 1 });
  const random = TrackerNet.random(config, 4);
  const weights = random.weights();
  random.dispose();
  const dead = (name: string, rows: number, perRow: number) => {
    weights.get(`${name}.weight`)!.data.fill(0, 0, rows * perRow);
    weights.get(`${name}.bias`)!.data.fill(-10, 0, rows); // GELU(-10) and ReLU(-10) are 0 to float precision
  };
  dead('blocks.0.mlp.fc1', MLP_DEAD, config.dim);
  for (const tower of HEAD_TOWERS) {
    // conv1's first HEAD_DEAD outputs; every bias positive elsewhere so that live channels carry energy
    const conv1 = `box_head.conv1_${tower}.0`;
    weights.get(`${conv1}.bias`)!.data.fill(0.5);
    dead(conv1, HEAD_DEAD, config.dim * 9);
  }
  return TrackerNet.fromWeights(config, weights, 'a teacher with dead units');
}
const MLP_DEAD = 32; // the tiny config's width: what --mlp-ratio 1 keeps
const HEAD_DEAD = 16; // what --head-channels 16 keeps

test('--mlp-ratio and --head-channels: the statistics keep live MLP units and head channels, and start closer to the teacher than the cut', (t) => {
  const teacher = teacherWithDeadUnits();
  const { template, search } = crops(teacher, 8);
  const stages = divideStages(1, 1);
  const student = studentConfig(teacher.config, { studentBlocks: 1, studentMlpRatio: 1, studentHeadChannels: 16 });
  t.is(student.mlpRatio, 1);
  t.is(student.headChannels, 16);
  t.true(isNarrower(student, teacher.config));
  const stats = teacherChannels(teacher, template, search, stages, 'last', student);
  t.deepEqual(stats.residual, Array.from({ length: teacher.config.dim }, (_, i) => i), 'the full width keeps every residual channel');
  t.is(stats.hidden[0].length, student.dim);
  t.true(stats.hidden[0].every((u) => u >= MLP_DEAD), `no dead MLP unit kept: ${stats.hidden[0]}`);
  for (const tower of HEAD_TOWERS) {
    t.deepEqual(stats.head![tower].map((k) => k.length), [16, 8, 4, 2], `${tower}: the narrower tower's widths`);
    t.true(stats.head![tower][0].every((c) => c >= HEAD_DEAD), `${tower}: no dead conv1 channel kept`);
  }
  const options: CompressOptions = {
    studentBlocks: 1, init: 'last', schedule: DEFAULT_SCHEDULE, guidance: true, mimic: true, replacement: true,
    studentMlpRatio: 1, studentHeadChannels: 16, batchSize: 8, steps: 1, seed: 1,
  };
  const teacherMaps = teacher.forward(template, search);
  const error = (keep: typeof stats | undefined) => {
    const net = initStudent(teacher, stages, { ...options, ...(keep && { keep }) });
    t.is(net.config.headChannels, 16);
    const maps = net.forward(template, search);
    const e = tf.tidy(() => tf.mean(tf.squaredDifference(maps.size, teacherMaps.size)).add(tf.mean(tf.squaredDifference(maps.score, teacherMaps.score))).dataSync()[0]);
    tf.dispose([maps.score, maps.size, maps.offset, ...maps.features]);
    net.dispose();
    return e;
  };
  const fromStats = error(stats);
  const fromCut = error(undefined);
  t.log(`score and size maps' MSE against the teacher at the start: statistics ${fromStats.toExponential(3)}, plain cut ${fromCut.toExponential(3)}`);
  t.true(fromStats < fromCut / 2, `statistics ${fromStats} against cut ${fromCut}`);
  // Narrower in the MLP only: recorded as a statistics start for a resume, and no width projections.
  const noData = { batch: () => Promise.reject(new Error('not used')), describe: () => ({}) };
  const objective = compressionObjective(teacher, noData, { ...options, keep: stats, narrowStart: 'stats' });
  t.is((objective.describe() as { narrowStart?: string }).narrowStart, 'stats');
  t.false([...objective.state.keys()].some((name) => name.startsWith('proj.')));
  objective.dispose();
  objective.student.dispose();
  tf.dispose([template, search, teacherMaps.score, teacherMaps.size, teacherMaps.offset, ...teacherMaps.features]);
  teacher.dispose();
});

test('--mlp-ratio and --head-channels wider than the teacher, or a head width not a multiple of 8, are typed errors that name the range', (t) => {
  const teacher = netConfig('tiny');
  t.throws(() => studentConfig(teacher, { studentBlocks: 1, studentMlpRatio: teacher.mlpRatio + 1 }), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /--mlp-ratio 1 to 4/ });
  t.throws(() => studentConfig(teacher, { studentBlocks: 1, studentHeadChannels: 64 }), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /--head-channels 8 to 32/ });
  t.throws(() => studentConfig(teacher, { studentBlocks: 1, studentHeadChannels: 12 }), { instanceOf: CtEdgeError, message: /multiple of 8/ });
});

test('compress --narrow-start: a value other than stats or cut, or the flag without --dim, is a typed error before any work', async (t) => {
  await t.throwsAsync(runCommand(compressCommand, ['--teacher', 'none.safetensors', '--blocks', '1', '--steps', '1', '--dim', '16', '--narrow-start', 'pca', '-o', 'x.safetensors']), {
    instanceOf: CtEdgeError,
    code: 'ERR_INVALID_ARGUMENT',
    message: /--narrow-start must be stats or cut, got 'pca'/,
  });
  await t.throwsAsync(runCommand(compressCommand, ['--teacher', 'none.safetensors', '--blocks', '1', '--steps', '1', '--narrow-start', 'cut', '-o', 'x.safetensors']), {
    instanceOf: CtEdgeError,
    code: 'ERR_INVALID_ARGUMENT',
    message: /--narrow-start goes with --dim, --mlp-ratio or --head-channels/,
  });
});
