/**
 * Procedural tracking clips, a pure function of a seed. A clip is planned once (textures, sprites,
 * every object's path, visibility and ground truth) and renders any frame on demand by compositing:
 * panning background, look-alike distractors behind the target, the target, distractors in front,
 * occluders, then illumination, blur and sensor noise.
 *
 * What makes it hard on purpose: distractors are other instances of the target's texture family or
 * recoloured copies of it, the background carries the target's colours (as texture stops and as
 * clutter), and occluders hide the target partly or fully, so a tracker must match appearance.
 */
import { CtEdgeError } from '../../contract/errors.js';
import type { Box, Frame } from '../../contract/types.js';
import { hashSeed, Rng } from './random.js';
import { drawSprite, makeSprite, maskSprite, placedBounds, toSprite, alphaAt, type Placement, type Sprite } from './sprite.js';
import {
  blendInto,
  fractalNoise,
  hueRotate,
  nearColour,
  paint,
  randomColour,
  randomLook,
  shapeAlpha,
  shapeRadius,
  SHAPES,
  type Look,
  type Rgb,
  type ShapeKind,
} from './textures.js';

export type ClipDifficulty = 'easy' | 'moderate' | 'hard';

export interface ClipOptions {
  /** Frame width in pixels (default 320). */
  width?: number;
  /** Frame height in pixels (default 240). */
  height?: number;
  /** Frames per clip (default 100). */
  length?: number;
  /**
   * 'moderate' (default): targets of at least 24 px, at most 3 clutter shapes, one look-alike and
   * one occlusion event. 'hard': targets from 14 px, up to 13 clutter shapes, 4 look-alikes and 3
   * occlusion events. 'easy': a large target on a textured background, nothing else (for a
   * curriculum: it teaches localisation before appearance matching).
   */
  difficulty?: ClipDifficulty;
}

export interface SyntheticClip {
  name: string;
  seed: number;
  width: number;
  height: number;
  length: number;
  /** The target's full extent per frame (occluded parts included), clipped to the frame. */
  boxes: Box[];
  /** False where the target is (almost) fully occluded: below MIN_VISIBLE of it can be seen. */
  visible: boolean[];
  /** Share of the target's area that can be seen, per frame (0-1). */
  visibleFraction: Float32Array;
  /**
   * Renders one frame (a new RGB buffer each call). `withoutTarget` leaves the target out and keeps
   * everything else (noise, lighting, blur): the difference is the pixels the target changes.
   */
  renderFrame(index: number, options?: { withoutTarget?: boolean }): Frame;
  /** 1 where the target is the visible top layer, per pixel of one frame. */
  targetMask(index: number): Uint8Array;
}

/** Below this share of its area showing, a frame counts as the target being absent. */
export const MIN_VISIBLE = 0.1;

const DEFAULTS = { width: 320, height: 240, length: 100 };

/** Training and held-out clip seeds differ in the top bit, so the two sets can never share a clip. */
export function trainingClipSeed(seed: number, index: number): number {
  return hashSeed(seed, index, 0x7a11) & 0x7fffffff;
}

export function heldOutClipSeed(seed: number, index: number): number {
  return (hashSeed(seed, index, 0x4e1d) | 0x80000000) >>> 0;
}

/** A fixed evaluation set: `count` clips no training seed can produce. */
export function heldOutClips(count: number, seed: number, options: ClipOptions = {}): SyntheticClip[] {
  return Array.from({ length: count }, (_, i) => createClip(heldOutClipSeed(seed, i), options, `heldout-${seed}-${String(i + 1).padStart(4, '0')}`));
}

/** An Ornstein-Uhlenbeck walk: mean-reverting noise with spread `sigma` and memory `tau` frames. */
function smoothSignal(rng: Rng, n: number, mean: number, sigma: number, tau: number): Float64Array {
  const out = new Float64Array(n);
  let x = mean + sigma * rng.normal();
  const step = sigma * Math.sqrt(2 / tau);
  for (let t = 0; t < n; t++) {
    out[t] = x;
    x += (mean - x) / tau + step * rng.normal();
  }
  return out;
}

/**
 * A wandering centre: heading and log-speed drift smoothly, with occasional bursts, and the path
 * bounces off the frame margins so that the object stays in view.
 */
