/**
 * LaSOT layout: `<class>/<class>-N/img/00000001.jpg ...`, `groundtruth.txt` (`x,y,w,h` per frame),
 * `full_occlusion.txt` and `out_of_view.txt` (one line of comma-separated 0/1 per frame). Frames
 * flagged in either file count as target absent and are not scored (LaSOT annotates most of them
 * 0,0,0,0 anyway).
 */
import { basename, join } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import { isDirectory, isFile, listImages, makeSequence, parseBoxes, parseFlags, readText, withoutFlagged, type Sequence } from './common.js';

export async function readLasotSequence(dir: string): Promise<Sequence> {
  if (!(await isDirectory(dir))) throw new CtEdgeError('ERR_DATASET', `sequence folder not found: ${dir}`);
  const gtPath = join(dir, 'groundtruth.txt');
  let groundTruth = parseBoxes(await readText(gtPath, 'ground truth (LaSOT layout: img/ and groundtruth.txt)'), gtPath);
  for (const file of ['full_occlusion.txt', 'out_of_view.txt']) {
    const path = join(dir, file);
    if (await isFile(path)) groundTruth = withoutFlagged(groundTruth, parseFlags(await readText(path, 'visibility flags'), path));
  }
  return makeSequence(basename(dir), await listImages(join(dir, 'img')), groundTruth, gtPath);
}
