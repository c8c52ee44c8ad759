/**
 * CompressTracker (Hong et al., 2024) as its released code does it: the teacher's blocks are split
 * into stages, the student gets one block per stage, and training randomly swaps student stages
 * for the frozen teacher's (replacement training) with a replacement rate that rises over the run,
 * plus prediction guidance from the teacher's boxes and stage-wise feature mimicking.
 *
 *   stage i of the teacher = blocks stages[i].start .. stages[i].end - 1
 *   each step: b_i ~ Bernoulli(p(t)) per stage, shared by the batch; 1 runs student block i,
 *   0 runs teacher stage i; if every b_i is 0 one random stage is forced to 1
 *   loss = GT (2 GIoU + 5 L1 + focal) + guidance (2 GIoU + 5 L1 against the teacher's boxes)
 *          + 0.2 * mimic (MSE to the teacher's tokens after every stage)
 *
 * `distill: 'dense'` (the default; beyond the paper) adds the teacher's whole output as a target
 * (losses.ts denseDistillation), mimics the stem's tokens too, and drops the GT term when any source
 * is unlabeled: there it would only repeat the teacher's box.
 *
 * A student narrower than the teacher starts from the teacher's tensors cut to its width and trains
 * through a linear projection into and out of each teacher stage (student tokens -> teacher width
 * -> teacher stage -> student width); the projections live only in the objective, never in the
 * student network, so they vanish from checkpoints and exports.
 */
import * as tf from '@tensorflow/tfjs-core';
import { geometry, validateNetConfig, type TrackerNetConfig } from './model/config.js';
import { matMulTransposeB } from './model/layers.js';
import { TrackerNet, type VitBlock } from './model/network.js';
import { sameShape, type HeadTower, type WeightTensor } from './model/params.js';
import { CtEdgeError } from '../contract/errors.js';
import { hashSeed, Rng } from './data/random.js';
import { boxLosses, decodeAtPeak, denseDistillation, LOSS_WEIGHTS } from './losses.js';
import type { LossTerms, Objective } from './loop.js';
import { BatchTensors, groundTruthLoss, type PairBatchSource } from './objectives.js';
import { leadingChannels, type ChannelChoice } from './narrow-start.js';

export interface Stage {
  start: number;
  /** Exclusive. */
  end: number;
}

/**
 * Teacher blocks per stage: even (r = N_t / N_s blocks each) by default, or an explicit list of
 * stage sizes such as [2, 2, 6, 2] that sums to the teacher's depth.
 */
export function divideStages(teacherDepth: number, studentDepth: number, sizes?: readonly number[]): Stage[] {
  const list = sizes ?? (() => {
    if (studentDepth > teacherDepth) {
      const even = Array.from({ length: teacherDepth }, (_, i) => i + 1).filter((n) => teacherDepth % n === 0);
      throw new CtEdgeError(
        'ERR_INVALID_ARGUMENT',
        `a student of ${studentDepth} blocks cannot come from a ${teacherDepth}-block teacher (one teacher stage per student block): give --blocks from 1 to ${teacherDepth}; ${even.join(', ')} divide it evenly`,
      );
    }
    if (studentDepth < 1 || teacherDepth % studentDepth !== 0) {
      throw new CtEdgeError(
        'ERR_INVALID_ARGUMENT',
        `a ${teacherDepth}-block teacher does not divide evenly into ${studentDepth} stages; give the stage sizes explicitly (e.g. --stages ${unevenExample(teacherDepth, studentDepth)})`,
      );
    }
    return Array.from({ length: studentDepth }, () => teacherDepth / studentDepth);
  })();
  if (list.length !== studentDepth || list.some((n) => !Number.isInteger(n) || n < 1) || list.reduce((a, b) => a + b, 0) !== teacherDepth) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `stage sizes [${list.join(',')}] must be ${studentDepth} positive integers summing to the teacher's ${teacherDepth} blocks`);
  }
  let start = 0;
  return list.map((n) => ({ start, end: (start += n) }));
}

