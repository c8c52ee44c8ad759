/**
 * Composite pairs (`--data composite:OBJECTS,BACKGROUNDS`): real objects cut out with alpha (PNG
 * with transparency, e.g. Debian's tuxpaint-stamps-default: animals, food, vehicles, household
 * objects, photographs and drawings alike) moving over real photographs, labelled exactly. Each pair:
 *
 * - a frame-sized view of a background photo, the object pasted at 1-12% of its area (log-uniform);
 * - the search frame: the view moved by up to 5% (camera motion), the object rescaled by 0.8-1.25
 *   and moved by up to 0.6 of its size;
 * - half the time a look-alike distractor (another object, or the same one mirrored) elsewhere in
 *   the search frame, and 30% of the time another object covering part of the target.
 *
 * The box is the object's alpha bounding box where it was pasted. These are labels, so a student
 * learns from them like from any labelled clip; in a compression on unlabeled data the teacher's
 * maps on these crops are the targets all the same.
 */
import sharp from 'sharp';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box, Frame } from '../../contract/types.js';
import { readImage } from '../../deploy/io/images.js';
import type { Rng } from './random.js';
import type { FramePair, PairSource } from './sources.js';

export const COMPOSITE = {
  /** Frame size of the pairs (background views are cut at this size, photos smaller are used whole). */
  frame: { width: 640, height: 480 },
  /** Object area as a share of the frame, log-uniform. */
  objectArea: [0.01, 0.12] as [number, number],
  /** Object scale from template to search frame, log-uniform. */
  scaleChange: [0.8, 1.25] as [number, number],
  /** Object motion between the frames, in object sizes. */
  maxShift: 0.6,
  /** Background (camera) motion between the frames, as a share of the frame. */
  cameraShift: 0.05,
  distractorChance: 0.5,
  occluderChance: 0.3,
};

/** An object cut to its alpha bounding box, RGBA. */
interface CutOut {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Decoded images kept between pairs (decoding dominates a pair otherwise); oldest out first. */
class DecodedCache<T> {
  private readonly entries = new Map<string, Promise<T>>();
  constructor(private readonly capacity: number, private readonly load: (path: string) => Promise<T>) {}
  get(path: string): Promise<T> {
    let hit = this.entries.get(path);
    if (hit) {
      this.entries.delete(path);
    } else {
      hit = this.load(path);
      if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(path, hit);
    return hit;
  }
}

async function cutOut(path: string): Promise<CutOut> {
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    raw = await sharp(path).ensureAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new CtEdgeError('ERR_DATASET', `--data composite: cannot read the object image ${path} (${(error as Error).message})`, { cause: error });
  }
  const { width, height, channels } = raw.info;
  if (channels !== 4) throw new CtEdgeError('ERR_DATASET', `--data composite: ${path} has ${channels} channels after adding alpha; give PNGs with transparency`);
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (raw.data[(y * width + x) * 4 + 3] > 127) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  if (x1 < x0 + 3 || y1 < y0 + 3) throw new CtEdgeError('ERR_DATASET', `--data composite: ${path} has no opaque object (its alpha is empty); give PNGs of objects with transparency around them`);
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) data.set(raw.data.subarray(((y0 + y) * width + x0) * 4, ((y0 + y) * width + x1 + 1) * 4), y * w * 4);
  return { data, width: w, height: h };
}

/** `object` resized to w x h (and mirrored), alpha-blended onto `frame` with its top-left at (x, y). */
async function paste(frame: Frame, object: CutOut, x: number, y: number, w: number, h: number, mirror = false): Promise<void> {
  let pipeline = sharp(object.data, { raw: { width: object.width, height: object.height, channels: 4 } }).resize(w, h, { fit: 'fill' });
  if (mirror) pipeline = pipeline.flop();
  const scaled = await pipeline.raw().toBuffer();
  const out = frame.data as Uint8Array;
  for (let r = 0; r < h; r++) {
    const fy = y + r;
    if (fy < 0 || fy >= frame.height) continue;
    for (let c = 0; c < w; c++) {
      const fx = x + c;
      if (fx < 0 || fx >= frame.width) continue;
      const s = (r * w + c) * 4;
      const a = scaled[s + 3] / 255;
      if (a === 0) continue;
      const d = (fy * frame.width + fx) * 3;
      for (let k = 0; k < 3; k++) out[d + k] = Math.round(scaled[s + k] * a + out[d + k] * (1 - a));
    }
  }
}

