/**
 * Procedural appearance for the clip generator: colours, scalar pattern fields (noise, stripes,
 * checker, spots, rings, cells, gradient) mapped through a few colours, and star-shaped masks
 * (ellipse, rectangle, polygon, blob). All of it is computed once per clip; frames only composite.
 */
import type { Rng } from './random.js';

export type Rgb = [number, number, number];

export const PATTERNS = ['noise', 'stripes', 'checker', 'spots', 'rings', 'cells', 'gradient'] as const;
export type PatternKind = (typeof PATTERNS)[number];

export const SHAPES = ['ellipse', 'rectangle', 'polygon', 'blob'] as const;
export type ShapeKind = (typeof SHAPES)[number];

/**
 * How a surface looks, independent of its pixels: painting the same Look twice with different
 * random streams gives two instances of one family (the look-alike distractors).
 */
export interface Look {
  pattern: PatternKind;
  /** Colour stops the pattern field runs through (2-4). */
  colours: Rgb[];
  /** Feature size of the pattern in pixels. */
  scale: number;
  /** Quantise the field to the stops (hard-edged patches) instead of blending between them. */
  hard: boolean;
  /** Per-pixel grain amplitude (0-255 units). */
  grain: number;
}

/** Hue, saturation and value in [0, 1] to RGB in 0-255. */
export function hsv(h: number, s: number, v: number): Rgb {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return 255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1)));
  };
  return [f(5), f(3), f(1)];
}

export function randomColour(rng: Rng, maxSaturation = 0.95): Rgb {
  return hsv(rng.next(), rng.uniform(0.1, maxSaturation), rng.uniform(0.15, 0.95));
}

/** A colour near `c` (each channel moved by up to `amount`). */
export function nearColour(rng: Rng, c: Rgb, amount: number): Rgb {
  return c.map((v) => Math.min(255, Math.max(0, v + rng.uniform(-amount, amount)))) as Rgb;
}

export function randomLook(rng: Rng, colours: Rgb[], scale: number): Look {
  const pattern = rng.pick(PATTERNS);
  return {
    pattern,
    colours,
    scale,
    hard: pattern === 'checker' || pattern === 'cells' || rng.chance(0.3),
    grain: rng.uniform(0, 18),
  };
}

const smooth = (t: number) => t * t * (3 - 2 * t);

/** Adds `weight` times value noise (0-1, lattice spacing `cell` pixels) to `out`. */
function valueNoise(rng: Rng, w: number, h: number, cell: number, out: Float32Array, weight: number): void {
  const gw = Math.ceil(w / cell) + 2;
  const gh = Math.ceil(h / cell) + 2;
  const lattice = new Float32Array(gw * gh);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.next();
  const ox = rng.next() * cell;
  const oy = rng.next() * cell;
  for (let y = 0; y < h; y++) {
    const fy = (y + oy) / cell;
    const iy = Math.floor(fy);
    const ty = smooth(fy - iy);
    for (let x = 0; x < w; x++) {
      const fx = (x + ox) / cell;
      const ix = Math.floor(fx);
      const tx = smooth(fx - ix);
      const a = lattice[iy * gw + ix];
      const b = lattice[iy * gw + ix + 1];
      const c = lattice[(iy + 1) * gw + ix];
      const d = lattice[(iy + 1) * gw + ix + 1];
      out[y * w + x] += weight * (a + (b - a) * tx + (c - a + (a - b - c + d) * tx) * ty);
    }
  }
}

/** Fractal noise: octaves of value noise, stretched to fill [0, 1]. */
export function fractalNoise(rng: Rng, w: number, h: number, cell: number, octaves = 3): Float32Array {
  const out = new Float32Array(w * h);
  for (let o = 0, c = cell, weight = 1; o < octaves && c >= 1; o++, c /= 2, weight /= 2) valueNoise(rng, w, h, c, out, weight);
  return stretch(out);
}

function stretch(field: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of field) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const k = hi > lo ? 1 / (hi - lo) : 0;
  for (let i = 0; i < field.length; i++) field[i] = (field[i] - lo) * k;
  return field;
}

