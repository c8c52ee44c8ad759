/**
 * The start of a student narrower than its teacher: which of the teacher's channels it keeps. The
 * plain cut keeps the first ones; the teacher's activation statistics keep the ones that carry the
 * most energy on real crops (issue 23: a narrow start that keeps the teacher), so that the cut
 * drops what the teacher barely uses rather than whatever comes last.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrackerNet } from './model/network.js';
import type { TrackerNetConfig } from './model/config.js';
import { HEAD_TOWERS, towerChannels, type HeadTower } from './model/params.js';
import type { Stage } from './compress.js';
import type { PairBatchSource } from './objectives.js';

/** The teacher's channels a narrow student keeps, in the teacher's order. */
export interface ChannelChoice {
  /** Residual-stream channels (the token width): stem output, position embeddings, every block's in and out, the head's input. */
  residual: number[];
  /** Per student block: the MLP hidden units kept of the teacher block it starts from. */
  hidden: number[][];
  /** Per head tower, per 3x3 conv (1 to 4): the output channels kept; default the first ones. */
  head?: Record<HeadTower, number[][]>;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The plain cut: the first channels everywhere. */
export function leadingChannels(width: number, hidden: number, blocks: number): ChannelChoice {
  return { residual: range(width), hidden: Array.from({ length: blocks }, () => range(hidden)) };
}

/** Indices of the `k` largest values, ascending. */
function topK(values: Float32Array | number[], k: number): number[] {
  return range(values.length)
    .sort((a, b) => values[b] - values[a] || a - b)
    .slice(0, k)
    .sort((a, b) => a - b);
}

/** Per channel (last axis) mean of squares over every other axis, divided by its total: each layer weighs the same. */
function channelEnergy(x: tf.Tensor): tf.Tensor1D {
  const d = x.shape[x.shape.length - 1];
  const e = tf.mean(tf.square(tf.reshape(x, [-1, d])), 0);
  return tf.div(e, tf.add(tf.sum(e), 1e-12)) as tf.Tensor1D;
}

/**
 * The channels with the most energy in the teacher's activations on a batch of crops (template
 * [B,3,T,T], search [B,3,S,S]) that a `student` narrower than the teacher keeps: residual channels
 * summed over the stem's output and every block's, hidden units over the MLP of the teacher block
 * each student block starts from (`init`), and each head tower's channels over its own layers.
 */
export function teacherChannels(
  teacher: TrackerNet,
  template: tf.Tensor4D,
  search: tf.Tensor4D,
  stages: readonly Stage[],
  init: 'last' | 'first' | 'random',
  student: TrackerNetConfig,
): ChannelChoice {
  return tf.tidy(() => {
    const stem = teacher.embed(template, search);
    const { features, tokens } = teacher.runBlocks(stem);
    const layers = [stem, ...features];
    const residual = topK(tf.addN(layers.map(channelEnergy)).dataSync() as Float32Array, student.dim);
    const hidden = student.dim * student.mlpRatio;
    const hiddenChoice = stages.map((stage) => {
      if (init === 'random') return range(hidden); // no teacher block to keep units of
      const source = init === 'last' ? stage.end - 1 : stage.start;
      const input = source === 0 ? stem : features[source - 1];
      return topK(channelEnergy(teacher.blocks[source].mlpHidden(input)).dataSync() as Float32Array, hidden);
    });
    if (student.headChannels === teacher.config.headChannels) return { residual, hidden: hiddenChoice };
    const widths = towerChannels(student).slice(1);
    const towers = teacher.towerActivations(tokens);
    const head = Object.fromEntries(
      HEAD_TOWERS.map((name) => [name, towers[name].map((y, k) => topK(channelEnergy(y).dataSync() as Float32Array, widths[k]))]),
    ) as Record<HeadTower, number[][]>;
    return { residual, hidden: hiddenChoice, head };
  });
}

/** Crops the statistics are taken on: the first ones of the training data (augmented as in training). */
const NARROW_START_PAIRS = 32;

/** teacherChannels on the first NARROW_START_PAIRS pairs of the training data. */
export async function teacherChannelsOn(
  teacher: TrackerNet,
  data: PairBatchSource,
  stages: readonly Stage[],
  init: 'last' | 'first' | 'random',
  student: TrackerNetConfig,
): Promise<ChannelChoice> {
  const pairs = await data.batch(0, NARROW_START_PAIRS);
  const { templateSize: t, searchSize: s } = teacher.config;
  const template = tf.tensor4d(pairs.template, [pairs.count, 3, t, t]);
  const search = tf.tensor4d(pairs.search, [pairs.count, 3, s, s]);
  try {
    return teacherChannels(teacher, template, search, stages, init, student);
  } finally {
    tf.dispose([template, search]);
  }
}
