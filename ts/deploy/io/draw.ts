/**
 * Overlays drawn in place on tight RGB frames (convert others with toRgb): rectangles and text in
 * a 5x7 bitmap font, enough to show the box, the score and the lost state without a canvas library.
 */
import { CtEdgeError } from '../../contract/errors.js';
import type { Box, Frame, TrackState } from '../../contract/types.js';
import { bytesOf } from './convert.js';

export type Rgb = readonly [number, number, number];

export const COLORS = { tracking: [40, 220, 60], lost: [240, 40, 40], text: [255, 255, 255], shadow: [0, 0, 0] } as const satisfies Record<string, Rgb>;

/** 5x7 glyphs, one byte per column, bit 0 the top row (the classic HD44780 / GLCD font). */
const FONT: Record<string, readonly number[]> = {
  ' ': [0x00, 0x00, 0x00, 0x00, 0x00],
  '0': [0x3e, 0x51, 0x49, 0x45, 0x3e],
  '1': [0x00, 0x42, 0x7f, 0x40, 0x00],
  '2': [0x42, 0x61, 0x51, 0x49, 0x46],
  '3': [0x21, 0x41, 0x45, 0x4b, 0x31],
  '4': [0x18, 0x14, 0x12, 0x7f, 0x10],
  '5': [0x27, 0x45, 0x45, 0x45, 0x39],
  '6': [0x3c, 0x4a, 0x49, 0x49, 0x30],
  '7': [0x01, 0x71, 0x09, 0x05, 0x03],
  '8': [0x36, 0x49, 0x49, 0x49, 0x36],
  '9': [0x06, 0x49, 0x49, 0x29, 0x1e],
  '.': [0x00, 0x60, 0x60, 0x00, 0x00],
  ':': [0x00, 0x36, 0x36, 0x00, 0x00],
  '-': [0x08, 0x08, 0x08, 0x08, 0x08],
  '=': [0x14, 0x14, 0x14, 0x14, 0x14],
  '/': [0x20, 0x10, 0x08, 0x04, 0x02],
  '#': [0x14, 0x7f, 0x14, 0x7f, 0x14],
  '%': [0x23, 0x13, 0x08, 0x64, 0x62],
  A: [0x7e, 0x11, 0x11, 0x11, 0x7e],
  B: [0x7f, 0x49, 0x49, 0x49, 0x36],
  C: [0x3e, 0x41, 0x41, 0x41, 0x22],
  D: [0x7f, 0x41, 0x41, 0x22, 0x1c],
  E: [0x7f, 0x49, 0x49, 0x49, 0x41],
  F: [0x7f, 0x09, 0x09, 0x09, 0x01],
  G: [0x3e, 0x41, 0x49, 0x49, 0x7a],
  H: [0x7f, 0x08, 0x08, 0x08, 0x7f],
  I: [0x00, 0x41, 0x7f, 0x41, 0x00],
  J: [0x20, 0x40, 0x41, 0x3f, 0x01],
  K: [0x7f, 0x08, 0x14, 0x22, 0x41],
  L: [0x7f, 0x40, 0x40, 0x40, 0x40],
  M: [0x7f, 0x02, 0x0c, 0x02, 0x7f],
  N: [0x7f, 0x04, 0x08, 0x10, 0x7f],
  O: [0x3e, 0x41, 0x41, 0x41, 0x3e],
  P: [0x7f, 0x09, 0x09, 0x09, 0x06],
  Q: [0x3e, 0x41, 0x51, 0x21, 0x5e],
  R: [0x7f, 0x09, 0x19, 0x29, 0x46],
  S: [0x46, 0x49, 0x49, 0x49, 0x31],
  T: [0x01, 0x01, 0x7f, 0x01, 0x01],
  U: [0x3f, 0x40, 0x40, 0x40, 0x3f],
  V: [0x1f, 0x20, 0x40, 0x20, 0x1f],
  W: [0x3f, 0x40, 0x38, 0x40, 0x3f],
  X: [0x63, 0x14, 0x08, 0x14, 0x63],
  Y: [0x07, 0x08, 0x70, 0x08, 0x07],
  Z: [0x61, 0x51, 0x49, 0x45, 0x43],
};

interface Canvas {
  data: Uint8Array;
  stride: number;
  width: number;
  height: number;
}

function canvas(frame: Frame): Canvas {
  if (frame.format !== 'rgb') throw new CtEdgeError('ERR_FRAME_FORMAT', `drawing needs an rgb frame, got ${frame.format}; convert it with toRgb() first`);
  return { data: bytesOf(frame), stride: frame.stride ?? frame.width * 3, width: frame.width, height: frame.height };
}

function fill(c: Canvas, x: number, y: number, width: number, height: number, color: Rgb): void {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(c.width, Math.round(x + width));
  const y1 = Math.min(c.height, Math.round(y + height));
  for (let j = y0; j < y1; j++) {
    for (let i = x0; i < x1; i++) {
      const o = j * c.stride + i * 3;
      c.data[o] = color[0];
      c.data[o + 1] = color[1];
      c.data[o + 2] = color[2];
    }
  }
}