function unevenExample(teacherDepth: number, studentDepth: number): string {
  if (studentDepth < 1 || studentDepth > teacherDepth) return '(one size per student block)';
  const base = Math.floor(teacherDepth / studentDepth);
  return Array.from({ length: studentDepth }, (_, i) => base + (i < teacherDepth % studentDepth ? 1 : 0)).join(',');
}

export type ReplacementSchedule =
  /** p rises from pInit to 1: constant for the first a1 of training, linear, then 1 for the last a2. */
  | { kind: 'progressive'; pInit: number; a1: number; a2: number }
  /** A fixed p (the paper's ablation without progressive replacement), then 1 for the last a2 (default 0.1), as the paper's. */
  | { kind: 'constant'; p: number; a2?: number };

export const DEFAULT_SCHEDULE: ReplacementSchedule = { kind: 'progressive', pInit: 0.5, a1: 0.1, a2: 0.1 };

/** Replacement rate (probability of running the student block) at `fraction` of the run. */
export function replacementRate(schedule: ReplacementSchedule, fraction: number): number {
  if (schedule.kind === 'constant') return fraction > 1 - (schedule.a2 ?? 0.1) ? 1 : schedule.p;
  const { pInit, a1, a2 } = schedule;
  if (fraction < a1) return pInit;
  if (fraction > 1 - a2) return 1;
  return pInit + ((1 - pInit) * (fraction - a1)) / (1 - a1 - a2);
}

/**
 * One draw per stage (true = student block), shared by the whole batch; never all teacher. While
 * p < 0.5 exactly one stage runs the student, as CompressTracker's released code does.
 */
export function drawReplacement(stages: number, p: number, rng: Rng): boolean[] {
  const draws = Array.from({ length: stages }, () => rng.next() < p);
  const forced = Math.floor(rng.next() * stages);
  if (p < 0.5) return draws.map((_, i) => i === forced);
  if (!draws.some(Boolean)) draws[forced] = true;
  return draws;
}

export interface CompressOptions {
  studentBlocks: number;
  /** Explicit stage sizes; default even. */
  stages?: readonly number[];
  /** Which teacher block of its stage each student block starts from (CompressTracker: last). */
  init: 'last' | 'first' | 'random';
  schedule: ReplacementSchedule;
  /** Box loss against the frozen teacher's boxes (weight 1). */
  guidance: boolean;
  /** MSE to the teacher's tokens at the end of every stage, and after the stem when dense (weight 0.2). */
  mimic: boolean;
  /**
   * 'dense': the teacher's score, size and offset maps at every cell are targets too; 'boxes': only
   * the boxes (CompressTracker's published objective). Default 'boxes' here, 'dense' in the CLI.
   */
  distill?: 'dense' | 'boxes';
  /** Ground-truth term; off where pairs are unlabeled and distillation is dense (default on). */
  groundTruth?: boolean;
  /** The student's attention (TrackerNetConfig.attention); default the teacher's. */
  attention?: 'joint' | 'asymmetric';
  /** Replacement training; off = the student alone on ground truth (the ablation baseline). */
  replacement: boolean;
  /** A narrower student (heterogeneous compression); default the teacher's width and heads. */
  studentDim?: number;
  studentHeads?: number;
  /** A student MLP narrower than the teacher's (hidden = dim x ratio); default the teacher's ratio. */
  studentMlpRatio?: number;
  /** A narrower box head (its towers' first conv width); default the teacher's. */
  studentHeadChannels?: number;
  /**
   * A narrower student's start: the teacher channels it keeps (teacherChannels: by the teacher's
   * activation statistics); default the plain cut, the first channels.
   */
  keep?: ChannelChoice;
  /**
   * How a narrower student's start was (compressTracker: is) chosen: 'stats' (compressTracker's
   * default) computes `keep` from the teacher's activations, 'cut' keeps the first channels.
   * Recorded in the run's description when 'stats'.
   */
  narrowStart?: 'stats' | 'cut';
  batchSize: number;
  steps: number;
  seed: number;
}

