/** What every dataset reader shares: the Sequence type, image listing and ground-truth parsing. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box } from '../../contract/types.js';

export interface Sequence {
  name: string;
  framePaths: string[];
  /** One box per frame; null where the ground truth marks the target absent or is malformed. */
  groundTruth: (Box | null)[];
}

export const IMAGE_EXT = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

export async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/** Names of the sub-folders of `dir` (symbolic links to folders included), in natural order (seq2 before seq10). */
export async function subdirectories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error) => {
    throw new CtEdgeError('ERR_DATASET', `cannot read folder ${dir}: ${(error as Error).message}`, { cause: error });
  });
  const names: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() || (e.isSymbolicLink() && (await isDirectory(join(dir, e.name))))) names.push(e.name);
  }
  return names.sort(naturalCompare);
}

export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export async function listImages(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((error) => {
    throw new CtEdgeError('ERR_DATASET', `cannot read image folder ${dir}: ${(error as Error).message}`, { cause: error });
  });
  const images = names.filter((n) => IMAGE_EXT.test(n)).sort(naturalCompare);
  if (images.length === 0) throw new CtEdgeError('ERR_DATASET', `no images (jpg, png, bmp, webp, tiff) in ${dir}`);
  return images.map((n) => join(dir, n));
}

export async function readText(path: string, what: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => {
    throw new CtEdgeError('ERR_DATASET', `missing ${what} ${path}`);
  });
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

/** Per-frame 0/1 flags (GOT-10k's absence.label, LaSOT's full_occlusion.txt), split on commas or whitespace. */
export function parseFlags(text: string, source: string): boolean[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((v, i) => {
      if (v !== '0' && v !== '1') throw new CtEdgeError('ERR_DATASET', `${source}: value ${i + 1} should be 0 or 1, got '${v}'`);
      return v === '1';
    });
}

/**
 * Checks that the ground truth covers every frame and starts with a box to initialise from, and
 * drops boxes past the last frame (some OTB files carry extra lines).
 */
export function makeSequence(name: string, framePaths: string[], groundTruth: (Box | null)[], gtPath: string): Sequence {
  if (groundTruth.length < framePaths.length) {
    throw new CtEdgeError('ERR_DATASET', `${gtPath} has ${groundTruth.length} boxes for ${framePaths.length} frames`);
  }
  if (!groundTruth[0]) throw new CtEdgeError('ERR_DATASET', `${gtPath}: the first frame has no valid box to start the tracker from`);
  return { name, framePaths, groundTruth: groundTruth.slice(0, framePaths.length) };
}

/** Marks the frames flagged in `flags` (target absent) as having no ground truth. */
export function withoutFlagged(groundTruth: (Box | null)[], flags: readonly boolean[]): (Box | null)[] {
  return groundTruth.map((box, i) => (flags[i] ? null : box));
}