/** The pattern's scalar field in [0, 1] over w x h pixels. */
function patternField(rng: Rng, look: Look, w: number, h: number): Float32Array {
  const s = Math.max(2, look.scale);
  const angle = rng.uniform(0, Math.PI);
  const [ca, sa] = [Math.cos(angle), Math.sin(angle)];
  const field = new Float32Array(w * h);
  switch (look.pattern) {
    case 'noise':
      return fractalNoise(rng, w, h, s, 3);
    case 'stripes': {
      // Sine stripes bent by low-frequency noise so that they are not perfectly straight.
      const warp = fractalNoise(rng, w, h, s * 3, 2);
      const bend = rng.uniform(0, 4);
      for (let y = 0, i = 0; y < h; y++) {
        for (let x = 0; x < w; x++, i++) field[i] = 0.5 + 0.5 * Math.sin(((x * ca + y * sa) / s) * Math.PI + bend * warp[i]);
      }
      return field;
    }
    case 'checker':
      for (let y = 0, i = 0; y < h; y++) {
        for (let x = 0; x < w; x++, i++) {
          const u = Math.floor((x * ca + y * sa) / s);
          const v = Math.floor((-x * sa + y * ca) / s);
          field[i] = (u + v) & 1;
        }
      }
      return field;
    case 'rings': {
      const cx = rng.uniform(0, w);
      const cy = rng.uniform(0, h);
      for (let y = 0, i = 0; y < h; y++) {
        for (let x = 0; x < w; x++, i++) field[i] = 0.5 + 0.5 * Math.cos((Math.hypot(x - cx, y - cy) / s) * Math.PI);
      }
      return field;
    }
    case 'gradient': {
      const noise = fractalNoise(rng, w, h, s * 2, 2);
      const diag = Math.hypot(w, h) || 1;
      for (let y = 0, i = 0; y < h; y++) {
        for (let x = 0; x < w; x++, i++) field[i] = 0.75 * ((x * ca + y * sa) / diag + 0.5) + 0.25 * noise[i];
      }
      return stretch(field);
    }
    case 'spots':
    case 'cells': {
      // Random sites; spots paint discs around them, cells give every pixel its nearest site's level.
      // Cells cost one distance per site per pixel, hence their lower cap.
      const count = Math.max(3, Math.min(look.pattern === 'cells' ? 48 : 400, Math.round((w * h) / (s * s))));
      const sx = new Float32Array(count);
      const sy = new Float32Array(count);
      const level = new Float32Array(count);
      for (let k = 0; k < count; k++) [sx[k], sy[k], level[k]] = [rng.uniform(0, w), rng.uniform(0, h), rng.next()];
      if (look.pattern === 'spots') {
        for (let k = 0; k < count; k++) {
          const r = s * rng.uniform(0.2, 0.5);
          for (let y = Math.max(0, Math.floor(sy[k] - r)); y < Math.min(h, sy[k] + r); y++) {
            for (let x = Math.max(0, Math.floor(sx[k] - r)); x < Math.min(w, sx[k] + r); x++) {
              if (Math.hypot(x - sx[k], y - sy[k]) < r) field[y * w + x] = 0.4 + 0.6 * level[k];
            }
          }
        }
        return field;
      }
      for (let y = 0, i = 0; y < h; y++) {
        for (let x = 0; x < w; x++, i++) {
          let best = Infinity;
          for (let k = 0; k < count; k++) {
            const d = (x - sx[k]) ** 2 + (y - sy[k]) ** 2;
            if (d < best) [best, field[i]] = [d, level[k]];
          }
        }
      }
      return field;
    }
  }
}

/** Paints `look` over w x h pixels as interleaved RGB floats (0-255). */
export function paint(rng: Rng, look: Look, w: number, h: number): Float32Array {
  const field = patternField(rng, look, w, h);
  const stops = look.colours;
  const n = stops.length - 1;
  const out = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const t = Math.min(0.999999, Math.max(0, field[i])) * n;
    const k = Math.floor(t);
    const f = look.hard ? 0 : t - k;
    const a = stops[look.hard ? Math.round(t) : k];
    const b = stops[Math.min(n, k + 1)];
    const g = look.grain * (rng.next() - 0.5);
    for (let c = 0; c < 3; c++) out[i * 3 + c] = a[c] + (b[c] - a[c]) * f + g;
  }
  return out;
}

