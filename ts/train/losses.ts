/**
 * OSTrack's training losses (lib/train/actors/ostrack.py): CenterNet focal loss on a Gaussian
 * heatmap, and GIoU + L1 on the box decoded at the predicted peak. Weights: 2 GIoU, 5 L1, 1 focal.
 */
import * as tf from '@tensorflow/tfjs-core';
import './model/gradients.js';

export const LOSS_WEIGHTS = { giou: 2, l1: 5, focal: 1 } as const;

/** torch.round: halves go to the even neighbour. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * CornerNet's gaussian_radius as OSTrack/CenterNet ship it: the smallest of the three quadratic
 * roots, each written (b + sqrt(b^2 - 4ac)) / 2 (the published code's form, kept for parity).
 */
export function gaussianRadius(width: number, height: number, minOverlap = 0.7): number {
  const b1 = height + width;
  const c1 = (width * height * (1 - minOverlap)) / (1 + minOverlap);
  const r1 = (b1 + Math.sqrt(b1 ** 2 - 4 * c1)) / 2;
  const b2 = 2 * (height + width);
  const c2 = (1 - minOverlap) * width * height;
  const r2 = (b2 + Math.sqrt(b2 ** 2 - 16 * c2)) / 2;
  const a3 = 4 * minOverlap;
  const b3 = -2 * minOverlap * (height + width);
  const c3 = (minOverlap - 1) * width * height;
  const r3 = (b3 + Math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2;
  return Math.min(r1, r2, r3);
}

/**
 * Target heatmaps [N, 1, F, F] for boxes (x, y, w, h) normalised to the search crop: a Gaussian
 * peaked at 1 on the cell round(centre * F), radius from gaussianRadius(w*F, h*F), sigma = (2r+1)/6
 * (OSTrack's generate_heatmap / CenterNet's draw_gaussian).
 */
export function gaussianHeatmaps(boxesXywh: Float32Array, count: number, featureSize: number): Float32Array {
  const F = featureSize;
  const maps = new Float32Array(count * F * F);
  for (let n = 0; n < count; n++) {
    const [x, y, w, h] = boxesXywh.subarray(n * 4, n * 4 + 4);
    const cx = roundHalfEven((x + w / 2) * F);
    const cy = roundHalfEven((y + h / 2) * F);
    const radius = Math.max(0, Math.trunc(gaussianRadius(w * F, h * F)));
    const sigma = (2 * radius + 1) / 6;
    for (let gy = -radius; gy <= radius; gy++) {
      for (let gx = -radius; gx <= radius; gx++) {
        const px = cx + gx;
        const py = cy + gy;
        if (px < 0 || py < 0 || px >= F || py >= F) continue;
        let g = Math.exp(-(gx * gx + gy * gy) / (2 * sigma * sigma));
        if (g < Number.EPSILON) g = 0; // CenterNet's gaussian2D zeroes values below eps * max
        const i = n * F * F + py * F + px;
        maps[i] = Math.max(maps[i], g);
      }
    }
  }
  return maps;
}

/**
 * CenterNet focal loss (alpha 2, beta 4), summed over the batch and divided by the number of
 * positive cells (those exactly 1), as OSTrack's FocalLoss.
 */
export function focalLoss(pred: tf.Tensor, target: tf.Tensor, alpha = 2, beta = 4): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.maximum(pred, 1e-12);
    const positive = tf.cast(tf.equal(target, 1), 'float32');
    const negative = tf.cast(tf.less(target, 1), 'float32');
    const negativeWeights = tf.pow(tf.sub(1, target), beta);
    const positiveLoss = tf.sum(tf.mul(tf.mul(tf.log(p), tf.pow(tf.sub(1, p), alpha)), positive));
    const negativeLoss = tf.sum(tf.mul(tf.mul(tf.mul(tf.log(tf.sub(1, p)), tf.pow(p, alpha)), negativeWeights), negative));
    const numPositive = tf.sum(positive);
    // no positive cell (target centre off the map): the negative term alone
    return tf.where(tf.greater(numPositive, 0), tf.neg(tf.div(tf.add(positiveLoss, negativeLoss), tf.maximum(numPositive, 1))), tf.neg(negativeLoss)) as tf.Scalar;
  });
}