function wander(rng: Rng, n: number, width: number, height: number, margin: number, speed: number): { x: Float64Array; y: Float64Array } {
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const logSpeed = smoothSignal(rng, n, Math.log(speed), rng.uniform(0.2, 0.8), rng.uniform(8, 30));
  const turn = smoothSignal(rng, n, 0, rng.uniform(0.02, 0.12), rng.uniform(5, 20));
  const burstAt = rng.chance(0.3) ? rng.int(n) : -1;
  const burstLength = 5 + rng.int(15);
  const mx = Math.min(margin, width / 2 - 1);
  const my = Math.min(margin, height / 2 - 1);
  let px = rng.uniform(mx, width - mx);
  let py = rng.uniform(my, height - my);
  let heading = rng.uniform(0, 2 * Math.PI);
  for (let t = 0; t < n; t++) {
    x[t] = px;
    y[t] = py;
    heading += turn[t];
    const burst = t >= burstAt && t < burstAt + burstLength ? 2.5 : 1;
    const v = Math.exp(logSpeed[t]) * burst;
    px += v * Math.cos(heading);
    py += v * Math.sin(heading);
    if (px < mx || px > width - mx) {
      heading = Math.PI - heading;
      px = Math.min(width - mx, Math.max(mx, px));
    }
    if (py < my || py > height - my) {
      heading = -heading;
      py = Math.min(height - my, Math.max(my, py));
    }
  }
  return { x, y };
}

interface Surface {
  look: Look;
  shape: ShapeKind;
  radius: (theta: number) => number;
}

function spriteFor(rng: Rng, surface: Surface, w: number, h: number, shade: boolean): Sprite {
  const sw = Math.max(2, Math.round(w));
  const sh = Math.max(2, Math.round(h));
  const rgb = paint(rng, surface.look, sw, sh);
  const alpha = shapeAlpha(surface.radius, sw, sh);
  if (shade) {
    // Darken towards the rim for a little depth, so objects do not look like flat stickers.
    const k = rng.uniform(0.1, 0.35);
    for (let y = 0, i = 0; y < sh; y++) {
      for (let x = 0; x < sw; x++, i++) {
        const d = Math.hypot((x + 0.5 - sw / 2) / (sw / 2), (y + 0.5 - sh / 2) / (sh / 2));
        const f = 1 - k * Math.min(1, d) ** 3;
        for (let c = 0; c < 3; c++) rgb[i * 3 + c] *= f;
      }
    }
  }
  return makeSprite(sw, sh, rgb, alpha);
}

function randomSurface(rng: Rng, colours: Rgb[], featureScale: number, shape?: ShapeKind): Surface {
  const kind = shape ?? rng.pick(SHAPES);
  return { look: randomLook(rng, colours, featureScale), shape: kind, radius: shapeRadius(rng, kind) };
}

function pickColours(rng: Rng, pool: Rgb[], count: number): Rgb[] {
  return Array.from({ length: count }, () => nearColour(rng, rng.pick(pool), 20));
}

interface Layer {
  sprite: Sprite;
  /** One per frame. */
  placements: Placement[];
}

/** Sprite resolution relative to the object's base size, so moderate zoom-ins stay sharp. */
const OVERSAMPLE = 1.3;

