/**
 * The network's parameters by OSTrack's names (timm's ViT under the backbone, OSTrack's
 * CenterPredictor as `box_head`), in PyTorch layouts: Linear [out, in], Conv [out, in, kh, kw].
 * One list serves initialisation, checkpoint loading and ONNX export, so they cannot disagree.
 */
import { geometry, type TrackerNetConfig } from './config.js';

/** How a parameter starts in a fresh network (timm / OSTrack conventions). */
export type InitKind = 'trunc-normal' | 'xavier' | 'zeros' | 'ones';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: InitKind;
  /** BatchNorm running statistics are state, not trained by gradients. */
  trainable: boolean;
}

/** Weights as plain arrays, e.g. read from a checkpoint or copied out of a network. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}
export type WeightMap = Map<string, WeightTensor>;

export const HEAD_TOWERS = ['ctr', 'size', 'offset'] as const;
export type HeadTower = (typeof HEAD_TOWERS)[number];
/** Output channels of each tower's final 1x1 conv. */
export const TOWER_OUTPUTS: Record<HeadTower, number> = { ctr: 1, size: 2, offset: 2 };

/** Conv widths of a tower: dim -> c -> c/2 -> c/4 -> c/8 (OSTrack: 768 -> 256 -> 128 -> 64 -> 32). */
export function towerChannels(c: TrackerNetConfig): number[] {
  const h = c.headChannels;
  return [c.dim, h, h / 2, h / 4, h / 8];
}

export function blockParamSpecs(c: TrackerNetConfig, i: number): ParamSpec[] {
  const d = c.dim;
  const hidden = d * c.mlpRatio;
  const p = `blocks.${i}.`;
  const t = (name: string, shape: number[], init: InitKind): ParamSpec => ({ name: p + name, shape, init, trainable: true });
  return [
    t('norm1.weight', [d], 'ones'),
    t('norm1.bias', [d], 'zeros'),
    t('attn.qkv.weight', [3 * d, d], 'trunc-normal'),
    t('attn.qkv.bias', [3 * d], 'zeros'),
    t('attn.proj.weight', [d, d], 'trunc-normal'),
    t('attn.proj.bias', [d], 'zeros'),
    t('norm2.weight', [d], 'ones'),
    t('norm2.bias', [d], 'zeros'),
    t('mlp.fc1.weight', [hidden, d], 'trunc-normal'),
    t('mlp.fc1.bias', [hidden], 'zeros'),
    t('mlp.fc2.weight', [d, hidden], 'trunc-normal'),
    t('mlp.fc2.bias', [d], 'zeros'),
  ];
}

export function paramSpecs(c: TrackerNetConfig): ParamSpec[] {
  const { templateTokens, searchTokens } = geometry(c);
  const t = (name: string, shape: number[], init: InitKind, trainable = true): ParamSpec => ({ name, shape, init, trainable });
  const specs: ParamSpec[] = c.stem
    ? c.stem.flatMap((width, i) => [t(`patch_embed.stem.${i}.weight`, [width, i === 0 ? 3 : c.stem![i - 1], 3, 3], 'xavier'), t(`patch_embed.stem.${i}.bias`, [width], 'zeros')])
    : [t('patch_embed.proj.weight', [c.dim, 3, c.patch, c.patch], 'xavier'), t('patch_embed.proj.bias', [c.dim], 'zeros')];
  specs.push(
    t('pos_embed_z', [1, templateTokens, c.dim], 'trunc-normal'),
    t('pos_embed_x', [1, searchTokens, c.dim], 'trunc-normal'),
  );
  for (let i = 0; i < c.depth; i++) specs.push(...blockParamSpecs(c, i));
  specs.push(t('norm.weight', [c.dim], 'ones'), t('norm.bias', [c.dim], 'zeros'));
  const ch = towerChannels(c);
  for (const tower of HEAD_TOWERS) {
    for (let k = 1; k <= 4; k++) {
      const p = `box_head.conv${k}_${tower}.`;
      const [cin, cout] = [ch[k - 1], ch[k]];
      specs.push(t(`${p}0.weight`, [cout, cin, 3, 3], 'xavier'), t(`${p}0.bias`, [cout], 'zeros'));
      if (c.headNorm !== 'none') {
        specs.push(
          t(`${p}1.weight`, [cout], 'ones'),
          t(`${p}1.bias`, [cout], 'zeros'),
          t(`${p}1.running_mean`, [cout], 'zeros', false),
          t(`${p}1.running_var`, [cout], 'ones', false),
        );
      }
    }
    specs.push(
      t(`box_head.conv5_${tower}.weight`, [TOWER_OUTPUTS[tower], ch[4], 1, 1], 'xavier'),
      t(`box_head.conv5_${tower}.bias`, [TOWER_OUTPUTS[tower]], 'zeros'),
    );
  }
  return specs;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