/** (cx, cy, w, h) -> (x1, y1, x2, y2), both [N, 4]. */
export function cxcywhToXyxy(boxes: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [cx, cy, w, h] = tf.split(boxes, 4, 1);
    return tf.concat([tf.sub(cx, tf.div(w, 2)), tf.sub(cy, tf.div(h, 2)), tf.add(cx, tf.div(w, 2)), tf.add(cy, tf.div(h, 2))], 1) as tf.Tensor2D;
  });
}

/** (x, y, w, h) -> (x1, y1, x2, y2), both [N, 4]. */
export function xywhToXyxy(boxes: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [x, y, w, h] = tf.split(boxes, 4, 1);
    return tf.concat([x, y, tf.add(x, w), tf.add(y, h)], 1) as tf.Tensor2D;
  });
}

/** Mean (1 - GIoU) of paired xyxy boxes [N, 4] (DETR's generalized_box_iou on the diagonal). */
export function giouLoss(pred: tf.Tensor2D, target: tf.Tensor2D): { loss: tf.Scalar; iou: tf.Tensor1D } {
  return tf.tidy(() => {
    const [px1, py1, px2, py2] = tf.split(pred, 4, 1);
    const [tx1, ty1, tx2, ty2] = tf.split(target, 4, 1);
    const area = (x1: tf.Tensor, y1: tf.Tensor, x2: tf.Tensor, y2: tf.Tensor) => tf.mul(tf.sub(x2, x1), tf.sub(y2, y1));
    const interW = tf.relu(tf.sub(tf.minimum(px2, tx2), tf.maximum(px1, tx1)));
    const interH = tf.relu(tf.sub(tf.minimum(py2, ty2), tf.maximum(py1, ty1)));
    const inter = tf.mul(interW, interH);
    const union = tf.sub(tf.add(area(px1, py1, px2, py2), area(tx1, ty1, tx2, ty2)), inter);
    const iou = tf.div(inter, union);
    const hull = area(tf.minimum(px1, tx1), tf.minimum(py1, ty1), tf.maximum(px2, tx2), tf.maximum(py2, ty2));
    const giou = tf.sub(iou, tf.div(tf.sub(hull, union), hull));
    return { loss: tf.mean(tf.sub(1, giou)) as tf.Scalar, iou: tf.reshape(iou, [-1]) as tf.Tensor1D };
  });
}

/** Mean absolute difference over all coordinates (torch's F.l1_loss). */
export function l1Loss(pred: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(pred, target))) as tf.Scalar);
}

/**
 * Boxes (cx, cy, w, h) in [0, 1] decoded at the argmax of each score map (no window: training
 * decodes as OSTrack's cal_bbox). Gradients flow into size and offset at the peak, not into the
 * score map. score [N,1,F,F], size [N,2,F,F], offset [N,2,F,F] -> [N, 4]. `peakOf` picks the cell
 * from another score map (a teacher's) instead.
 */
export function decodeAtPeak(score: tf.Tensor4D, size: tf.Tensor4D, offset: tf.Tensor4D, peakOf: tf.Tensor4D = score): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, , f] = score.shape;
    const idx = tf.argMax(tf.reshape(peakOf, [n, f * f]), 1); // [N]
    const pick = (map: tf.Tensor4D) => {
      const flat = tf.reshape(map, [n, 2, f * f]);
      const oneHot = tf.reshape(tf.oneHot(idx, f * f), [n, 1, f * f]);
      return tf.sum(tf.mul(flat, oneHot), 2); // [N, 2]
    };
    const idxF = tf.cast(idx, 'float32');
    const ix = tf.reshape(tf.mod(idxF, f), [n, 1]);
    const iy = tf.reshape(tf.floorDiv(idxF, f), [n, 1]);
    const [dx, dy] = tf.split(pick(offset), 2, 1);
    const wh = pick(size);
    return tf.concat([tf.div(tf.add(ix, dx), f), tf.div(tf.add(iy, dy), f), wh], 1) as tf.Tensor2D;
  });
}

