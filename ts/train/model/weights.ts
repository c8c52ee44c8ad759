/** Checks a weight map against what a network config needs, before anything uses it. */
import { CtEdgeError } from '../../contract/errors.js';
import type { TrackerNetConfig } from './config.js';
import { paramSpecs, sameShape, type WeightMap } from './params.js';

/**
 * OSTrack's own checkpoints name the ViT's tensors `backbone.*` (the tracker wraps timm's ViT as
 * `self.backbone`); ct-edge's names drop that prefix. Both are accepted.
 */
const OSTRACK_BACKBONE_PREFIX = 'backbone.';

/**
 * Returns the tensors the network needs, by ct-edge name, or throws ERR_CHECKPOINT naming the
 * first missing or misshapen tensor and both shapes. Extra tensors (OSTrack's cls_token, its
 * unused pos_embed, BatchNorm's num_batches_tracked, ...) are ignored.
 */
export function checkWeights(config: TrackerNetConfig, weights: WeightMap, source: string): WeightMap {
  const out: WeightMap = new Map();
  for (const spec of paramSpecs(config)) {
    const w = weights.get(spec.name) ?? weights.get(OSTRACK_BACKBONE_PREFIX + spec.name);
    if (!w) {
      throw new CtEdgeError('ERR_CHECKPOINT', `${source} has no tensor '${spec.name}' (the model needs shape [${spec.shape.join(',')}])`);
    }
    if (!sameShape(w.shape, spec.shape) || w.data.length !== spec.shape.reduce((a, b) => a * b, 1)) {
      throw new CtEdgeError('ERR_CHECKPOINT', `${source}: tensor '${spec.name}' has shape [${w.shape.join(',')}], the model needs [${spec.shape.join(',')}]`);
    }
    out.set(spec.name, w);
  }
  return out;
}
