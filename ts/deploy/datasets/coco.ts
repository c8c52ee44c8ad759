/**
 * Still images with boxes in COCO's JSON (`instances_*.json`): every non-crowd object is one
 * training "sequence" of a single image, as OSTrack uses COCO (the pair sampler makes a template and
 * a search crop from the same image, the jitter standing in for motion).
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box } from '../../contract/types.js';
import { isDirectory } from './common.js';

export interface CocoObject {
  imagePath: string;
  box: Box;
  categoryId: number;
}

export interface CocoDataset {
  annotationFile: string;
  imageDir: string;
  objects: CocoObject[];
  /** Annotations left out: crowd regions and boxes under 1 px wide or high. */
  skipped: number;
}

/**
 * COCO keeps `annotations/instances_<split>.json` beside `<split>/`; other layouts name the image
 * folder explicitly, or keep the images next to the JSON.
 */
function defaultImageDir(annotationFile: string): string {
  const split = /^instances_(.+)\.json$/.exec(basename(annotationFile))?.[1];
  const folder = dirname(annotationFile);
  if (split && basename(folder) === 'annotations') return join(dirname(folder), split);
  return folder;
}

function fail(file: string, what: string): never {
  throw new CtEdgeError('ERR_DATASET', `${file} is not a COCO annotation file: ${what}`);
}

export async function openCoco(annotationFile: string, imageDir?: string): Promise<CocoDataset> {
  const file = resolve(annotationFile);
  const text = await readFile(file, 'utf8').catch((error) => {
    throw new CtEdgeError('ERR_DATASET', `cannot read COCO annotations ${file}: ${(error as Error).message}`, { cause: error });
  });
  const images = resolve(imageDir ?? defaultImageDir(file));
  if (!(await isDirectory(images))) {
    throw new CtEdgeError('ERR_DATASET', `COCO image folder not found: ${images} (pass the folder that holds the images named in ${basename(file)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CtEdgeError('ERR_DATASET', `${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const root = json as { images?: unknown; annotations?: unknown };
  if (typeof json !== 'object' || json === null || !Array.isArray(root.images) || !Array.isArray(root.annotations)) {
    fail(file, 'expected an object with "images" and "annotations" arrays');
  }
  const fileNames = new Map<number, string>();
  root.images.forEach((image: { id?: unknown; file_name?: unknown }, i: number) => {
    if (typeof image?.id !== 'number' || typeof image.file_name !== 'string') fail(file, `images[${i}] needs a numeric "id" and a "file_name"`);
    fileNames.set(image.id, image.file_name);
  });
  const objects: CocoObject[] = [];
  let skipped = 0;
  root.annotations.forEach((a: { image_id?: unknown; bbox?: unknown; iscrowd?: unknown; category_id?: unknown }, i: number) => {
    const name = typeof a?.image_id === 'number' ? fileNames.get(a.image_id) : undefined;
    if (name === undefined) fail(file, `annotations[${i}] refers to image_id ${String(a?.image_id)}, which is not in "images"`);
    const b = a.bbox;
    if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      fail(file, `annotations[${i}].bbox should be [x, y, width, height], got ${JSON.stringify(b)}`);
    }
    if (a.iscrowd === 1 || b[2] < 1 || b[3] < 1) {
      skipped++;
      return;
    }
    objects.push({ imagePath: join(images, name), box: { x: b[0], y: b[1], width: b[2], height: b[3] }, categoryId: Number(a.category_id ?? 0) });
  });
  if (objects.length === 0) throw new CtEdgeError('ERR_DATASET', `${file} has no usable (non-crowd, at least 1x1 px) boxes`);
  return { annotationFile: file, imageDir: images, objects, skipped };
}