export const MIMIC_WEIGHT = 0.2;

/** The student's network config: the teacher's geometry with N_s blocks (and its own width). */
export function studentConfig(
  teacher: TrackerNetConfig,
  o: Pick<CompressOptions, 'studentBlocks' | 'studentDim' | 'studentHeads' | 'studentMlpRatio' | 'studentHeadChannels' | 'attention'>,
): TrackerNetConfig {
  const dim = o.studentDim ?? teacher.dim;
  if (dim > teacher.dim) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `a student of width ${dim} is wider than its teacher (${teacher.dim}); compression keeps the width or narrows it (--dim 1 to ${teacher.dim})`);
  }
  const mlpRatio = o.studentMlpRatio ?? teacher.mlpRatio;
  if (mlpRatio > teacher.mlpRatio) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `a student MLP ratio of ${mlpRatio} is wider than the teacher's (${teacher.mlpRatio}); use --mlp-ratio 1 to ${teacher.mlpRatio}`);
  }
  const headChannels = o.studentHeadChannels ?? teacher.headChannels;
  if (headChannels > teacher.headChannels) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `a student head of ${headChannels} channels is wider than the teacher's (${teacher.headChannels}); use --head-channels 8 to ${teacher.headChannels}, a multiple of 8`);
  }
  const heads = o.studentHeads ?? (dim === teacher.dim ? teacher.heads : Math.max(1, Math.round((teacher.heads * dim) / teacher.dim)));
  // A convolutional stem ends at the network's width.
  const stem = teacher.stem && [...teacher.stem.slice(0, -1), dim];
  return validateNetConfig({ ...teacher, depth: o.studentBlocks, dim, heads, mlpRatio, headChannels, ...(stem ? { stem } : {}), ...(o.attention && { attention: o.attention }) });
}

/** Whether a student is narrower than its teacher anywhere: token width, MLP or head. */
export function isNarrower(student: TrackerNetConfig, teacher: TrackerNetConfig): boolean {
  return student.dim < teacher.dim || student.mlpRatio < teacher.mlpRatio || student.headChannels < teacher.headChannels;
}

/**
 * A teacher tensor cut to a narrower student's shape: along every axis that shrank, the channels of
 * `keep` (residual channels for the token width, qkv per q, k and v part; the MLP hidden units of
 * the student block; each head tower's conv channels; the first channels for anything else).
 * Width-independent tensors (the stem's early convolutions) carry over whole. The kept channels
 * are the first heads whole only when the student keeps the teacher's head width; otherwise its
 * heads mix channels of the teacher's.
 */
function narrowed(name: string, w: WeightTensor, shape: readonly number[], teacher: TrackerNetConfig, keep: ChannelChoice): WeightTensor {
  const dt = teacher.dim;
  const hiddenT = dt * teacher.mlpRatio;
  const block = /^blocks\.(\d+)\.mlp\./.exec(name);
  // box_head.conv{k}_{tower}.0 (conv) or .1 (norm): axis 0 is layer k's channels, axis 1 layer k-1's (k = 5: the 1x1 output conv)
  const head = /^box_head\.conv(\d)_(ctr|size|offset)\./.exec(name);
  const towerKeep = head && keep.head?.[head[2] as HeadTower];
  const picks = w.shape.map((size, axis) => {
    const want = shape[axis];
    if (want === size) return undefined;
    if (head) {
      const layer = Number(head[1]) - (axis === 0 ? 1 : 2); // index into the tower's kept channels; -1: the tokens
      if (layer === -1) return keep.residual;
      return towerKeep?.[layer] ?? Array.from({ length: want }, (_, i) => i);
    }
    if (size === dt) return keep.residual;
    if (size === 3 * dt && name.includes('attn.qkv.') && axis === 0) return [0, 1, 2].flatMap((p) => keep.residual.map((c) => p * dt + c));
    if (size === hiddenT && block) return keep.hidden[Number(block[1])];
    return Array.from({ length: want }, (_, i) => i);
  });
  return gather(w, picks, shape);
}