/** Plans a clip from `seed`; frames render lazily through the returned object. */
export function createClip(seed: number, options: ClipOptions = {}, name = `synth-${seed}`): SyntheticClip {
  const width = options.width ?? DEFAULTS.width;
  const height = options.height ?? DEFAULTS.height;
  const length = options.length ?? DEFAULTS.length;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 32 && height >= 32)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `clip frames must be at least 32x32 integer pixels, got ${width}x${height}`);
  }
  if (!(Number.isInteger(length) && length >= 2)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `a clip needs at least 2 frames, got ${length}`);
  const rng = new Rng(seed);
  const short = Math.min(width, height);
  const hard = options.difficulty === 'hard';
  const easy = options.difficulty === 'easy';

  // Colours: the target's, and a scene palette that usually borrows some of them.
  const targetColours = Array.from({ length: 2 + rng.int(2) }, () => randomColour(rng));
  // Scenes are mostly duller than objects, as in real footage.
  const sceneColours = Array.from({ length: 3 }, () => randomColour(rng, 0.6));
  if (rng.chance(0.7)) sceneColours.push(nearColour(rng, rng.pick(targetColours), 25));
  const allColours = [...targetColours, ...sceneColours];

  // Background: one or two blended patterns, larger than the frame so the camera can pan.
  const pan = Math.round(0.08 * Math.max(width, height));
  const bw = width + 2 * pan;
  const bh = height + 2 * pan;
  const background = paint(rng, randomLook(rng, pickColours(rng, sceneColours, 3), rng.logUniform(6, short / 3)), bw, bh);
  if (rng.chance(0.5)) {
    const other = paint(rng, randomLook(rng, pickColours(rng, allColours, 3), rng.logUniform(6, short / 3)), bw, bh);
    blendInto(background, other, fractalNoise(rng, bw, bh, rng.uniform(20, 80), 2));
  }

  // Target.
  const size = hard ? rng.logUniform(14, 0.3 * short) : rng.logUniform(Math.min(easy ? 36 : 24, 0.3 * short), 0.35 * short);
  const aspect = Math.min(2.5, Math.max(0.4, Math.exp(0.35 * rng.normal())));
  const baseW = size * Math.sqrt(aspect);
  const baseH = size / Math.sqrt(aspect);
  const targetSurface = randomSurface(rng, targetColours, size * rng.uniform(0.12, 0.5));
  const targetSprite = spriteFor(rng, targetSurface, baseW * OVERSAMPLE, baseH * OVERSAMPLE, true);

  // Clutter: static shapes in the target's and the scene's colours, painted into the background.
  const clutter = easy ? 0 : hard ? rng.int(14) : rng.int(4);
  for (let k = 0; k < clutter; k++) {
    const s = rng.logUniform(6, 0.25 * short);
    const surface = randomSurface(rng, pickColours(rng, rng.chance(0.5) ? targetColours : allColours, 2 + rng.int(2)), s * rng.uniform(0.15, 0.5));
    const sprite = spriteFor(rng, surface, s * rng.uniform(0.6, 1.6), s * rng.uniform(0.6, 1.6), rng.chance(0.5));
    drawSprite(background, bw, bh, sprite, { cx: rng.uniform(0, bw), cy: rng.uniform(0, bh), sx: 1, sy: 1, angle: rng.uniform(0, Math.PI) });
  }

  const targetPlacements = objectPath(rng, length, width, height, baseW, baseH, size, targetSprite);

  // Distractors: other instances of the target's family, or recoloured copies of the target.
  const distractorCount = easy ? 0 : hard ? rng.weighted([0.15, 0.3, 0.3, 0.15, 0.1]) : rng.weighted([0.4, 0.6]);
  const behind: Layer[] = [];
  const front: Layer[] = [];
  for (let k = 0; k < distractorCount; k++) {
    const scale = rng.uniform(0.7, 1.3);
    let sprite: Sprite;
    if (rng.chance(0.5)) {
      const rgb = targetSprite.rgb.slice();
      hueRotate(rgb, rng.uniform(12, 40) * (rng.chance(0.5) ? 1 : -1));
      const gain = rng.uniform(0.85, 1.15);
      for (let i = 0; i < rgb.length; i++) rgb[i] *= gain;
      sprite = makeSprite(targetSprite.width, targetSprite.height, rgb, targetSprite.alpha);
    } else {
      const shape = rng.chance(0.6) ? targetSurface.shape : rng.pick(SHAPES);
      const surface: Surface = { look: targetSurface.look, shape, radius: shapeRadius(rng, shape) };
      sprite = spriteFor(rng, surface, targetSprite.width, targetSprite.height, true);
    }
    const path = rng.chance(0.5)
      ? passBy(rng, length, targetPlacements, size)
      : objectPath(rng, length, width, height, baseW * scale, baseH * scale, size * scale, sprite);
    (rng.chance(0.6) ? behind : front).push({ sprite, placements: path });
  }

  // Occluders: patches of scene texture that cross the target's path, or stand on it.
  const occluders: Layer[] = [];
  const events = easy ? 0 : hard ? rng.weighted([0.3, 0.4, 0.2, 0.1]) : rng.weighted([0.5, 0.5]);
  for (let k = 0; k < events; k++) {
    const t0 = Math.floor(rng.uniform(0.15, 0.9) * length);
    const at = targetPlacements[t0];
    const extent = Math.max(targetSprite.width * at.sx, targetSprite.height * at.sy);
    const full = rng.chance(0.45);
    const s = extent * (full ? rng.uniform(1.5, 2.5) : rng.uniform(0.4, 0.9));
    const shape = rng.pick(['rectangle', 'ellipse', 'polygon'] as const);
    const surface = randomSurface(rng, pickColours(rng, rng.chance(0.7) ? sceneColours : allColours, 3), s * rng.uniform(0.1, 0.4), shape);
    const sprite = spriteFor(rng, surface, s * rng.uniform(0.8, 1.3), s * rng.uniform(0.8, 1.3), false);
    occluders.push({ sprite, placements: crossing(rng, length, t0, at, extent, s, full) });
  }

  // Camera pan, illumination, blur and noise schedules.
  const panX = smoothSignal(rng, length, 0, pan / 2, rng.uniform(10, 40));
  const panY = smoothSignal(rng, length, 0, pan / 2, rng.uniform(10, 40));
  const gain = smoothSignal(rng, length, rng.uniform(0.8, 1.15), rng.uniform(0, 0.2), rng.uniform(10, 40));
  if (rng.chance(0.2)) {
    // A light switched on or off: a step over three frames.
    const at = rng.int(length);
    const step = rng.uniform(-0.35, 0.35);
    for (let t = at; t < length; t++) gain[t] += step * Math.min(1, (t - at + 1) / 3);
  }
  for (let t = 0; t < length; t++) gain[t] = Math.min(1.6, Math.max(0.4, gain[t]));
  const tints = [0, 1, 2].map(() => smoothSignal(rng, length, 1, rng.uniform(0, 0.08), 30));
  const gradX = smoothSignal(rng, length, 0, rng.uniform(0, 0.3), 40);
  const gradY = smoothSignal(rng, length, 0, rng.uniform(0, 0.3), 40);
  const blurChance = rng.chance(0.4) ? rng.uniform(0.05, 0.5) : 0;
  const blur = Array.from({ length }, () => (rng.chance(blurChance) ? 1 : 0));
  const noiseSigma = rng.chance(0.3) ? rng.uniform(0, 2) : rng.uniform(2, 10);
  const noiseSeed = rng.seed();

  // The tracker starts from frame 0, so nothing may cover the target there: a layer that would is
  // drawn behind it instead (an occluder then passes behind the target).
  const probes = targetProbes(targetSprite);
  const start = [...front, ...occluders];
  const outside = coveredShare(probes, targetPlacements[0], [], 0, width, height);
  const above = start.filter((layer) => coveredShare(probes, targetPlacements[0], [layer], 0, width, height) === outside);
  const layers: Layer[] = [...behind, ...start.filter((l) => !above.includes(l)), { sprite: targetSprite, placements: targetPlacements }, ...above];
  const boxes = targetPlacements.map((p) => clippedBox(targetSprite, p, width, height));
  const visibleFraction = Float32Array.from(targetPlacements, (p, t) => 1 - coveredShare(probes, p, above, t, width, height));
  const visible = Array.from(visibleFraction, (v) => v >= MIN_VISIBLE);

  const canvas = new Float32Array(width * height * 3);
  const scratch = new Float32Array(width * height * 3);

  function renderFrame(index: number, options: { withoutTarget?: boolean } = {}): Frame {
    if (!(Number.isInteger(index) && index >= 0 && index < length)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `frame index ${index} is outside clip ${name} (0..${length - 1})`);
    }
    const ox = Math.min(2 * pan, Math.max(0, Math.round(pan + panX[index])));
    const oy = Math.min(2 * pan, Math.max(0, Math.round(pan + panY[index])));
    for (let y = 0; y < height; y++) canvas.set(background.subarray(((y + oy) * bw + ox) * 3, ((y + oy) * bw + ox + width) * 3), y * width * 3);
    for (const layer of layers) if (!(options.withoutTarget && layer.sprite === targetSprite)) drawSprite(canvas, width, height, layer.sprite, layer.placements[index]);
    if (blur[index]) boxBlur3(canvas, scratch, width, height);
    const out = new Uint8ClampedArray(width * height * 3);
    const noise = noiseTable();
    let n = hashSeed(noiseSeed, index) & NOISE_MASK;
    const [r, g, b] = tints.map((tint) => tint[index] * gain[index]);
    const gx = gradX[index] / width;
    const gy = gradY[index] / height;
    for (let y = 0, i = 0; y < height; y++) {
      const rowGain = 1 + gy * (y - height / 2);
      let light = rowGain * (1 - (gx * width) / 2);
      const step = rowGain * gx;
      for (let x = 0; x < width; x++, i += 3, light += step) {
        out[i] = canvas[i] * light * r + noiseSigma * noise[n];
        out[i + 1] = canvas[i + 1] * light * g + noiseSigma * noise[(n + 1) & NOISE_MASK];
        out[i + 2] = canvas[i + 2] * light * b + noiseSigma * noise[(n + 2) & NOISE_MASK];
        n = (n + 3) & NOISE_MASK;
      }
    }
    return { data: new Uint8Array(out.buffer), width, height, format: 'rgb' };
  }

  function targetMask(index: number): Uint8Array {
    const mask = new Uint8Array(width * height);
    maskSprite(mask, width, height, targetSprite, targetPlacements[index], 1);
    for (const layer of above) maskSprite(mask, width, height, layer.sprite, layer.placements[index], 0);
    return mask;
  }

  return { name, seed, width, height, length, boxes, visible, visibleFraction, renderFrame, targetMask };
}

