/**
 * The network's building blocks as tfjs functions over PyTorch-layout weights. The wasm backend
 * has no Conv2DBackpropFilter kernel, so the 3x3 convolutions carry their own gradient (conv3x3)
 * and the patch embedding is a matmul over patches; this way every backend can train them.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * a b^T for a [m, k] and b [n, k], forward and gradient both made of matmuls with no transpose
 * flag. Why: the wasm backend hands a 2-D matmul to XNNPACK only when neither side is transposed
 * and otherwise runs a loop several times slower, and tfjs's own matMul gradient always sets a
 * flag. Materialised transposes are cheap copies next to that (tools/bench-matmul.ts measures
 * each layer of a training step both ways).
 */
export const matMulTransposeB = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, tf.transpose(b)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [a, b] = saved as tf.Tensor2D[];
      return tf.tidy(() => [tf.matMul(dy as tf.Tensor2D, b), tf.matMul(tf.transpose(dy as tf.Tensor2D), a)]);
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** y = x W^T + b over the last axis, W in PyTorch's [out, in] layout. */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor {
  const [out, inp] = weight.shape;
  const lead = x.shape.slice(0, -1);
  const y = tf.add(matMulTransposeB(tf.reshape(x, [-1, inp]), weight), bias);
  return tf.reshape(y, [...lead, out]);
}

/**
 * Scaled dot-product attention, softmax(q k^T / sqrt(d)) v, over [B, heads, N, d] tensors. The
 * wasm backend runs batched matmuls in a loop outside XNNPACK; there each (pair, head) goes through
 * 2-D matmulTransposeB instead, about 2x faster forward + backward (docs/BENCHMARKS.md, "Training
 * throughput"). Backends with a fast batched matmul (tfjs-node, tfjs-node-gpu) keep one call.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, perMatrix = tf.getBackend() === 'wasm'): tf.Tensor4D {
  const [b, heads, n, d] = q.shape; // k and v may hold other tokens than q (asymmetric attention)
  const scale = 1 / Math.sqrt(d);
  if (!perMatrix) return tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale)), v);
  const matrices = (t: tf.Tensor4D) => tf.unstack(tf.reshape(t, [b * heads, t.shape[2], d])) as tf.Tensor2D[];
  const [qs, ks, vs] = [matrices(q), matrices(k), matrices(v)];
  const outputs = qs.map((qi, i) => matMulTransposeB(tf.softmax(tf.mul(matMulTransposeB(qi, ks[i]), scale)) as tf.Tensor2D, tf.transpose(vs[i])));
  return tf.reshape(tf.stack(outputs), [b, heads, n, d]);
}

/** LayerNorm over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), weight), bias);
}

/** GELU in its exact erf form (PyTorch's nn.GELU default, used by timm's ViT). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/**
 * Patch embedding: an NCHW image [B, 3, H, W] cut into p x p patches, each mapped by the conv
 * weight [dim, 3, p, p] (a conv with kernel = stride = p), to tokens [B, (H/p)*(W/p), dim] in
 * row-major patch order. Patch vectors are ordered (channel, y, x) to match the weight's layout.
 * Every reshape/transpose stays at rank 4 or below, which all backends support.
 */
export function patchEmbed(image: tf.Tensor4D, weight: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor3D {
  const [b, c, h, w] = image.shape;
  const p = weight.shape[2];
  const [hp, wp] = [h / p, w / p];
  const rows = tf.reshape(image, [b * c * hp, p, wp, p]); // (b,c,py) ky (px) kx
  const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [b, c, hp * wp, p * p]); // (b,c) n (ky,kx)
  const vectors = tf.reshape(tf.transpose(patches, [0, 2, 1, 3]), [b, hp * wp, c * p * p]); // b n (c,ky,kx)
  return linear(vectors, tf.reshape(weight, [weight.shape[0], c * p * p]), bias) as tf.Tensor3D;
}

/**
 * The filter gradient of a 3x3 convolution (padding 1) on NHWC `x` with output gradient `dy`, as
 * one forward convolution: the wasm backend has no Conv2DBackpropFilter. The padded input, batch
 * moved to channels, correlated with `dy` dilated by the stride gives every tap's sum over batch
 * and positions at once; on wasm that keeps it on XNNPACK. HWIO, like the filter.
 */
function filterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, stride: 1 | 2): tf.Tensor4D {
  const c = x.shape[3];
  const input = tf.transpose(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), [3, 1, 2, 0]) as tf.Tensor4D; // [c, h+2, w+2, b]
  const kernel = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [ho, wo, b, out]
  const taps = tf.conv2d(input, kernel, 1, 'valid', 'NHWC', stride); // [c, >=3, >=3, out]
  return tf.transpose(tf.slice(taps, [0, 0, 0, 0], [c, 3, 3, dy.shape[3]]), [1, 2, 0, 3]);
}

