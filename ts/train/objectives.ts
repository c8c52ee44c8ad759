/**
 * What the training loop minimises. Teacher training: OSTrack's ground-truth loss. The compression
 * objective (ts/train/compress.ts) adds replacement, teacher guidance and feature mimicking on top
 * of the same ground-truth term.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CtEdgeError } from '../contract/errors.js';
import { geometry } from './model/config.js';
import type { HeadMaps, TrackerNet } from './model/network.js';
import { boxLosses, decodeAtPeak, focalLoss, gaussianHeatmaps, LOSS_WEIGHTS } from './losses.js';
import type { LossTerms, Objective } from './loop.js';

/** A batch of training pairs: crops as the runtime makes them, targets in the search crop. */
export interface PairBatch {
  count: number;
  /** [count, 3, T, T] normalised template crops. */
  template: Float32Array;
  /** [count, 3, S, S] normalised search crops. */
  search: Float32Array;
  /** [count, 4] target boxes (x, y, w, h) normalised to the search crop. */
  boxes: Float32Array;
  /** [count] 0 where the box is no label (it only placed the crops); absent: all labels. */
  labelled?: Uint8Array;
}

/** A contiguous share of a batch: its members from..to-1. */
export interface BatchPart {
  from: number;
  to: number;
}

/** Training pairs for step `step`, the same for the same (seed, step) on every run. */
export interface PairBatchSource {
  /** Batch `step` of `count` pairs, or only `part` of it. */
  batch(step: number, count: number, part?: BatchPart): Promise<PairBatch>;
  /** What data the batches come from, for the run description. */
  describe(): Record<string, unknown>;
}

/** OSTrack's ground-truth loss: 2 GIoU + 5 L1 on the box at the predicted peak + 1 focal. */
export function groundTruthLoss(maps: HeadMaps, boxesXywh: tf.Tensor2D, heatmaps: tf.Tensor4D): { total: tf.Scalar; giou: tf.Scalar; l1: tf.Scalar; focal: tf.Scalar } {
  const { giou, l1 } = boxLosses(decodeAtPeak(maps.score, maps.size, maps.offset), boxesXywh);
  const focal = focalLoss(maps.score, heatmaps);
  const total = tf.addN([tf.mul(giou, LOSS_WEIGHTS.giou), tf.mul(l1, LOSS_WEIGHTS.l1), tf.mul(focal, LOSS_WEIGHTS.focal)]) as tf.Scalar;
  return { total, giou, l1, focal };
}

/** Batch tensors, built once per step outside the gradient tape. */
export class BatchTensors {
  template!: tf.Tensor4D;
  search!: tf.Tensor4D;
  boxes!: tf.Tensor2D;
  heatmaps!: tf.Tensor4D;

  constructor(private readonly net: TrackerNet) {}

  load(batch: PairBatch): void {
    this.dispose();
    const { templateSize: t, searchSize: s } = this.net.config;
    this.template = tf.tensor4d(batch.template, [batch.count, 3, t, t]);
    this.search = tf.tensor4d(batch.search, [batch.count, 3, s, s]);
    this.setTargets(batch.boxes);
  }

  /** The targets (x, y, w, h in the search crop) and their heatmaps, e.g. a teacher's boxes for unlabeled pairs. */
  setTargets(boxes: Float32Array): void {
    tf.dispose([this.boxes, this.heatmaps].filter(Boolean));
    const count = boxes.length / 4;
    const f = geometry(this.net.config).featureSize;
    this.boxes = tf.tensor2d(boxes, [count, 4]);
    this.heatmaps = tf.tensor4d(gaussianHeatmaps(boxes, count, f), [count, 1, f, f]);
  }

  dispose(): void {
    tf.dispose([this.template, this.search, this.boxes, this.heatmaps].filter(Boolean));
  }
}

/** Trains every parameter of `net` on ground truth (teacher training); `initFrom` names where its start weights came from. */
export function teacherObjective(net: TrackerNet, data: PairBatchSource, batchSize: number, initFrom?: string): Objective & { dispose(): void } {
  const tensors = new BatchTensors(net);
  return {
    trainable: new Map([...net.variables].filter(([, v]) => v.trainable)),
    state: net.variables,
    async prepare(step) {
      const batch = await data.batch(step, batchSize);
      if (batch.labelled?.includes(0)) {
        throw new CtEdgeError('ERR_DATASET', 'training a tracker from scratch needs labelled pairs; unlabeled footage can only compress a teacher (ct-edge compress)');
      }
      tensors.load(batch);
    },
    losses(): LossTerms {
      const maps = net.forward(tensors.template, tensors.search, { training: true });
      return groundTruthLoss(maps, tensors.boxes, tensors.heatmaps);
    },
    describe: () => ({ kind: 'teacher', net: net.config, batchSize, data: data.describe(), ...(initFrom ? { initFrom } : {}) }),
    dispose: () => tensors.dispose(),
  };
}
