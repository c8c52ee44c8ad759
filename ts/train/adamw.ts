/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter; torch.optim.AdamW's update), which
 * TensorFlow.js lacks, plus global-norm gradient clipping (torch's clip_grad_norm_).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  /** Which parameters (by name and shape) weight decay applies to; default all. */
  decays?: (name: string, shape: readonly number[]) => boolean;
}

export class AdamW {
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly decays: (name: string, shape: readonly number[]) => boolean;
  /** Updates taken so far (bias correction uses it); part of the state saved for resume. */
  step = 0;
  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();

  constructor(options: AdamWOptions) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 1e-4;
    this.decays = options.decays ?? (() => true);
  }

  private momentsOf(name: string, like: tf.Tensor) {
    let s = this.moments.get(name);
    if (!s) {
      s = { m: tf.variable(tf.zerosLike(like), false), v: tf.variable(tf.zerosLike(like), false) };
      this.moments.set(name, s);
    }
    return s;
  }

  /** One update of `params` (by name) with `grads` (same names). */
  apply(params: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>): void {
    this.step += 1;
    const { beta1, beta2, epsilon, weightDecay, learningRate: lr } = this;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      for (const [name, g] of Object.entries(grads)) {
        const p = params[name];
        const { m, v } = this.momentsOf(name, p);
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), epsilon));
        const decay = this.decays(name, p.shape) ? weightDecay : 0;
        p.assign(tf.sub(tf.mul(p, 1 - lr * decay), tf.mul(update, lr)));
      }
    });
  }

  /** Moments by name (`<param>.exp_avg`, `<param>.exp_avg_sq`) for a checkpoint. */
  stateTensors(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, { m, v }] of this.moments) {
      out[`${name}.exp_avg`] = m;
      out[`${name}.exp_avg_sq`] = v;
    }
    return out;
  }

  /** Restores moments saved by stateTensors() and the step count. */
  loadState(step: number, tensors: Record<string, tf.Tensor>): void {
    this.dispose();
    this.step = step;
    for (const [key, t] of Object.entries(tensors)) {
      const match = /^(.*)\.(exp_avg|exp_avg_sq)$/.exec(key);
      if (!match) continue;
      const s = this.moments.get(match[1]) ?? { m: tf.variable(tf.zerosLike(t), false), v: tf.variable(tf.zerosLike(t), false) };
      (match[2] === 'exp_avg' ? s.m : s.v).assign(t);
      this.moments.set(match[1], s);
    }
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }
}

/**
 * Scales `grads` in place so that their global L2 norm is at most `maxNorm`; returns the norm
 * before clipping (torch.nn.utils.clip_grad_norm_ with its 1e-6 guard).
 */
export function clipGradNorm(grads: Record<string, tf.Tensor>, maxNorm: number): number {
  const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]);
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    for (const [name, g] of Object.entries(grads)) {
      grads[name] = tf.mul(g, scale);
      g.dispose();
    }
  }
  return norm;
}