export interface BoxLossTerms {
  giou: tf.Scalar;
  l1: tf.Scalar;
  iou: tf.Tensor1D;
}

/** GIoU and L1 between predicted (cx,cy,w,h) boxes and target (x,y,w,h) boxes, clamped to [0,1]. */
export function boxLosses(predCxcywh: tf.Tensor2D, targetXywh: tf.Tensor2D): BoxLossTerms {
  return tf.tidy(() => {
    const pred = cxcywhToXyxy(predCxcywh);
    const target = tf.clipByValue(xywhToXyxy(targetXywh), 0, 1) as tf.Tensor2D;
    const { loss, iou } = giouLoss(pred, target);
    return { giou: loss, l1: l1Loss(pred, target), iou };
  });
}

/** The three maps of a centre head (score after the clamped sigmoid, size, raw offset). */
interface Maps {
  score: tf.Tensor4D;
  size: tf.Tensor4D;
  offset: tf.Tensor4D;
}

/** Weights of the dense distillation terms (see denseDistillation). */
export const DENSE_WEIGHTS = { score: 1, size: 5, offset: 1, giou: LOSS_WEIGHTS.giou, l1: LOSS_WEIGHTS.l1 } as const;

/**
 * Dense response distillation: the student learns the teacher's whole output, not one box.
 * - score: binary cross-entropy against the teacher's probability at every cell, less the
 *   teacher's own entropy (so 0 at a perfect match), summed over the map, averaged over the batch;
 * - size and offset: L1 at every cell, weighted by the teacher's score (mass-normalised per pair);
 * - box: GIoU and L1 of the student's box decoded at the teacher's peak against the teacher's box.
 * The teacher's maps are constants (computed outside the gradient tape).
 */
export function denseDistillation(student: Maps, teacher: Maps): { total: tf.Scalar; score: tf.Scalar; size: tf.Scalar; offset: tf.Scalar; box: tf.Scalar } {
  return tf.tidy(() => {
    const n = student.score.shape[0];
    const t = teacher.score;
    const bce = (p: tf.Tensor) => tf.neg(tf.add(tf.mul(t, tf.log(p)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, p)))));
    const score = tf.div(tf.sum(tf.sub(bce(student.score), bce(t))), n) as tf.Scalar;
    const mass = tf.sum(t, [1, 2, 3], true); // [N,1,1,1]
    const weighted = (s: tf.Tensor4D, tt: tf.Tensor4D) => tf.div(tf.sum(tf.div(tf.mul(tf.abs(tf.sub(s, tt)), t), mass)), n * 2) as tf.Scalar;
    const size = weighted(student.size, teacher.size);
    const offset = weighted(student.offset, teacher.offset);
    const teacherBox = decodeAtPeak(teacher.score, teacher.size, teacher.offset);
    const [cx, cy, w, h] = tf.split(teacherBox, 4, 1);
    const teacherXywh = tf.concat([tf.sub(cx, tf.div(w, 2)), tf.sub(cy, tf.div(h, 2)), w, h], 1) as tf.Tensor2D;
    const b = boxLosses(decodeAtPeak(student.score, student.size, student.offset, teacher.score), teacherXywh);
    const box = tf.add(tf.mul(b.giou, DENSE_WEIGHTS.giou), tf.mul(b.l1, DENSE_WEIGHTS.l1)) as tf.Scalar;
    const total = tf.addN([tf.mul(score, DENSE_WEIGHTS.score), tf.mul(size, DENSE_WEIGHTS.size), tf.mul(offset, DENSE_WEIGHTS.offset), box]) as tf.Scalar;
    return { total, score, size, offset, box };
  });
}