/** Blends `b` over `a` where `mask` (0-1 per pixel) is high; returns `a`. */
export function blendInto(a: Float32Array, b: Float32Array, mask: Float32Array): Float32Array {
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i];
    for (let c = 0; c < 3; c++) a[i * 3 + c] += (b[i * 3 + c] - a[i * 3 + c]) * m;
  }
  return a;
}

/** Rotates colours about the grey axis by `degrees` (a hue shift that keeps brightness). */
export function hueRotate(rgb: Float32Array, degrees: number): void {
  const t = (degrees * Math.PI) / 180;
  const cosA = Math.cos(t);
  const sinA = Math.sin(t);
  const k = (1 - cosA) / 3;
  const q = Math.sqrt(1 / 3) * sinA;
  const m = [cosA + k, k - q, k + q, k + q, cosA + k, k - q, k - q, k + q, cosA + k];
  for (let i = 0; i < rgb.length; i += 3) {
    const [r, g, b] = [rgb[i], rgb[i + 1], rgb[i + 2]];
    rgb[i] = m[0] * r + m[1] * g + m[2] * b;
    rgb[i + 1] = m[3] * r + m[4] * g + m[5] * b;
    rgb[i + 2] = m[6] * r + m[7] * g + m[8] * b;
  }
}

/**
 * A star-shaped outline as its radius r(theta) in unit coordinates (1 = the sprite's half width
 * along x and half height along y), never above 1 so the shape fits its sprite.
 */
export function shapeRadius(rng: Rng, kind: ShapeKind): (theta: number) => number {
  switch (kind) {
    case 'ellipse':
      return () => 1;
    case 'rectangle':
      return (t) => Math.min(1 / Math.abs(Math.cos(t) || 1e-9), 1 / Math.abs(Math.sin(t) || 1e-9)) * 0.98;
    case 'polygon': {
      const n = 3 + rng.int(6);
      const angles = Array.from({ length: n }, (_, i) => ((i + rng.uniform(-0.3, 0.3)) / n) * 2 * Math.PI).sort((a, b) => a - b);
      const radii = angles.map(() => rng.uniform(0.6, 1));
      const px = angles.map((a, i) => radii[i] * Math.cos(a));
      const py = angles.map((a, i) => radii[i] * Math.sin(a));
      return (t) => {
        // The ray from the centre at angle t meets the edge between the two vertices around t.
        let a = t;
        while (a < angles[0]) a += 2 * Math.PI;
        while (a >= angles[0] + 2 * Math.PI) a -= 2 * Math.PI;
        let i = n - 1;
        for (let k = 0; k < n - 1; k++) {
          if (a < angles[k + 1]) {
            i = k;
            break;
          }
        }
        const j = (i + 1) % n;
        const [ux, uy] = [Math.cos(a), Math.sin(a)];
        const [ex, ey] = [px[j] - px[i], py[j] - py[i]];
        const denom = ux * ey - uy * ex;
        return Math.abs(denom) < 1e-9 ? radii[i] : (px[i] * ey - py[i] * ex) / denom;
      };
    }
    case 'blob': {
      const terms = [2, 3, 4, 5].map((k) => ({ k, a: rng.uniform(0, 0.25) / k, phase: rng.uniform(0, 2 * Math.PI) }));
      const peak = 0.7 + terms.reduce((s, t) => s + t.a, 0);
      return (t) => (0.7 + terms.reduce((s, term) => s + term.a * Math.cos(term.k * t + term.phase), 0)) / peak;
    }
  }
}

/** Anti-aliased alpha (0-255) of a shape filling a w x h sprite. */
export function shapeAlpha(radius: (theta: number) => number, w: number, h: number): Uint8Array {
  const alpha = new Uint8Array(w * h);
  const pxPerUnit = Math.min(w, h) / 2;
  for (let y = 0, i = 0; y < h; y++) {
    const ny = (y + 0.5 - h / 2) / (h / 2);
    for (let x = 0; x < w; x++, i++) {
      const nx = (x + 0.5 - w / 2) / (w / 2);
      const inside = (radius(Math.atan2(ny, nx)) - Math.hypot(nx, ny)) * pxPerUnit + 0.5;
      alpha[i] = Math.round(255 * Math.min(1, Math.max(0, inside)));
    }
  }
  return alpha;
}