/** A moving object's placements: wandering centre, smooth zoom (with a trend), stretch and spin. */
function objectPath(
  rng: Rng,
  n: number,
  width: number,
  height: number,
  baseW: number,
  baseH: number,
  size: number,
  sprite: Sprite,
): Placement[] {
  const short = Math.min(width, height);
  const { x, y } = wander(rng, n, width, height, 0.4 * size, Math.max(0.3, size * rng.logUniform(0.02, 0.25)));
  const logScale = smoothSignal(rng, n, 0, rng.uniform(0, 0.25), rng.uniform(10, 40));
  const trend = rng.chance(0.4) ? rng.uniform(-0.6, 0.6) : 0;
  const stretch = smoothSignal(rng, n, 0, rng.uniform(0, 0.12), 20);
  const spins = rng.chance(0.5);
  const spin = smoothSignal(rng, n, 0, spins ? rng.logUniform(0.003, 0.06) : 0, 20);
  let angle = spins ? rng.uniform(-Math.PI, Math.PI) : 0;
  const placements: Placement[] = [];
  for (let t = 0; t < n; t++) {
    // Keep the object between 8 px and half the frame's short side across.
    const want = size * Math.exp(logScale[t] + (trend * t) / n);
    const scale = Math.min(0.5 * short, Math.max(8, want)) / size;
    placements.push({
      cx: x[t],
      cy: y[t],
      sx: ((baseW * scale) / sprite.width) * Math.exp(stretch[t]),
      sy: ((baseH * scale) / sprite.height) * Math.exp(-stretch[t]),
      angle,
    });
    angle += spin[t];
  }
  return placements;
}

