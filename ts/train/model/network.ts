/**
 * The one-stream ViT tracker (OSTrack family) in TensorFlow.js.
 *
 * The forward pass is split so that compression can mix networks: `embed` (patch embedding plus
 * position embeddings, template tokens first), then any sequence of blocks, from this network or
 * another of the same width (`runBlocks`), then `head` (final norm, the search tokens as a map,
 * the centre head). `forward` chains the three over this network's own blocks.
 *
 * Tensors are NCHW at the edges, as in the ONNX contract: images [B, 3, H, W] in, maps
 * [B, C, F, F] out. All methods return new tensors; wrap calls in tf.tidy as usual.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CtEdgeError } from '../../contract/errors.js';
import { geometry, normEps, type TrackerNetConfig } from './config.js';
import { attention, batchNorm, conv1x1, conv3x3, convStem, gelu, layerNorm, linear, patchEmbed, type BatchNormState } from './layers.js';
import { HEAD_TOWERS, paramSpecs, type HeadTower, type ParamSpec, type WeightMap } from './params.js';
import { checkWeights } from './weights.js';
import './gradients.js';


/** Score map after the clamped sigmoid [B,1,F,F], size map (same) [B,2,F,F], raw offsets [B,2,F,F]. */
export interface HeadMaps {
  score: tf.Tensor4D;
  size: tf.Tensor4D;
  offset: tf.Tensor4D;
}

export interface ForwardResult extends HeadMaps {
  /** Tokens [B, N, dim] after each block, before the final norm (what feature mimicking compares). */
  features: tf.Tensor3D[];
}

export interface HeadOptions {
  /** BatchNorm uses batch statistics and updates its running statistics (default false). */
  training?: boolean;
}

/** Sigmoid clamped as OSTrack's head does, so that focal loss never sees 0 or 1. */
const SCORE_CLAMP = 1e-4;

/** One pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)). */
export class VitBlock {
  constructor(
    /** Index in the network it belongs to (its parameters are `blocks.{index}.*`). */
    readonly index: number,
    readonly heads: number,
    /** Token width it reads and writes. */
    readonly dim: number,
    /** LayerNorm epsilon. */
    readonly eps: number,
    private readonly p: (name: string) => tf.Variable,
    /**
     * Set for asymmetric attention: the first `templateTokens` tokens attend only to each other,
     * the rest to all (TrackerNetConfig.attention).
     */
    readonly templateTokens?: number,
  ) {}

  private w(name: string): tf.Tensor2D {
    return this.p(`blocks.${this.index}.${name}`) as tf.Tensor as tf.Tensor2D;
  }

  private v1(name: string): tf.Tensor1D {
    return this.p(`blocks.${this.index}.${name}`) as tf.Tensor as tf.Tensor1D;
  }

  /** q, k and v of tokens [B, N, dim] as [B, heads, N, head width] each. */
  private qkv(x: tf.Tensor3D): tf.Tensor4D[] {
    const [b, n, d] = x.shape;
    const h = layerNorm(x, this.v1('norm1.weight'), this.v1('norm1.bias'), this.eps);
    const qkv = linear(h, this.w('attn.qkv.weight'), this.v1('attn.qkv.bias'));
    return tf.split(qkv, 3, 2).map((t) => tf.transpose(tf.reshape(t, [b, n, this.heads, d / this.heads]), [0, 2, 1, 3]) as tf.Tensor4D);
  }