/** A `width` x `height` view of `photo` with its top-left at (x, y) (clamped inside), as a new frame. */
function view(photo: Frame, x: number, y: number, width: number, height: number): Frame {
  const src = photo.data as Uint8Array;
  const left = Math.max(0, Math.min(photo.width - width, Math.round(x)));
  const top = Math.max(0, Math.min(photo.height - height, Math.round(y)));
  const data = new Uint8Array(width * height * 3);
  for (let r = 0; r < height; r++) data.set(src.subarray(((top + r) * photo.width + left) * 3, ((top + r) * photo.width + left + width) * 3), r * width * 3);
  return { data, width, height, format: 'rgb' };
}

/** Composite pairs of `objects` (PNG cut-outs) over `backgrounds` (photographs); see the top of this file. */
export function compositeSource(name: string, objects: readonly string[], backgrounds: readonly string[]): PairSource {
  if (objects.length === 0) throw new CtEdgeError('ERR_DATASET', `--data composite:${name}: no object images (PNG with transparency)`);
  if (backgrounds.length === 0) throw new CtEdgeError('ERR_DATASET', `--data composite:${name}: no background photographs`);
  const cutOuts = new DecodedCache(256, cutOut);
  const photos = new DecodedCache(16, readImage);
  return {
    name: `composite:${name}`,
    async drawPair(rng: Rng): Promise<FramePair> {
      const photo = await photos.get(rng.pick(backgrounds));
      const [object, other] = await Promise.all([cutOuts.get(rng.pick(objects)), cutOuts.get(rng.pick(objects))]);
      const W = Math.min(COMPOSITE.frame.width, photo.width);
      const H = Math.min(COMPOSITE.frame.height, photo.height);
      const at = { x: rng.uniform(0, photo.width - W), y: rng.uniform(0, photo.height - H) };
      const shift = COMPOSITE.cameraShift;
      const template = view(photo, at.x, at.y, W, H);
      const search = view(photo, at.x + rng.uniform(-shift, shift) * W, at.y + rng.uniform(-shift, shift) * H, W, H);
      // The object's size from its area share and its own aspect; positions keep it wholly inside the frame.
      const aspect = object.width / object.height;
      const area = rng.logUniform(...COMPOSITE.objectArea) * W * H;
      const size = (a: number) => {
        const w = Math.max(8, Math.min(W - 2, Math.round(Math.sqrt(a * aspect))));
        return { w, h: Math.max(8, Math.min(H - 2, Math.round(w / aspect))) };
      };
      const s1 = size(area);
      const s2 = size(area * rng.logUniform(...COMPOSITE.scaleChange) ** 2);
      const p1 = { x: Math.round(rng.uniform(0, W - s1.w)), y: Math.round(rng.uniform(0, H - s1.h)) };
      const move = COMPOSITE.maxShift;
      const p2 = {
        x: Math.round(Math.max(0, Math.min(W - s2.w, p1.x + rng.uniform(-move, move) * s1.w))),
        y: Math.round(Math.max(0, Math.min(H - s2.h, p1.y + rng.uniform(-move, move) * s1.h))),
      };
      await paste(template, object, p1.x, p1.y, s1.w, s1.h);
      if (rng.chance(COMPOSITE.distractorChance)) {
        // a look-alike: the same object mirrored, or another one, at the target's size, somewhere else
        const same = rng.chance(0.5);
        await paste(search, same ? object : other, Math.round(rng.uniform(0, W - s2.w)), Math.round(rng.uniform(0, H - s2.h)), s2.w, s2.h, same);
      }
      await paste(search, object, p2.x, p2.y, s2.w, s2.h);
      if (rng.chance(COMPOSITE.occluderChance)) {
        // another object over up to half of the target
        const ow = Math.max(4, Math.round(s2.w * rng.uniform(0.3, 0.7)));
        const oh = Math.max(4, Math.round(s2.h * rng.uniform(0.3, 0.7)));
        await paste(search, other, p2.x + Math.round(rng.uniform(-0.3, 1) * s2.w - ow / 2), p2.y + Math.round(rng.uniform(-0.3, 1) * s2.h - oh / 2), ow, oh);
      }
      const box = (p: { x: number; y: number }, s: { w: number; h: number }): Box => ({ x: p.x, y: p.y, width: s.w, height: s.h });
      return { template, templateBox: box(p1, s1), search, searchBox: box(p2, s2), labelled: true };
    },
  };
}