/** A distractor that drifts past the target: offset from it that shrinks, then grows again. */
function passBy(rng: Rng, n: number, target: Placement[], size: number): Placement[] {
  const t0 = rng.int(n);
  const miss = size * rng.uniform(0.3, 1.5);
  const dir = rng.uniform(0, 2 * Math.PI);
  const speed = size * rng.uniform(0.02, 0.1);
  const scale = rng.uniform(0.8, 1.2);
  const spin = rng.chance(0.5) ? rng.uniform(-0.03, 0.03) : 0;
  return target.map((p, t) => ({
    cx: p.cx - Math.sin(dir) * miss + Math.cos(dir) * speed * (t - t0),
    cy: p.cy + Math.cos(dir) * miss + Math.sin(dir) * speed * (t - t0),
    sx: p.sx * scale,
    sy: p.sy * scale,
    angle: p.angle + spin * (t - t0),
  }));
}

/**
 * An occluder over the target's position at frame t0: standing still there (the target walks
 * behind it) or moving across; `full` ones are big enough to hide the target completely.
 */
function crossing(rng: Rng, n: number, t0: number, at: Placement, extent: number, size: number, full: boolean): Placement[] {
  const still = rng.chance(0.35);
  const dir = rng.uniform(0, 2 * Math.PI);
  const frames = rng.uniform(8, 30);
  const speed = still ? 0 : (extent + size) / frames;
  const lateral = full ? 0 : extent * rng.uniform(-0.5, 0.5);
  const angle = rng.uniform(-0.3, 0.3);
  return Array.from({ length: n }, (_, t) => ({
    cx: at.cx - Math.sin(dir) * lateral + Math.cos(dir) * speed * (t - t0),
    cy: at.cy + Math.cos(dir) * lateral + Math.sin(dir) * speed * (t - t0),
    sx: 1,
    sy: 1,
    angle,
  }));
}

