/**
 * `--data SOURCE[@SHARE]`: what a training source on the command line names.
 *   synthetic[:easy=1,moderate=1]   generated clips (of that difficulty mix)
 *   a dataset folder                 labelled: GOT-10k, OTB, LaSOT or TrackingNet layout, found by trying each
 *   a COCO annotation file (.json)   labelled still images (images in the folder beside it, or images/)
 *   video files, image folders, DIR/*.EXT globs   unlabeled footage: the teacher picks and tracks targets
 *   stills:FOLDER, stills:DIR/*.jpg   unrelated still images: the teacher picks a target in each, and
 *                                    template and search come from the same image
 *   regions:VIDEOS, regions:stills:FOLDER   random regions of those frames as pairs (compress only;
 *                                    the teacher labels each crop: ts/train/data/regions.ts)
 *   composite:OBJECTS,BACKGROUNDS    labelled pairs of cut-out objects (PNGs with alpha, searched
 *                                    recursively) moving over photographs (ts/train/data/composite.ts)
 * SHARE (default 1) is the source's relative share of the pairs.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import { IMAGE_EXT, listImages } from '../../deploy/datasets/common.js';
import { DATASET_FORMATS, openDataset } from '../../deploy/datasets/dataset.js';
import type { DataSourceSpec } from '../data-source.js';
import type { ClipDifficulty } from './generator.js';

const bad = (text: string, what: string): never => {
  throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--data ${text}: ${what}`);
};

function parseMix(text: string, spec: string): Partial<Record<ClipDifficulty, number>> {
  const mix: Partial<Record<ClipDifficulty, number>> = {};
  for (const part of text.split(',')) {
    const [name, share = '1'] = part.split('=');
    if (!['easy', 'moderate', 'hard'].includes(name) || !(Number(share) > 0)) bad(spec, `synthetic takes difficulties easy, moderate, hard with positive shares (synthetic:easy=1,moderate=1), got '${text}'`);
    mix[name as ClipDifficulty] = Number(share);
  }
  return mix;
}

/** Files matching a glob whose wildcards are in its last segment (`clips/*.mp4`). */
async function expandGlob(pattern: string, text = pattern): Promise<string[]> {
  const dir = dirname(pattern);
  const re = new RegExp(`^${basename(pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const names = await readdir(dir).catch(() => bad(text, `no folder ${dir}`));
  return names.filter((n) => re.test(n)).sort().map((n) => join(dir, n));
}

/** Folders of Debian packages with training photographs (docs/TRAINING.md), by the package that brings them. */
const PACKAGE_FOLDERS: [string, string][] = [
  ['/usr/share/doc/opencv-doc/', 'opencv-doc'],
  ['/usr/lib/python3/dist-packages/skimage/', 'python3-skimage'],
  ['/usr/share/wallpapers/', 'plasma-workspace-wallpapers'],
  ['/usr/share/backgrounds/mate/', 'mate-backgrounds'],
  ['/usr/share/tuxpaint/stamps/', 'tuxpaint-stamps-default'],
];

/** '; sudo apt-get install PACKAGE brings it' where a missing folder belongs to a known package. */
function installHint(path: string): string {
  const known = PACKAGE_FOLDERS.find(([prefix]) => `${path}/`.startsWith(prefix));
  return known ? `; it comes with a Debian package: sudo apt-get install ${known[1]}` : '';
}

/** The image files a stills: source names (a folder of images or a glob), at least one. */
async function stillImages(path: string, text: string): Promise<string[]> {
  if (/[*?]/.test(path)) {
    const images = (await expandGlob(path, text)).filter((f) => IMAGE_EXT.test(f));
    return images.length > 0 ? images : bad(text, 'the pattern matches no image (jpg, png, bmp, webp, tiff)');
  }
  const info = await stat(path).catch(() => bad(text, `no such folder${installHint(path)}`));
  if (!info.isDirectory()) bad(text, 'stills: takes a folder of images or a pattern such as stills:photos/*.jpg');
  return listImages(path).catch((error: Error) => bad(text, error.message)); // no images, or an unreadable folder
}

/** Every .png below `dir` (object cut-outs: tuxpaint keeps them in nested folders), at least one. */
async function pngsUnder(dir: string, text: string): Promise<string[]> {
  const info = await stat(dir).catch(() => bad(text, `no such folder ${dir}${installHint(dir)}`));
  if (!info.isDirectory()) bad(text, `${dir} is not a folder of object images`);
  const found = (await readdir(dir, { recursive: true })).filter((f) => /\.png$/i.test(f)).sort().map((f) => join(dir, f));
  return found.length > 0 ? found : bad(text, `no PNG object images (with transparency) anywhere under ${dir}`);
}

/** One --data value as a source: labelled ones ready to open, footage to be pseudo-labelled. */
export async function parseDataSource(text: string): Promise<DataSourceSpec> {
  const at = text.lastIndexOf('@');
  const [source, shareText] = at > 0 && /^[\d.]+$/.test(text.slice(at + 1)) ? [text.slice(0, at), text.slice(at + 1)] : [text, '1'];
  const weight = Number(shareText);
  if (!(weight > 0)) bad(text, `the share after @ must be a positive number, got '${shareText}'`);
  if (source.startsWith('regions:')) {
    const innerText = source.slice('regions:'.length);
    const inner = await parseDataSource(innerText).catch((error: CtEdgeError) => {
      throw new CtEdgeError(error.code, error.message.replace(`--data ${innerText}`, `--data ${text}`), { cause: error });
    });
    if (inner.kind !== 'footage') bad(text, 'regions: takes unlabeled videos, image folders or stills:FOLDER (random regions of their frames), not a labelled dataset or generated clips');
    return { ...(inner as Extract<DataSourceSpec, { kind: 'footage' }>), weight, regions: true };
  }
  if (source.startsWith('composite:')) {
    const [objectsDir, backgroundsDir, ...rest] = source.slice('composite:'.length).split(',');
    if (!objectsDir || !backgroundsDir || rest.length) bad(text, 'composite: takes two folders, objects and backgrounds: composite:/usr/share/tuxpaint/stamps,photos');
    const objects = await pngsUnder(objectsDir, text);
    const backgrounds = await stillImages(backgroundsDir, text);
    return { kind: 'composite', weight, name: `${objectsDir},${backgroundsDir}`, objects, backgrounds };
  }
  if (source === 'synthetic' || source.startsWith('synthetic:')) {
    return { kind: 'synthetic', weight, ...(source.length > 'synthetic'.length && { mix: parseMix(source.slice('synthetic:'.length), text) }) };
  }
  if (source.startsWith('stills:')) return { kind: 'footage', weight, inputs: await stillImages(source.slice('stills:'.length), text), stills: true };
  if (/[*?]/.test(source)) {
    const inputs = await expandGlob(source);
    if (inputs.length === 0) bad(text, 'the pattern matches no file');
    return { kind: 'footage', weight, inputs };
  }
  const info = await stat(source).catch(() => bad(text, 'no such file or folder'));
  if (info.isFile()) {
    return /\.json$/i.test(source) ? { kind: 'coco', weight, annotations: source } : { kind: 'footage', weight, inputs: [source] };
  }
  for (const format of DATASET_FORMATS) {
    const opened = await openDataset(source, format).catch(() => undefined);
    if (opened && opened.sequences.length > 0) return { kind: 'dataset', weight, root: source, format };
  }
  const images = await listImages(source).catch(() => []);
  if (images.length > 0) return { kind: 'footage', weight, inputs: [source] };
  return bad(text, 'holds no labelled dataset (GOT-10k, OTB, LaSOT, TrackingNet layouts) and no images; give a dataset folder, a video, an image folder or synthetic');
}