  /** Attention output of queries q against k, v, back to tokens [B, Nq, dim]. */
  private mix(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor3D {
    const [b, , n] = q.shape;
    return tf.reshape(tf.transpose(attention(q, k, v), [0, 2, 1, 3]), [b, n, this.dim]) as tf.Tensor3D;
  }

  /** The tokens after attention and its residual: x + proj(attention(norm1(x))). */
  private attended(x: tf.Tensor3D): tf.Tensor3D {
    const [q, k, v] = this.qkv(x);
    const nz = this.templateTokens;
    let mixed: tf.Tensor3D;
    if (nz === undefined) {
      mixed = this.mix(q, k, v);
    } else {
      // Asymmetric: the template's rows attend to the template's keys only, the search rows to all.
      const [b, heads, n, hd] = q.shape;
      const part = (t: tf.Tensor4D, from: number, size: number) => tf.slice(t, [0, 0, from, 0], [b, heads, size, hd]) as tf.Tensor4D;
      mixed = tf.concat([this.mix(part(q, 0, nz), part(k, 0, nz), part(v, 0, nz)), this.mix(part(q, nz, n - nz), k, v)], 1) as tf.Tensor3D;
    }
    return tf.add(x, linear(mixed, this.w('attn.proj.weight'), this.v1('attn.proj.bias'))) as tf.Tensor3D;
  }

  /** The MLP's hidden activations [B, N, hidden] (after GELU) for tokens x entering the block. */
  mlpHidden(x: tf.Tensor3D): tf.Tensor3D {
    return this.hidden(this.attended(x));
  }

  private hidden(x1: tf.Tensor3D): tf.Tensor3D {
    const h2 = layerNorm(x1, this.v1('norm2.weight'), this.v1('norm2.bias'), this.eps);
    return gelu(linear(h2, this.w('mlp.fc1.weight'), this.v1('mlp.fc1.bias'))) as tf.Tensor3D;
  }

  apply(x: tf.Tensor3D): tf.Tensor3D {
    const x1 = this.attended(x);
    return tf.add(x1, linear(this.hidden(x1), this.w('mlp.fc2.weight'), this.v1('mlp.fc2.bias'))) as tf.Tensor3D;
  }
}

function initialValue(spec: ParamSpec, seed: number): tf.Tensor {
  switch (spec.init) {
    case 'zeros':
      return tf.zeros(spec.shape);
    case 'ones':
      return tf.ones(spec.shape);
    case 'trunc-normal': // timm: trunc_normal_(std=0.02)
      return tf.truncatedNormal(spec.shape, 0, 0.02, 'float32', seed);
    case 'xavier': {
      const receptive = spec.shape.slice(2).reduce((a, b) => a * b, 1);
      const limit = Math.sqrt(6 / ((spec.shape[0] + spec.shape[1]) * receptive));
      return tf.randomUniform(spec.shape, -limit, limit, 'float32', seed);
    }
  }
}

export class TrackerNet {
  readonly config: TrackerNetConfig;
  readonly blocks: readonly VitBlock[];
  private readonly vars: Map<string, tf.Variable>;
  private disposed = false;

  private constructor(config: TrackerNetConfig, values: (spec: ParamSpec, index: number) => tf.Tensor) {
    this.config = config;
    this.vars = new Map();
    paramSpecs(config).forEach((spec, i) => {
      const value = values(spec, i);
      // tfjs variable names are global, and teacher and student share OSTrack names, so the
      // variables keep tfjs's generated names and this map holds the OSTrack ones.
      this.vars.set(spec.name, tf.variable(value, spec.trainable));
      value.dispose();
    });
    const p = (name: string) => this.variable(name);
    const asymmetric = config.attention === 'asymmetric' ? geometry(config).templateTokens : undefined;
    this.blocks = Array.from({ length: config.depth }, (_, i) => new VitBlock(i, config.heads, config.dim, normEps(config), p, asymmetric));
  }

  /** A freshly initialised network (timm / OSTrack initialisation), reproducible from `seed`. */
  static random(config: TrackerNetConfig, seed = 0): TrackerNet {
    return new TrackerNet(config, (spec, i) => initialValue(spec, seed * 100003 + i));
  }

  /** A network holding `weights` (checked against `config`; `source` names them in errors). */
  static fromWeights(config: TrackerNetConfig, weights: WeightMap, source: string): TrackerNet {
    const checked = checkWeights(config, weights, source);
    return new TrackerNet(config, (spec) => {
      const w = checked.get(spec.name)!;
      return tf.tensor(w.data, w.shape, 'float32');
    });
  }

  /** A parameter by its OSTrack name, e.g. `blocks.3.attn.qkv.weight`. */
  variable(name: string): tf.Variable {
    if (this.disposed) throw new CtEdgeError('ERR_DISPOSED', 'this TrackerNet was disposed');
    const v = this.vars.get(name);
    if (!v) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `the network has no parameter '${name}'`);
    return v;
  }

  /** Every parameter and BatchNorm statistic by OSTrack name, in checkpoint order. */
  get variables(): ReadonlyMap<string, tf.Variable> {
    return this.vars;
  }

  /** Parameters that gradients train (everything except BatchNorm running statistics). */
  trainableVariables(): tf.Variable[] {
    return [...this.vars.values()].filter((v) => v.trainable);
  }

  /** Every tensor's current value as plain arrays (for checkpoints and ONNX export). */
  weights(): WeightMap {
    const out: WeightMap = new Map();
    for (const [name, v] of this.vars) out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
    return out;
  }

  /** Overwrites every parameter with `weights` (checked first, so a bad map changes nothing). */
  loadWeights(weights: WeightMap, source: string): void {
    const checked = checkWeights(this.config, weights, source);
    for (const [name, v] of this.vars) {
      const w = checked.get(name)!;
      tf.tidy(() => v.assign(tf.tensor(w.data, w.shape, 'float32')));
    }
  }