/** `w` at the indices `picks` gives along each axis (undefined: every index), as a tensor of `shape`. */
function gather(w: WeightTensor, picks: readonly (readonly number[] | undefined)[], shape: readonly number[]): WeightTensor {
  const strides = w.shape.map((_, a) => w.shape.slice(a + 1).reduce((x, y) => x * y, 1));
  const data = new Float32Array(shape.reduce((x, y) => x * y, 1));
  for (let k = 0; k < data.length; k++) {
    let source = 0;
    for (let a = shape.length - 1, rest = k; a >= 0; a--) {
      const i = rest % shape[a];
      source += (picks[a]?.[i] ?? i) * strides[a];
      rest = Math.floor(rest / shape[a]);
    }
    data[k] = w.data[source];
  }
  return { shape: [...shape], data };
}

/**
 * A student initialised from the teacher: blocks from their stages, the rest copied. A narrower
 * student gets the teacher's tensors cut to its width (`narrowed`, the channels of `o.keep` or
 * the first ones), a start the projections of the objective then bridge.
 */
export function initStudent(teacher: TrackerNet, stages: readonly Stage[], o: CompressOptions): TrackerNet {
  const config = studentConfig(teacher.config, o);
  const student = TrackerNet.random(config, o.seed);
  const teacherWeights = teacher.weights();
  const weights = student.weights();
  const keep = o.keep ?? leadingChannels(config.dim, config.dim * config.mlpRatio, stages.length);
  const fit = (name: string, w: WeightTensor): WeightTensor => (sameShape(w.shape, weights.get(name)!.shape) ? w : narrowed(name, w, weights.get(name)!.shape, teacher.config, keep));
  for (const [name, w] of teacherWeights) {
    if (!name.startsWith('blocks.')) weights.set(name, fit(name, w)); // stem/patch and position embeddings, final norm, head
  }
  if (o.init !== 'random') {
    stages.forEach((stage, i) => {
      const source = o.init === 'last' ? stage.end - 1 : stage.start;
      for (const [name, w] of teacherWeights) {
        const prefix = `blocks.${source}.`;
        if (name.startsWith(prefix)) {
          const own = `blocks.${i}.${name.slice(prefix.length)}`;
          weights.set(own, fit(own, w));
        }
      }
    });
  }
  student.loadWeights(weights, 'the teacher');
  return student;
}

export interface CompressionObjective extends Objective {
  readonly student: TrackerNet;
  readonly stages: readonly Stage[];
  /** The replacement draws of the last prepared step (true = student block ran). */
  readonly lastDraws: readonly boolean[];
  dispose(): void;
}

/**
 * The objective the training loop minimises to compress `teacher` (frozen, never updated) into a
 * student of `o.studentBlocks` blocks.
 */
