/**
 * GOT-10k layout: `<seq>/00000001.jpg ...` frames, `<seq>/groundtruth.txt` one `x,y,w,h` box per
 * frame, and an optional `<seq>/absence.label` (one 0/1 per frame; 1 = target absent, not scored).
 */
import { basename, join } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import { isDirectory, isFile, listImages, makeSequence, parseBoxes, parseFlags, readText, withoutFlagged, type Sequence } from './common.js';

export async function readGot10kSequence(dir: string): Promise<Sequence> {
  if (!(await isDirectory(dir))) throw new CtEdgeError('ERR_DATASET', `sequence folder not found: ${dir}`);
  const gtPath = join(dir, 'groundtruth.txt');
  let groundTruth = parseBoxes(await readText(gtPath, 'ground truth (GOT-10k layout: frames and groundtruth.txt)'), gtPath);
  const absencePath = join(dir, 'absence.label');
  if (await isFile(absencePath)) groundTruth = withoutFlagged(groundTruth, parseFlags(await readText(absencePath, 'absence labels'), absencePath));
  return makeSequence(basename(dir), await listImages(dir), groundTruth, gtPath);
}