  /** Template [B,3,Ht,Wt] and search [B,3,Hs,Ws] images to tokens [B, Nz + Nx, dim], template first. */
  embed(template: tf.Tensor4D, search: tf.Tensor4D): tf.Tensor3D {
    const c = this.config;
    for (const [what, t, side] of [['template', template, c.templateSize], ['search', search, c.searchSize]] as const) {
      if (t.rank !== 4 || t.shape[1] !== 3 || t.shape[2] !== side || t.shape[3] !== side) {
        throw new CtEdgeError('ERR_INVALID_ARGUMENT', `${what} must be [B,3,${side},${side}], got [${t.shape.join(',')}]`);
      }
    }
    const embed = (image: tf.Tensor4D): tf.Tensor3D => {
      const w4 = (name: string) => this.variable(name) as tf.Tensor as tf.Tensor4D;
      const w1 = (name: string) => this.variable(name) as tf.Tensor as tf.Tensor1D;
      if (!c.stem) return patchEmbed(image, w4('patch_embed.proj.weight'), w1('patch_embed.proj.bias'));
      return convStem(image, c.stem.map((_, i) => ({ weight: w4(`patch_embed.stem.${i}.weight`), bias: w1(`patch_embed.stem.${i}.bias`) })));
    };
    const z = tf.add(embed(template), this.variable('pos_embed_z'));
    const x = tf.add(embed(search), this.variable('pos_embed_x'));
    return tf.concat([z, x], 1) as tf.Tensor3D;
  }

  /** Runs `blocks` in order (default: this network's); returns the last tokens and each block's output. */
  runBlocks(tokens: tf.Tensor3D, blocks: readonly VitBlock[] = this.blocks): { tokens: tf.Tensor3D; features: tf.Tensor3D[] } {
    const features: tf.Tensor3D[] = [];
    let x = tokens;
    for (const block of blocks) {
      if (x.shape[2] !== block.dim) {
        throw new CtEdgeError('ERR_INVALID_ARGUMENT', `block ${block.index} reads tokens of width ${block.dim}, got ${x.shape[2]}`);
      }
      x = block.apply(x);
      features.push(x);
    }
    return { tokens: x, features };
  }

  /** Final norm, then the centre head on the search tokens laid out as an F x F map. */
  head(tokens: tf.Tensor3D, options: HeadOptions = {}): HeadMaps {
    const v = (name: string) => this.variable(name) as tf.Tensor;
    const towers = this.towerActivations(tokens, options);
    const out = (name: HeadTower): tf.Tensor4D => {
      const last = towers[name][towers[name].length - 1];
      const y = conv1x1(last, v(`box_head.conv5_${name}.weight`) as tf.Tensor4D, v(`box_head.conv5_${name}.bias`) as tf.Tensor1D);
      return tf.transpose(y, [0, 3, 1, 2]); // NHWC -> NCHW
    };
    const clamped = (t: tf.Tensor4D) => tf.clipByValue(tf.sigmoid(t), SCORE_CLAMP, 1 - SCORE_CLAMP) as tf.Tensor4D;
    const [ctr, size, offset] = HEAD_TOWERS.map(out);
    return { score: clamped(ctr), size: clamped(size), offset };
  }

  /** Each head tower's activations after its 3x3 convs 1 to 4 (NHWC [B, F, F, channels]). */
  towerActivations(tokens: tf.Tensor3D, options: HeadOptions = {}): Record<HeadTower, tf.Tensor4D[]> {
    const training = options.training ?? false;
    const { templateTokens, searchTokens, featureSize: f } = geometry(this.config);
    const v = (name: string) => this.variable(name) as tf.Tensor;
    const normed = layerNorm(tokens, v('norm.weight') as tf.Tensor1D, v('norm.bias') as tf.Tensor1D, normEps(this.config));
    const b = tokens.shape[0];
    // Token t of the search region is map cell (t / F, t % F): row-major, so NHWC is a plain reshape.
    const map = tf.reshape(tf.slice(normed, [0, templateTokens, 0], [b, searchTokens, this.config.dim]), [b, f, f, this.config.dim]) as tf.Tensor4D;
    const tower = (name: HeadTower): tf.Tensor4D[] => {
      const layers: tf.Tensor4D[] = [];
      let y = map;
      for (let k = 1; k <= 4; k++) {
        const p = `box_head.conv${k}_${name}.`;
        const conv = conv3x3(y, v(`${p}0.weight`) as tf.Tensor4D, v(`${p}0.bias`) as tf.Tensor1D);
        if (this.config.headNorm === 'none') {
          y = tf.relu(conv);
        } else {
          const bn: BatchNormState = {
            weight: v(`${p}1.weight`) as tf.Tensor1D,
            bias: v(`${p}1.bias`) as tf.Tensor1D,
            runningMean: this.variable(`${p}1.running_mean`) as tf.Variable<tf.Rank.R1>,
            runningVar: this.variable(`${p}1.running_var`) as tf.Variable<tf.Rank.R1>,
          };
          y = tf.relu(batchNorm(conv, bn, training));
        }
        layers.push(y);
      }
      return layers;
    };
    return { ctr: tower('ctr'), size: tower('size'), offset: tower('offset') };
  }

  forward(template: tf.Tensor4D, search: tf.Tensor4D, options: HeadOptions = {}): ForwardResult {
    const { tokens, features } = this.runBlocks(this.embed(template, search));
    return { ...this.head(tokens, options), features };
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.disposed = true;
  }
}