export function compressionObjective(teacher: TrackerNet, data: PairBatchSource, o: CompressOptions): CompressionObjective {
  const stages = divideStages(teacher.config.depth, o.studentBlocks, o.stages);
  const student = initStudent(teacher, stages, o);
  const narrow = student.config.dim !== teacher.config.dim;
  const projections = new Map<string, tf.Variable>();
  if (narrow) {
    const [ds, dt] = [student.config.dim, teacher.config.dim];
    const kept = o.keep?.residual ?? Array.from({ length: ds }, (_, c) => c);
    const cut = tf.tidy(() => tf.oneHot(tf.tensor1d(kept, 'int32'), dt).toFloat()) as tf.Tensor2D; // [ds, dt]: row c picks teacher channel kept[c]
    stages.forEach((_, i) => {
      // [out, in] like every linear weight of the network. They start as the channel cut of
      // initStudent: student channel c is teacher channel kept[c], the teacher's others start at 0.
      projections.set(`proj.${i}.in.weight`, tf.variable(tf.transpose(cut), true));
      projections.set(`proj.${i}.in.bias`, tf.variable(tf.zeros([dt]), true));
      projections.set(`proj.${i}.out.weight`, tf.variable(cut.clone(), true));
      projections.set(`proj.${i}.out.bias`, tf.variable(tf.zeros([ds]), true));
    });
    cut.dispose();
  }
  const project = (x: tf.Tensor3D, i: number, side: 'in' | 'out') => {
    const [b, n, d] = x.shape;
    const w = projections.get(`proj.${i}.${side}.weight`)! as tf.Tensor as tf.Tensor2D;
    const y = tf.add(matMulTransposeB(tf.reshape(x, [b * n, d]) as tf.Tensor2D, w), projections.get(`proj.${i}.${side}.bias`)!);
    return tf.reshape(y, [b, n, w.shape[0]]) as tf.Tensor3D;
  };
  const teacherStage = (x: tf.Tensor3D, i: number): tf.Tensor3D => {
    const blocks: VitBlock[] = teacher.blocks.slice(stages[i].start, stages[i].end);
    if (!narrow) return teacher.runBlocks(x, blocks).tokens;
    return project(teacher.runBlocks(project(x, i, 'in'), blocks).tokens, i, 'out');
  };

  const batch = new BatchTensors(student);
  let rate = 1;
  type TeacherTargets = {
    stem: tf.Tensor3D;
    stageOutputs: tf.Tensor3D[];
    boxes: tf.Tensor2D;
    maps: { score: tf.Tensor4D; size: tf.Tensor4D; offset: tf.Tensor4D };
  };
  const disposeTargets = (t: TeacherTargets | undefined) => t && tf.dispose([t.stem, ...t.stageOutputs, t.boxes, t.maps.score, t.maps.size, t.maps.offset]);
  let teacherOut: TeacherTargets | undefined;
  const dense = o.distill === 'dense';
  const groundTruth = o.groundTruth ?? true;
  let draws: boolean[] = [];
  const trainable = new Map<string, tf.Variable>([...[...student.variables].filter(([, v]) => v.trainable), ...projections]);
  const state = new Map<string, tf.Variable>([...student.variables, ...projections]);

  return {
    student,
    stages,
    get lastDraws() {
      return draws;
    },
    trainable,
    state,
    async prepare(step) {
      const pairs = await data.batch(step, o.batchSize);
      batch.load(pairs);
      rate = o.replacement ? replacementRate(o.schedule, (step - 1) / o.steps) : 1;
      draws = o.replacement ? drawReplacement(stages.length, rate, new Rng(hashSeed(o.seed, step, 0x5eed))) : stages.map(() => true);
      disposeTargets(teacherOut);
      // The frozen teacher's targets, outside the gradient tape.
      teacherOut = tf.tidy(() => {
        const stem = teacher.embed(batch.template, batch.search);
        const { tokens, features } = teacher.runBlocks(stem);
        const { score, size, offset } = teacher.head(tokens);
        return {
          stem,
          stageOutputs: stages.map((s) => features[s.end - 1]),
          boxes: decodeAtPeak(score, size, offset),
          maps: { score, size, offset },
        };
      }) as TeacherTargets;
      // Pairs from unlabeled footage: the teacher's box on this very crop is the target.
      if (pairs.labelled?.includes(0)) {
        const teacherBoxes = teacherOut.boxes.dataSync();
        const targets = pairs.boxes.slice();
        pairs.labelled.forEach((labelled, i) => {
          if (labelled) return;
          const [cx, cy, w, h] = teacherBoxes.subarray(i * 4, i * 4 + 4);
          targets.set([cx - w / 2, cy - h / 2, w, h], i * 4);
        });
        batch.setTargets(targets);
      }
    },
    losses(): LossTerms {
      let x = student.embed(batch.template, batch.search);
      const mimic: tf.Scalar[] = [];
      const nz = geometry(student.config).templateTokens;
      // Template and search tokens weigh half each.
      const mimicTerm = (target: tf.Tensor3D) => {
        const [b, n, d] = x.shape;
        const part = (from: number, size: number) => tf.mean(tf.squaredDifference(tf.slice(x, [0, from, 0], [b, size, d]), tf.slice(target, [0, from, 0], [b, size, d])));
        return tf.mul(tf.add(part(0, nz), part(nz, n - nz)), 0.5) as tf.Scalar;
      };
      // Dense distillation mimics the stem's tokens too (the paper: stage outputs only).
      if (o.mimic && dense) mimic.push(mimicTerm(narrow ? project(teacherOut!.stem, 0, 'out') : teacherOut!.stem));
      stages.forEach((_, i) => {
        x = draws[i] ? student.blocks[i].apply(x) : teacherStage(x, i);
        // At the end of every stage, teacher-run ones included (their error reaches earlier student
        // stages through the frozen teacher blocks).
        if (o.mimic) mimic.push(mimicTerm(narrow ? project(teacherOut!.stageOutputs[i], i, 'out') : teacherOut!.stageOutputs[i]));
      });
      const maps = student.head(x, { training: true });
      const terms: Record<string, tf.Scalar> = {};
      const parts: tf.Scalar[] = [];
      if (groundTruth) {
        const gt = groundTruthLoss(maps, batch.boxes, batch.heatmaps);
        Object.assign(terms, { gt: gt.total, giou: gt.giou, l1: gt.l1, focal: gt.focal });
        parts.push(gt.total);
      }
      if (dense) {
        const d = denseDistillation(maps, teacherOut!.maps);
        Object.assign(terms, { dense: d.total, denseScore: d.score, denseSize: d.size, denseOffset: d.offset, denseBox: d.box });
        parts.push(d.total);
      }
      if (o.guidance) {
        // teacher boxes are (cx, cy, w, h); boxLosses takes xywh targets
        const t = teacherOut!.boxes;
        const [cx, cy, w, h] = tf.split(t, 4, 1);
        const teacherXywh = tf.concat([tf.sub(cx, tf.div(w, 2)), tf.sub(cy, tf.div(h, 2)), w, h], 1) as tf.Tensor2D;
        const g = boxLosses(decodeAtPeak(maps.score, maps.size, maps.offset), teacherXywh);
        terms.guidance = tf.add(tf.mul(g.giou, LOSS_WEIGHTS.giou), tf.mul(g.l1, LOSS_WEIGHTS.l1)) as tf.Scalar;
        parts.push(terms.guidance);
      }
      if (o.mimic) {
        terms.mimic = tf.div(tf.addN(mimic), o.studentBlocks) as tf.Scalar; // summed over the stem and the stages, over the student's blocks
        parts.push(tf.mul(terms.mimic, MIMIC_WEIGHT) as tf.Scalar);
      }
      return { ...terms, total: tf.addN(parts) as tf.Scalar };
    },
    stepInfo: () => ({ replacementRate: rate, studentStages: draws.filter(Boolean).length }),
    describe: () => ({
      kind: 'compress',
      teacher: teacher.config,
      student: student.config,
      stages: stages.map((s) => s.end - s.start),
      init: o.init,
      schedule: o.replacement ? o.schedule : 'none',
      guidance: o.guidance,
      mimic: o.mimic,
      ...(o.distill === 'dense' && { distill: 'dense' }),
      // 'stats' only: the plain cut is what runs from before the option did, so they resume
      ...(isNarrower(student.config, teacher.config) && o.narrowStart === 'stats' && { narrowStart: 'stats' }),
      ...(!groundTruth && { groundTruth: false }),
      batchSize: o.batchSize,
      seed: o.seed,
      data: data.describe(),
    }),
    dispose() {
      batch.dispose();
      disposeTargets(teacherOut);
      for (const v of projections.values()) v.dispose();
    },
  };
}
