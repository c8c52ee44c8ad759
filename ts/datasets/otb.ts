/**
 * OTB layout: `<seq>/img/` frames in order (1-based names), `<seq>/groundtruth_rect.txt` one
 * `x,y,w,h` box per frame in 0-based pixels, separated by commas, tabs or spaces.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CtEdgeError } from '../runtime/errors.js';
import type { Box } from '../runtime/types.js';

export interface Sequence {
  name: string;
  framePaths: string[];
  /** One box per frame; null where the ground truth marks the target absent or is malformed. */
  groundTruth: (Box | null)[];
}

const IMAGE_EXT = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

export async function listImages(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((error) => {
    throw new CtEdgeError('ERR_DATASET', `cannot read image folder ${dir}: ${(error as Error).message}`, { cause: error });
  });
  const images = names.filter((n) => IMAGE_EXT.test(n)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (images.length === 0) throw new CtEdgeError('ERR_DATASET', `no images (jpg, png, bmp, webp, tiff) in ${dir}`);
  return images.map((n) => join(dir, n));
}

/** Parses one box per line; a line of NaNs or a non-positive size gives null (target absent). */
export function parseBoxes(text: string, source: string): (Box | null)[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const v = line.trim().split(/[\s,]+/).map(Number);
      if (v.length < 4) throw new CtEdgeError('ERR_DATASET', `${source}:${i + 1}: expected x,y,w,h, got '${line.trim()}'`);
      const [x, y, width, height] = v;
      if (![x, y, width, height].every(Number.isFinite) || width <= 0 || height <= 0) return null;
      return { x, y, width, height };
    });
}

export async function readOtbSequence(dir: string): Promise<Sequence> {
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    throw new CtEdgeError('ERR_DATASET', `sequence folder not found: ${dir}`);
  }
  const gtPath = join(dir, 'groundtruth_rect.txt');
  const text = await readFile(gtPath, 'utf8').catch(() => {
    throw new CtEdgeError('ERR_DATASET', `missing ground truth ${gtPath} (OTB layout: img/ and groundtruth_rect.txt)`);
  });
  const framePaths = await listImages(join(dir, 'img'));
  const groundTruth = parseBoxes(text, gtPath);
  if (groundTruth.length < framePaths.length) {
    throw new CtEdgeError('ERR_DATASET', `${gtPath} has ${groundTruth.length} boxes for ${framePaths.length} frames`);
  }
  return { name: basename(dir), framePaths, groundTruth: groundTruth.slice(0, framePaths.length) };
}