/** Points spread over the sprite's opaque pixels (about 150), as x,y pairs relative to its centre. */
function targetProbes(sprite: Sprite): Float32Array {
  const step = Math.max(1, Math.floor(Math.sqrt((sprite.width * sprite.height) / 150)));
  const probes: number[] = [];
  for (let v = step / 2; v < sprite.height; v += step) {
    for (let u = step / 2; u < sprite.width; u += step) {
      if (alphaAt(sprite, u, v) >= 0.5) probes.push(u - sprite.width / 2, v - sprite.height / 2);
    }
  }
  return Float32Array.from(probes);
}

/** Share of the target hidden in frame `t`: probes outside the frame or under any of `layers`. */
function coveredShare(probes: Float32Array, p: Placement, layers: Layer[], t: number, width: number, height: number): number {
  if (probes.length === 0) return 1;
  const [c, s] = [Math.cos(p.angle), Math.sin(p.angle)];
  let hidden = 0;
  for (let i = 0; i < probes.length; i += 2) {
    const lx = probes[i] * p.sx;
    const ly = probes[i + 1] * p.sy;
    const x = p.cx + c * lx - s * ly;
    const y = p.cy + s * lx + c * ly;
    const out = x < 0 || y < 0 || x >= width || y >= height;
    if (out || layers.some((layer) => alphaAt(layer.sprite, ...toSprite(layer.sprite, layer.placements[t], x, y)) >= 0.5)) hidden++;
  }
  return hidden / (probes.length / 2);
}

/** The target's full extent (its opaque hull under the placement), clipped to the frame. */
function clippedBox(sprite: Sprite, p: Placement, width: number, height: number): Box {
  const [x0, y0, x1, y1] = placedBounds(sprite, p);
  const x = Math.max(0, x0);
  const y = Math.max(0, y0);
  return { x, y, width: Math.max(0, Math.min(width, x1) - x), height: Math.max(0, Math.min(height, y1) - y) };
}

/** 3x3 box blur of interleaved RGB floats, in place (`scratch` is the same size). */
function boxBlur3(img: Float32Array, scratch: Float32Array, width: number, height: number): void {
  const row = width * 3;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = x > 0 ? -3 : 0;
      const r = x < width - 1 ? 3 : 0;
      for (let c = 0, i = y * row + x * 3; c < 3; c++, i++) scratch[i] = (img[i + l] + img[i] + img[i + r]) / 3;
    }
  }
  for (let y = 0; y < height; y++) {
    const u = y > 0 ? -row : 0;
    const d = y < height - 1 ? row : 0;
    for (let i = y * row, end = i + row; i < end; i++) img[i] = (scratch[i + u] + scratch[i] + scratch[i + d]) / 3;
  }
}

// Sensor noise reads a shared table of standard normals from a per-frame offset, which costs one
// table read per channel instead of a Box-Muller draw.
const NOISE_BITS = 18;
const NOISE_MASK = (1 << NOISE_BITS) - 1;
let noise: Float32Array | undefined;

function noiseTable(): Float32Array {
  if (!noise) {
    const rng = new Rng(0x5eed);
    noise = new Float32Array(1 << NOISE_BITS);
    for (let i = 0; i < noise.length; i++) noise[i] = rng.normal();
  }
  return noise;
}
