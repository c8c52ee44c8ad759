/**
 * Pairs from any region of any real image (`--data regions:...`, compress only). A teacher labels
 * every pixel of a crop, so a training pair needs no target the teacher holds: the template is a
 * random box of a frame (1-25% of its area, aspect 1:3 to 3:1), the search crop the same box in the
 * same frame or one up to `maxGap` frames later, with the sampler's jitter. The objective then
 * takes every target from the teacher's output on those crops (dense distillation).
 *
 * Videos and image folders are decoded once to JPEG (their first `trainShare` of frames only: the
 * rest stays out of training, for validation) and cached; still images are read where they are,
 * each a clip of one frame.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box } from '../../contract/types.js';
import { readImage } from '../../deploy/io/images.js';
import { framesDirOf, PSEUDO_LABEL_DEFAULTS, writeFrames } from './pseudo-label.js';
import type { Rng } from './random.js';
import type { PairSource } from './sources.js';

/** Template box area as a share of the frame's, and its aspect (w / h), both drawn log-uniformly. */
export const REGION_AREA = [0.01, 0.25] as const;
export const REGION_ASPECT = [1 / 3, 3] as const;
/** Frames between template and search at most (about a second of video). */
export const REGION_MAX_GAP = 30;

const CACHE_FORMAT = 'ct-edge-region-frames-1';

/**
 * The clips (lists of frame paths) of `inputs`: videos and image folders decoded under `dir`
 * (reused while the inputs and share are the same), or each still image as its own clip.
 */
export async function regionClips(inputs: readonly string[], stills: boolean, dir: string, trainShare = PSEUDO_LABEL_DEFAULTS.trainShare): Promise<string[][]> {
  if (stills) return inputs.map((image) => [image]);
  const index = join(dir, 'frames.json');
  const key = { format: CACHE_FORMAT, inputs, trainShare };
  if (existsSync(index)) {
    const cached = JSON.parse(await readFile(index, 'utf8')) as typeof key & { clips: string[][] };
    if (JSON.stringify({ format: cached.format, inputs: cached.inputs, trainShare: cached.trainShare }) === JSON.stringify(key) && cached.clips.every((c) => c.every((f) => existsSync(f)))) return cached.clips;
  }
  const clips: string[][] = [];
  for (const [k, input] of inputs.entries()) {
    const frames = await writeFrames(input, framesDirOf(dir, k, input));
    const kept = frames.slice(0, Math.max(1, Math.floor(frames.length * trainShare)));
    clips.push(kept);
  }
  await writeFile(index, JSON.stringify({ ...key, clips }));
  return clips;
}

/** A random box of a `width` x `height` frame with the area share and aspect of REGION_*. */
export function randomRegion(rng: Rng, width: number, height: number): Box {
  const area = rng.logUniform(...REGION_AREA) * width * height;
  const aspect = rng.logUniform(...REGION_ASPECT);
  const w = Math.max(4, Math.min(width, Math.sqrt(area * aspect)));
  const h = Math.max(4, Math.min(height, Math.sqrt(area / aspect)));
  return { x: rng.uniform(0, width - w), y: rng.uniform(0, height - h), width: w, height: h };
}

/** Random regions of `clips`' frames as unlabeled pairs (see the top of this file). */
export function regionSource(name: string, clips: readonly (readonly string[])[], maxGap = REGION_MAX_GAP): PairSource {
  const usable = clips.filter((c) => c.length > 0);
  if (usable.length === 0) throw new CtEdgeError('ERR_DATASET', `--data regions:${name}: no frames to cut regions from; give videos, image folders or stills:FOLDER with images`);
  return {
    name: `regions:${name}`,
    async drawPair(rng) {
      const clip = rng.pick(usable);
      const t = rng.int(clip.length);
      const s = Math.min(clip.length - 1, t + rng.int(maxGap + 1));
      const template = await readImage(clip[t]);
      const search = s === t ? template : await readImage(clip[s]);
      const box = randomRegion(rng, template.width, template.height);
      return { template, templateBox: box, search, searchBox: box, labelled: false };
    },
  };
}