// Gradient functions run outside the per-op tidy, so they tidy their own intermediates, which would
// otherwise live until the whole backward pass ends.

/** A 3x3 convolution on tf.conv2d with both gradients (input by conv2dTranspose). */
const CONV3X3 = ([1, 2] as const).map((stride) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, filter, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([x, filter]);
    return {
      value: tf.conv2d(x, filter, stride, 1),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [x, filter] = saved as tf.Tensor4D[];
        return tf.tidy(() => [tf.conv2dTranspose(dy as tf.Tensor4D, filter, x.shape, stride, 1), filterGradient(x, dy as tf.Tensor4D, stride)]);
      },
    };
  }),
) as ((x: tf.Tensor4D, filter: tf.Tensor4D) => tf.Tensor4D)[];

/** The same on an image, which nothing trains: only the filter is an input, so no input gradient is made. */
function conv3x3OnImage(image: tf.Tensor4D, filter: tf.Tensor4D, stride: 1 | 2): tf.Tensor4D {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [f, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    save([image]); // kept for the backward pass like any saved tensor
    return {
      value: tf.conv2d(image, f, stride, 1),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => tf.tidy(() => [filterGradient(saved as tf.Tensor4D, dy as tf.Tensor4D, stride)]),
    };
  })(filter) as tf.Tensor4D;
}

/**
 * 3x3 convolution, zero padding 1 (PyTorch's), stride 1 or 2, NHWC input, PyTorch weight
 * [out, in, 3, 3]. `inputGradient: false` (for an image) skips the input gradient, the costliest
 * part of the backward pass on wasm. On tf.conv2d with its own gradients, a VitTrack compression
 * step took 0.96 s against 2.8 s with the matmuls over sliced patches this replaced
 * (docs/BENCHMARKS.md, "Training throughput").
 */
export function conv3x3(x: tf.Tensor4D, weight: tf.Tensor4D, bias: tf.Tensor1D, stride: 1 | 2 = 1, inputGradient = true): tf.Tensor4D {
  const filter = tf.transpose(weight, [2, 3, 1, 0]) as tf.Tensor4D;
  return tf.add(inputGradient ? CONV3X3[stride - 1](x, filter) : conv3x3OnImage(x, filter, stride), bias);
}

/** HardSwish, x * relu6(x + 3) / 6 (PyTorch's nn.Hardswish, ONNX HardSwish). */
export function hardSwish(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
}

/**
 * A convolutional patch embedding (VitTrack's): NCHW images through 3x3 stride-2 convolutions with
 * HardSwish between them, to tokens [B, (H/p)*(W/p), dim] in row-major order.
 */
export function convStem(image: tf.Tensor4D, layers: readonly { weight: tf.Tensor4D; bias: tf.Tensor1D }[]): tf.Tensor3D {
  let y = tf.transpose(image, [0, 2, 3, 1]) as tf.Tensor4D;
  layers.forEach(({ weight, bias }, i) => {
    y = conv3x3(y, weight, bias, 2, i > 0); // the image itself needs no gradient
    if (i < layers.length - 1) y = hardSwish(y) as tf.Tensor4D;
  });
  const [b, h, w, d] = y.shape;
  return tf.reshape(y, [b, h * w, d]);
}

/** 1x1 convolution on NHWC input, PyTorch weight [out, in, 1, 1]. */
export function conv1x1(x: tf.Tensor4D, weight: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  return linear(x, tf.reshape(weight, weight.shape.slice(0, 2) as [number, number]), bias) as tf.Tensor4D;
}

export interface BatchNormState {
  weight: tf.Tensor1D;
  bias: tf.Tensor1D;
  runningMean: tf.Variable<tf.Rank.R1>;
  runningVar: tf.Variable<tf.Rank.R1>;
}

/** PyTorch BatchNorm2d defaults. */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/**
 * BatchNorm over the channels of NHWC input. Training normalises with the batch statistics and
 * moves the running statistics towards them (PyTorch: momentum 0.1, unbiased variance for the
 * running estimate); inference uses the running statistics.
 */
export function batchNorm(x: tf.Tensor4D, bn: BatchNormState, training: boolean): tf.Tensor4D {
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  if (training) {
    const moments = tf.moments(x, [0, 1, 2]);
    mean = moments.mean;
    variance = moments.variance;
    const n = x.size / x.shape[3];
    // The loss does not depend on these updates, so a gradient tape around the forward ignores them.
    tf.tidy(() => {
      const unbiased = tf.mul(variance, n / Math.max(n - 1, 1));
      bn.runningMean.assign(tf.add(tf.mul(bn.runningMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
      bn.runningVar.assign(tf.add(tf.mul(bn.runningVar, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
    });
  } else {
    mean = bn.runningMean;
    variance = bn.runningVar;
  }
  const scale = tf.mul(bn.weight, tf.rsqrt(tf.add(variance, BN_EPS)));
  return tf.add(tf.mul(tf.sub(x, mean), scale), bn.bias);
}
