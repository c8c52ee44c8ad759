/**
 * Generated clips on disk: GOT-10k layout (readable by ts/deploy/datasets/got10k.ts and by people), and a
 * contact sheet PNG (a grid of thumbnails with the ground-truth boxes drawn) to look at a set of
 * clips at a glance.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeImage } from '../../deploy/io/images.js';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box } from '../../contract/types.js';
import type { SyntheticClip } from './generator.js';

/**
 * Writes `<root>/<clip>/00000001.jpg ...`, `groundtruth.txt` (x,y,w,h per frame, the box also on
 * absent frames), `absence.label` (1 = target fully occluded) and `<root>/list.txt`.
 */
export async function writeGot10k(root: string, clips: readonly SyntheticClip[], onClip?: (clip: SyntheticClip) => void): Promise<void> {
  try {
    await mkdir(root, { recursive: true });
  } catch (error) {
    throw new CtEdgeError('ERR_DATASET', `cannot create output folder ${root}: ${(error as Error).message}`, { cause: error });
  }
  for (const clip of clips) {
    const dir = join(root, clip.name);
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < clip.length; i++) {
      await writeImage(join(dir, `${String(i + 1).padStart(8, '0')}.jpg`), clip.renderFrame(i));
    }
    const gt = clip.boxes.map((b) => [b.x, b.y, b.width, b.height].map((v) => v.toFixed(4)).join(',')).join('\n');
    await writeFile(join(dir, 'groundtruth.txt'), `${gt}\n`);
    await writeFile(join(dir, 'absence.label'), `${clip.visible.map((v) => (v ? '0' : '1')).join('\n')}\n`);
    onClip?.(clip);
  }
  await writeFile(join(root, 'list.txt'), `${clips.map((c) => c.name).join('\n')}\n`);
}

export interface ContactSheetOptions {
  /** Frames shown per clip, evenly spaced from the first to the last (default 6). */
  columns?: number;
  /** Thumbnail width in pixels (default 160). */
  thumbWidth?: number;
}

const GAP = 4;
const VISIBLE_COLOUR = [40, 255, 40];
const ABSENT_COLOUR = [255, 40, 40];

/**
 * One row per clip: thumbnails with the ground-truth box in green, or in red on frames where the
 * target is marked absent.
 */
export async function writeContactSheet(path: string, clips: readonly SyntheticClip[], options: ContactSheetOptions = {}): Promise<void> {
  if (clips.length === 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'a contact sheet needs at least one clip');
  const columns = options.columns ?? 6;
  const tw = options.thumbWidth ?? 160;
  const th = Math.round((tw * clips[0].height) / clips[0].width);
  const sheetW = columns * (tw + GAP) + GAP;
  const sheetH = clips.length * (th + GAP) + GAP;
  const sheet = new Uint8Array(sheetW * sheetH * 3).fill(32);
  clips.forEach((clip, row) => {
    for (let col = 0; col < columns; col++) {
      const index = Math.round((col * (clip.length - 1)) / Math.max(1, columns - 1));
      const frame = clip.renderFrame(index);
      const left = GAP + col * (tw + GAP);
      const top = GAP + row * (th + GAP);
      paste(sheet, sheetW, left, top, tw, th, frame.data as Uint8Array, clip.width, clip.height);
      drawBox(sheet, sheetW, left, top, tw, th, clip.boxes[index], tw / clip.width, th / clip.height, clip.visible[index] ? VISIBLE_COLOUR : ABSENT_COLOUR);
    }
  });
  await sharp(sheet, { raw: { width: sheetW, height: sheetH, channels: 3 } }).png().toFile(path);
}

/** Area-averaged downscale of an RGB image into a w x h cell of the sheet. */
function paste(sheet: Uint8Array, sheetW: number, left: number, top: number, w: number, h: number, src: Uint8Array, sw: number, sh: number): void {
  for (let ty = 0; ty < h; ty++) {
    const y0 = Math.floor((ty * sh) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((ty + 1) * sh) / h));
    for (let tx = 0; tx < w; tx++) {
      const x0 = Math.floor((tx * sw) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((tx + 1) * sw) / w));
      const sum = [0, 0, 0];
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) sum[c] += src[(y * sw + x) * 3 + c];
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 3; c++) sheet[((top + ty) * sheetW + left + tx) * 3 + c] = Math.round(sum[c] / n);
    }
  }
}

/** The box in `colour` with a dark outline around it, so it shows on any background. */
function drawBox(sheet: Uint8Array, sheetW: number, left: number, top: number, w: number, h: number, box: Box, kx: number, ky: number, colour: number[]): void {
  const clamp = (v: number, hi: number) => Math.min(hi - 1, Math.max(0, Math.round(v)));
  const x0 = clamp(box.x * kx, w);
  const y0 = clamp(box.y * ky, h);
  const x1 = clamp((box.x + box.width) * kx, w);
  const y1 = clamp((box.y + box.height) * ky, h);
  const rect = (grow: number, rgb: number[]) => {
    const [ax, ay, bx, by] = [Math.max(0, x0 - grow), Math.max(0, y0 - grow), Math.min(w - 1, x1 + grow), Math.min(h - 1, y1 + grow)];
    const set = (x: number, y: number) => sheet.set(rgb, ((top + y) * sheetW + left + x) * 3);
    for (let x = ax; x <= bx; x++) [ay, by].forEach((y) => set(x, y));
    for (let y = ay; y <= by; y++) [ax, bx].forEach((x) => set(x, y));
  };
  rect(1, [0, 0, 0]);
  rect(0, colour);
}
