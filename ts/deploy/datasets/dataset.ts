/**
 * A dataset folder of sequences in one of the known layouts. Opening it reads every sequence's
 * frame list and ground truth up front; a sequence that cannot be read (missing or malformed ground
 * truth, no frames) is reported by name in `skipped` and left out instead of failing the whole run.
 */
import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import { isDirectory, isFile, naturalCompare, subdirectories, type Sequence } from './common.js';
import { readGot10kSequence } from './got10k.js';
import { readLasotSequence } from './lasot.js';
import { readOtbSequence } from './otb.js';
import { readTrackingNetSequence } from './trackingnet.js';

export const DATASET_FORMATS = ['otb', 'got10k', 'lasot', 'trackingnet'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export interface SkippedSequence {
  name: string;
  reason: string;
}

export interface Dataset {
  root: string;
  format: DatasetFormat;
  sequences: Sequence[];
  skipped: SkippedSequence[];
}

interface Entry {
  name: string;
  read(): Promise<Sequence>;
}

const LAYOUTS: Record<DatasetFormat, string> = {
  otb: '<seq>/img/*.jpg and <seq>/groundtruth_rect.txt',
  got10k: '<seq>/00000001.jpg ... and <seq>/groundtruth.txt',
  lasot: '<class>/<class>-N/img/*.jpg and <class>/<class>-N/groundtruth.txt',
  trackingnet: '[<chunk>/]frames/<seq>/0.jpg ... and [<chunk>/]anno/<seq>.txt',
};

/** OTB and GOT-10k: every sub-folder is a sequence, or `root` itself when it holds `gtFile`. */
async function flatEntries(root: string, gtFile: string, read: (dir: string) => Promise<Sequence>): Promise<Entry[]> {
  if (await isFile(join(root, gtFile))) return [{ name: basename(root), read: () => read(root) }];
  return (await subdirectories(root)).map((name) => ({ name, read: () => read(join(root, name)) }));
}

/** LaSOT: `<class>/<class>-N/`; `root` may also be one class folder or one sequence. */
async function lasotEntries(root: string): Promise<Entry[]> {
  if (await isDirectory(join(root, 'img'))) return [{ name: basename(root), read: () => readLasotSequence(root) }];
  const entries: Entry[] = [];
  for (const child of await subdirectories(root)) {
    const dir = join(root, child);
    const sequenceDirs = (await isDirectory(join(dir, 'img'))) ? [dir] : (await subdirectories(dir)).map((s) => join(dir, s));
    for (const seq of sequenceDirs) entries.push({ name: basename(seq), read: () => readLasotSequence(seq) });
  }
  return entries;
}

/** TrackingNet: `root` is one chunk (frames/ and anno/) or holds several (TRAIN_0, ..., TEST). */
async function trackingNetEntries(root: string): Promise<Entry[]> {
  const chunks = (await isDirectory(join(root, 'anno'))) ? [root] : (await subdirectories(root)).map((c) => join(root, c));
  const entries: Entry[] = [];
  for (const chunk of chunks) {
    const annoDir = join(chunk, 'anno');
    if (!(await isDirectory(annoDir))) continue;
    const names = (await readdir(annoDir)).filter((n) => n.endsWith('.txt')).map((n) => n.slice(0, -4)).sort(naturalCompare);
    for (const name of names) entries.push({ name, read: () => readTrackingNetSequence(chunk, name) });
  }
  return entries;
}

export function parseDatasetFormat(text: string): DatasetFormat {
  if (!(DATASET_FORMATS as readonly string[]).includes(text)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `unknown dataset format '${text}'; use one of ${DATASET_FORMATS.join(', ')}`);
  }
  return text as DatasetFormat;
}

/**
 * Reads the dataset at `root`. `names` keeps only those sequences (in the given order); naming one
 * that does not exist is an error, since it is almost always a typo.
 */
export async function openDataset(root: string, format: DatasetFormat, names?: readonly string[]): Promise<Dataset> {
  const dir = resolve(root);
  if (!(await isDirectory(dir))) {
    if (await isFile(dir)) {
      throw new CtEdgeError(
        'ERR_DATASET',
        `${root} is a file, not a dataset folder of labelled sequences; to judge models on an unlabeled video use \`ct-edge compare --model A --model B ${root}\` (agreement with the first model), to time them \`ct-edge bench --sequence ${root}\``,
      );
    }
    throw new CtEdgeError('ERR_DATASET', `dataset folder not found: ${dir}`);
  }
  let entries =
    format === 'otb'
      ? await flatEntries(dir, 'groundtruth_rect.txt', readOtbSequence)
      : format === 'got10k'
        ? await flatEntries(dir, 'groundtruth.txt', readGot10kSequence)
        : format === 'lasot'
          ? await lasotEntries(dir)
          : await trackingNetEntries(dir);
  if (names) {
    const missing = names.filter((n) => !entries.some((e) => e.name === n));
    if (missing.length > 0) throw new CtEdgeError('ERR_DATASET', `no sequence named ${missing.join(', ')} in ${dir}`);
    entries = names.map((n) => entries.find((e) => e.name === n)!);
  }
  const sequences: Sequence[] = [];
  const skipped: SkippedSequence[] = [];
  for (const entry of entries) {
    try {
      sequences.push(await entry.read());
    } catch (error) {
      if (!(error instanceof CtEdgeError)) throw error;
      skipped.push({ name: entry.name, reason: error.message });
    }
  }
  if (sequences.length === 0) {
    const why = skipped.length > 0 ? ` (${skipped.length} skipped; first: ${skipped[0].name}: ${skipped[0].reason})` : '';
    throw new CtEdgeError('ERR_DATASET', `no readable ${format} sequences in ${dir}${why}. Expected layout: ${LAYOUTS[format]}`);
  }
  return { root: dir, format, sequences, skipped };
}