/** Fills a rectangle, clipped to the frame. */
export function fillRect(frame: Frame, x: number, y: number, width: number, height: number, color: Rgb): void {
  fill(canvas(frame), x, y, width, height, color);
}

/** The outline of a box, `thickness` pixels wide inside it, clipped to the frame. */
export function drawRect(frame: Frame, box: Box, color: Rgb, thickness = 2): void {
  const c = canvas(frame);
  const t = Math.max(1, Math.min(thickness, box.width / 2, box.height / 2));
  fill(c, box.x, box.y, box.width, t, color);
  fill(c, box.x, box.y + box.height - t, box.width, t, color);
  fill(c, box.x, box.y, t, box.height, color);
  fill(c, box.x + box.width - t, box.y, t, box.height, color);
}

/** Width in pixels of `text` at `scale` (6 columns a character, one of them spacing). */
export function textWidth(text: string, scale = 2): number {
  return text.length * 6 * scale;
}

/** Text in the 5x7 font with its top-left corner at (x, y); lower case is drawn as upper case, unknown characters as blanks. */
export function drawText(frame: Frame, text: string, x: number, y: number, color: Rgb, scale = 2): void {
  const c = canvas(frame);
  let cx = Math.round(x);
  for (const ch of text.toUpperCase()) {
    const glyph = FONT[ch] ?? FONT[' '];
    glyph.forEach((column, i) => {
      for (let row = 0; row < 7; row++) {
        if (column & (1 << row)) fill(c, cx + i * scale, y + row * scale, scale, scale, color);
      }
    });
    cx += 6 * scale;
  }
}

/** Text on a black band, which keeps it readable on any background. */
export function drawLabel(frame: Frame, text: string, x: number, y: number, color: Rgb, scale = 2): void {
  fillRect(frame, x, y, textWidth(text, scale) + scale, 9 * scale, COLORS.shadow);
  drawText(frame, text, x + scale, y + scale, color, scale);
}

export interface Annotation {
  box: Box;
  score: number;
  /** `idle` (a stream with no target): only the frame number is drawn. */
  state: TrackState | 'idle';
  index?: number;
}

/**
 * A tracking result on its frame: the box (green while tracking, red when lost) with the score
 * above it, and the frame number and a LOST banner in the top-left corner. An idle result (no
 * target) draws the frame number only.
 */
export function drawResult(frame: Frame, r: Annotation): void {
  const color = r.state === 'lost' ? COLORS.lost : COLORS.tracking;
  const scale = frame.width >= 960 ? 3 : 2;
  if (r.state === 'idle') {
    if (r.index !== undefined) drawLabel(frame, `#${r.index}`, 4, 4, COLORS.text, scale);
    return;
  }
  drawRect(frame, r.box, color, scale);
  const label = r.score.toFixed(2);
  const above = r.box.y - 9 * scale - 1;
  drawLabel(frame, label, Math.min(Math.max(0, r.box.x), frame.width - textWidth(label, scale)), above >= 0 ? above : r.box.y + r.box.height + 1, color, scale);
  const banner = `${r.index !== undefined ? `#${r.index} ` : ''}${r.state === 'lost' ? 'LOST' : ''}`.trim();
  if (banner) drawLabel(frame, banner, 4, 4, r.state === 'lost' ? COLORS.lost : COLORS.text, scale);
}

/** One colour per target of a group (cycled), none of them the lost red. */
export const TARGET_COLORS: readonly Rgb[] = [
  [40, 220, 60],
  [60, 140, 255],
  [255, 200, 40],
  [230, 80, 230],
  [40, 220, 220],
  [255, 140, 40],
  [160, 110, 255],
  [200, 255, 120],
];

/**
 * A group's results on their frame: each target's box in its own colour (TARGET_COLORS by id),
 * labelled with its id and score, or with its id and LOST in red when lost; the frame number in the
 * top-left corner.
 */
export function drawTargets(frame: Frame, index: number, targets: readonly { id: number; box: Box; score: number; state: TrackState }[]): void {
  const scale = frame.width >= 960 ? 3 : 2;
  for (const t of targets) {
    const color = TARGET_COLORS[(t.id - 1) % TARGET_COLORS.length];
    drawRect(frame, t.box, color, scale);
    const label = `${t.id} ${t.state === 'lost' ? 'LOST' : t.score.toFixed(2)}`;
    const above = t.box.y - 9 * scale - 1;
    drawLabel(frame, label, Math.min(Math.max(0, t.box.x), frame.width - textWidth(label, scale)), above >= 0 ? above : t.box.y + t.box.height + 1, t.state === 'lost' ? COLORS.lost : color, scale);
  }
  drawLabel(frame, `#${index}`, 4, 4, COLORS.text, scale);
}
