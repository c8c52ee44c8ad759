/**
 * TrackingNet layout, per chunk (`TRAIN_0` ... `TEST`): `frames/<seq>/0.jpg, 1.jpg ...` and
 * `anno/<seq>.txt` (`x,y,w,h` per frame). The test chunk's files hold only the first box, so its
 * sequences cannot be scored and are reported as skipped.
 */
import { join } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import { isDirectory, listImages, makeSequence, parseBoxes, readText, type Sequence } from './common.js';

/** Reads sequence `name` of the chunk folder `chunk` (the one holding frames/ and anno/). */
export async function readTrackingNetSequence(chunk: string, name: string): Promise<Sequence> {
  const framesDir = join(chunk, 'frames', name);
  if (!(await isDirectory(framesDir))) throw new CtEdgeError('ERR_DATASET', `frame folder not found: ${framesDir}`);
  const gtPath = join(chunk, 'anno', `${name}.txt`);
  const groundTruth = parseBoxes(await readText(gtPath, 'ground truth (TrackingNet layout: frames/<seq>/ and anno/<seq>.txt)'), gtPath);
  return makeSequence(name, await listImages(framesDir), groundTruth, gtPath);
}
