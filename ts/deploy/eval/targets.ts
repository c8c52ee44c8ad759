/**
 * Targets without labels: boxes that stand out from their surroundings. Used to start trackers on
 * footage nobody annotated (the teacher's tracks for label-free compression, agreement checks).
 *
 * Boxes on a grid (sides 10% and 16% of the shorter frame side, aspect 1:1, 1:2 and 2:1, stride
 * half a side) are ranked by the mean gradient magnitude inside over the mean in the ring around
 * them (half a side wide); the best that overlap no better one (IoU <= 0.1) are kept.
 */
import type { Box, Frame } from '../../contract/types.js';
import { toRgb } from '../io/convert.js';
import { iou } from './metrics.js';

/** Gradient magnitude of the frame's luma, with an integral image for box means. */
function gradientIntegral(frame: Frame): { sum: (x0: number, y0: number, x1: number, y1: number) => number } {
  const rgb = toRgb(frame);
  const { width: w, height: h } = rgb;
  const data = rgb.data instanceof ArrayBuffer ? new Uint8Array(rgb.data) : rgb.data;
  const luma = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) luma[i] = 0.299 * data[3 * i] + 0.587 * data[3 * i + 1] + 0.114 * data[3 * i + 2];
  const integral = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      const gx = x > 0 && x < w - 1 ? luma[y * w + x + 1] - luma[y * w + x - 1] : 0;
      const gy = y > 0 && y < h - 1 ? luma[(y + 1) * w + x] - luma[(y - 1) * w + x] : 0;
      row += Math.hypot(gx, gy);
      integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
    }
  }
  const clampX = (v: number) => Math.max(0, Math.min(w, Math.round(v)));
  const clampY = (v: number) => Math.max(0, Math.min(h, Math.round(v)));
  return {
    sum(x0, y0, x1, y1) {
      const [a, b, c, d] = [clampX(x0), clampY(y0), clampX(x1), clampY(y1)];
      return integral[d * (w + 1) + c] - integral[b * (w + 1) + c] - integral[d * (w + 1) + a] + integral[b * (w + 1) + a];
    },
  };
}

/** The `count` boxes of `frame` that stand out most from their surroundings. */
export function proposeTargets(frame: Frame, count: number): Box[] {
  const grad = gradientIntegral(frame);
  const m = Math.min(frame.width, frame.height);
  const candidates: { box: Box; score: number }[] = [];
  for (const side of [0.1 * m, 0.16 * m]) {
    for (const aspect of [1, 0.5, 2]) {
      const [bw, bh] = [side * Math.sqrt(aspect), side / Math.sqrt(aspect)];
      const ring = side / 2;
      for (let y = ring; y + bh + ring <= frame.height; y += side / 2) {
        for (let x = ring; x + bw + ring <= frame.width; x += side / 2) {
          const inside = grad.sum(x, y, x + bw, y + bh);
          const outer = grad.sum(x - ring, y - ring, x + bw + ring, y + bh + ring);
          const ringArea = (bw + 2 * ring) * (bh + 2 * ring) - bw * bh;
          const score = inside / (bw * bh) / ((outer - inside) / ringArea + 1);
          candidates.push({ box: { x: Math.round(x), y: Math.round(y), width: Math.round(bw), height: Math.round(bh) }, score });
        }
      }
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  const picked: Box[] = [];
  for (const c of candidates) {
    if (picked.length === count) break;
    if (picked.every((p) => iou(p, c.box) <= 0.1)) picked.push(c.box);
  }
  return picked;
}
