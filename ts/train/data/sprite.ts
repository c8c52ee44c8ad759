/**
 * Sprites (an RGB texture with an alpha mask) and the compositing of a sprite into a frame under a
 * similarity-plus-stretch transform, bilinear in both colour and alpha.
 */

export interface Sprite {
  width: number;
  height: number;
  /** Interleaved RGB, 0-255. */
  rgb: Float32Array;
  /** 0-255 per pixel. */
  alpha: Uint8Array;
  /** Convex hull of the opaque pixels (alpha >= 128), as x,y pairs relative to the sprite centre. */
  hull: Float32Array;
}

/** Where a sprite sits in one frame: centre, scale along its own x and y axes, rotation (radians). */
export interface Placement {
  cx: number;
  cy: number;
  sx: number;
  sy: number;
  angle: number;
}

export function makeSprite(width: number, height: number, rgb: Float32Array, alpha: Uint8Array): Sprite {
  return { width, height, rgb, alpha, hull: opaqueHull(width, height, alpha) };
}

/** Monotone-chain convex hull of the corners of every opaque pixel (only each row's extremes matter). */
function opaqueHull(w: number, h: number, alpha: Uint8Array): Float32Array {
  const points: [number, number][] = [];
  for (let y = 0; y < h; y++) {
    let lo = -1;
    let hi = -1;
    for (let x = 0; x < w; x++) {
      if (alpha[y * w + x] >= 128) {
        if (lo < 0) lo = x;
        hi = x;
      }
    }
    if (lo >= 0) points.push([lo, y], [lo, y + 1], [hi + 1, y], [hi + 1, y + 1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list: [number, number][]) => {
    const out: [number, number][] = [];
    for (const p of list) {
      while (out.length >= 2 && cross(out[out.length - 2], out[out.length - 1], p) <= 0) out.pop();
      out.push(p);
    }
    out.pop();
    return out;
  };
  const hull = [...half(points), ...half([...points].reverse())];
  return Float32Array.from(hull.flatMap(([x, y]) => [x - w / 2, y - h / 2]));
}

/** Axis-aligned bounds (x0, y0, x1, y1) of the sprite's opaque hull under `p`, in frame pixels. */
export function placedBounds(sprite: Sprite, p: Placement): [number, number, number, number] {
  const [c, s] = [Math.cos(p.angle), Math.sin(p.angle)];
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < sprite.hull.length; i += 2) {
    const lx = sprite.hull[i] * p.sx;
    const ly = sprite.hull[i + 1] * p.sy;
    const x = p.cx + c * lx - s * ly;
    const y = p.cy + s * lx + c * ly;
    [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  }
  return [x0, y0, x1, y1];
}

/** Frame point -> sprite pixel coordinates (continuous, pixel centres at i + 0.5). */
export function toSprite(sprite: Sprite, p: Placement, x: number, y: number): [number, number] {
  const [c, s] = [Math.cos(p.angle), Math.sin(p.angle)];
  const dx = x - p.cx;
  const dy = y - p.cy;
  return [(c * dx + s * dy) / p.sx + sprite.width / 2, (-s * dx + c * dy) / p.sy + sprite.height / 2];
}

/** Bilinear alpha (0-1) of the sprite at sprite coordinates (u, v); 0 outside it. */
export function alphaAt(sprite: Sprite, u: number, v: number): number {
  const fu = u - 0.5;
  const fv = v - 0.5;
  const iu = Math.floor(fu);
  const iv = Math.floor(fv);
  if (iu < -1 || iv < -1 || iu >= sprite.width || iv >= sprite.height) return 0;
  const tu = fu - iu;
  const tv = fv - iv;
  const a = (x: number, y: number) => (x < 0 || y < 0 || x >= sprite.width || y >= sprite.height ? 0 : sprite.alpha[y * sprite.width + x]);
  const top = a(iu, iv) + (a(iu + 1, iv) - a(iu, iv)) * tu;
  const bottom = a(iu, iv + 1) + (a(iu + 1, iv + 1) - a(iu, iv + 1)) * tu;
  return (top + (bottom - top) * tv) / 255;
}

/**
 * Visits every frame pixel the placed sprite may touch with its sprite coordinates (u, v); the
 * mapping is affine, so it advances by constant steps along a row.
 */
function forEachCovered(
  sprite: Sprite,
  p: Placement,
  width: number,
  height: number,
  visit: (index: number, u: number, v: number) => void,
): void {
  const r = 0.5 * Math.hypot(sprite.width * p.sx, sprite.height * p.sy) + 1;
  const xa = Math.max(0, Math.floor(p.cx - r));
  const xb = Math.min(width, Math.ceil(p.cx + r));
  const ya = Math.max(0, Math.floor(p.cy - r));
  const yb = Math.min(height, Math.ceil(p.cy + r));
  const [c, s] = [Math.cos(p.angle), Math.sin(p.angle)];
  const du = c / p.sx;
  const dv = -s / p.sy;
  for (let y = ya; y < yb; y++) {
    let [u, v] = toSprite(sprite, p, xa + 0.5, y + 0.5);
    for (let x = xa; x < xb; x++, u += du, v += dv) {
      if (u > -0.5 && v > -0.5 && u < sprite.width + 0.5 && v < sprite.height + 0.5) visit(y * width + x, u, v);
    }
  }
}

/** Alpha-blends the placed sprite over `dst` (interleaved RGB floats, width x height). */
export function drawSprite(dst: Float32Array, width: number, height: number, sprite: Sprite, p: Placement): void {
  const { rgb, alpha, width: sw, height: sh } = sprite;
  forEachCovered(sprite, p, width, height, (index, u, v) => {
    const fu = u - 0.5;
    const fv = v - 0.5;
    const iu = Math.floor(fu);
    const iv = Math.floor(fv);
    const tu = fu - iu;
    const tv = fv - iv;
    // Alpha-weighted bilinear taps, so transparent neighbours add no colour at the edges.
    let a = 0;
    let r = 0;
    let g = 0;
    let b = 0;
    for (let k = 0; k < 4; k++) {
      const x = iu + (k & 1);
      const y = iv + (k >> 1);
      if (x < 0 || y < 0 || x >= sw || y >= sh) continue;
      const w = ((k & 1 ? tu : 1 - tu) * (k >> 1 ? tv : 1 - tv) * alpha[y * sw + x]) / 255;
      const o = (y * sw + x) * 3;
      a += w;
      r += w * rgb[o];
      g += w * rgb[o + 1];
      b += w * rgb[o + 2];
    }
    if (a <= 0.001) return;
    const o = index * 3;
    dst[o] += r - a * dst[o];
    dst[o + 1] += g - a * dst[o + 1];
    dst[o + 2] += b - a * dst[o + 2];
  });
}

/** Sets `mask` to `value` wherever the placed sprite is at least half opaque. */
export function maskSprite(mask: Uint8Array, width: number, height: number, sprite: Sprite, p: Placement, value: 0 | 1): void {
  forEachCovered(sprite, p, width, height, (index, u, v) => {
    if (alphaAt(sprite, u, v) >= 0.5) mask[index] = value;
  });
}
