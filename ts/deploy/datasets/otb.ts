/**
 * OTB layout: `<seq>/img/` frames in order (1-based names), `<seq>/groundtruth_rect.txt` one
 * `x,y,w,h` box per frame in 0-based pixels, separated by commas, tabs or spaces.
 */
import { basename, join } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import { isDirectory, listImages, makeSequence, parseBoxes, readText, type Sequence } from './common.js';

export { listImages, parseBoxes, type Sequence } from './common.js';

export async function readOtbSequence(dir: string): Promise<Sequence> {
  if (!(await isDirectory(dir))) throw new CtEdgeError('ERR_DATASET', `sequence folder not found: ${dir}`);
  const gtPath = join(dir, 'groundtruth_rect.txt');
  const text = await readText(gtPath, 'ground truth (OTB layout: img/ and groundtruth_rect.txt)');
  const framePaths = await listImages(join(dir, 'img'));
  return makeSequence(basename(dir), framePaths, parseBoxes(text, gtPath), gtPath);
}
