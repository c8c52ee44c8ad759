/**
 * Training pairs from footage nobody labelled: the teacher picks its own targets and follows them.
 *
 * The rule, per video (or image folder), on its first `trainShare` of frames only (the rest stays
 * out of training, for agreement checks):
 *  1-2. every `every` frames, the `perStart` boxes that stand out most (proposeTargets,
 *     ts/deploy/eval/targets.ts: gradient contrast against the ring around them);
 *  3. the teacher tracks each from there for at most `span` frames, and the track ends at the first
 *     frame whose windowed peak score falls below `minScore` (stricter than the 0.2 a tracker
 *     reports lost at: only frames where the teacher is sure of the target make pairs);
 *  4. tracks of at least 3 frames are kept. Their boxes only place the crops: the compression
 *     objective takes each pair's target from the teacher's own output on that crop.
 * Still images (`stills`) are clips of one frame, all of them used (none is held out): in each,
 * the `perStart` boxes that stand out most, kept where the teacher, given the box as its template,
 * finds it again in the same image (windowed peak >= `minScore`, IoU >= 0.5 with the box). The
 * track is that image twice, so template and search crops come from one photo, as OSTrack trains
 * on COCO's stills.
 * Frames are written as JPEG beside the tracks file, which `trackSource` reads.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box } from '../../contract/types.js';
import type { Engine } from '../../deploy/engine.js';
import { iou } from '../../deploy/eval/metrics.js';
import { proposeTargets } from '../../deploy/eval/targets.js';
import { HELD_OUT_SHARE } from '../../deploy/eval/compare.js';
import { toRgb } from '../../deploy/io/convert.js';
import { readImage, writeImage } from '../../deploy/io/images.js';
import { openSource } from '../../deploy/io/open.js';
import { Tracker } from '../../deploy/tracker.js';

export interface Track {
  /** The footage it comes from. */
  video: string;
  /** Image files, one per tracked frame, in order. */
  frames: string[];
  boxes: Box[];
  /** The teacher's windowed peak score on each frame (the first, its template, is 1). */
  scores: number[];
}

export interface TracksFile {
  format: typeof TRACKS_FORMAT;
  /** What made the tracks: inputs, teacher, rule settings. A rerun with the same reuses them. */
  settings: Record<string, unknown>;
  /** Per input: frames in all, frames the tracks may use (the first trainShare), tracks. */
  videos: { video: string; frames: number; trainFrames: number; framesDir: string; tracks: number }[];
  tracks: Track[];
}

const TRACKS_FORMAT = 'ct-edge.tracks/1';

export interface PseudoLabelOptions {
  /** Share of each video's frames, from its start, that tracks may use (default 0.8). */
  trainShare?: number;
  /** Frames between starts (default 15). */
  every?: number;
  /** Targets picked per start (default 2). */
  perStart?: number;
  /** Longest track, frames (default 60). */
  span?: number;
  /** A track ends below this windowed peak score (default 0.35). */
  minScore?: number;
  /** The inputs are unrelated still images, each its own one-frame clip (see above). */
  stills?: boolean;
  /** Names the teacher in the settings (e.g. its checkpoint's sha256), so other teachers' tracks are not reused. */
  teacher?: string;
  /** The inputs' content hashes, recorded so that a cache is reused only for the same footage. */
  contents?: string[];
  /** Called after each input with its track count (stills: once, for all images). */
  onVideo?: (video: string, tracks: number) => void;
  /** Called as the teacher works through an input: frames (or images) done of its total, tracks kept so far. */
  onProgress?: (input: string, done: number, total: number, tracks: number) => void;
  /** Polled between starts (stills: between images): once true, labelling stops with ERR_STOPPED. */
  stopRequested?: () => boolean;
}

export const PSEUDO_LABEL_DEFAULTS = { trainShare: 1 - HELD_OUT_SHARE, every: 15, perStart: 2, span: 60, minScore: 0.35 };
/** How well the teacher's box must cover the proposed one in a still to keep it (it found the target itself, not a look-alike). */
const STILL_MIN_IOU = 0.5;

/**
 * Writes each input's frames as JPEG under `outDir` and the teacher's tracks to `outDir/tracks.json`
 * (returned). Stops with ERR_DATASET when an input has no readable frames, and when the teacher
 * held no target anywhere: a run never trains on nothing.
 */
export async function pseudoLabel(inputs: readonly string[], teacher: Engine, outDir: string, options: PseudoLabelOptions = {}): Promise<string> {
  const o = { ...PSEUDO_LABEL_DEFAULTS, ...options };
  if (!(o.trainShare > 0 && o.trainShare <= 1)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `trainShare must be in (0, 1], got ${o.trainShare}`);
  // A run that stops part-way must not leave an older tracks file beside frames it overwrote.
  await rm(join(outDir, 'tracks.json'), { force: true });
  const file: TracksFile = { format: TRACKS_FORMAT, settings: { inputs, contents: o.contents, teacher: o.teacher, trainShare: o.trainShare, every: o.every, perStart: o.perStart, span: o.span, minScore: o.minScore, stills: o.stills === true }, videos: [], tracks: [] };
  await (o.stills ? labelStills : labelVideos)(inputs, teacher, outDir, o, file);
  if (file.tracks.length === 0) {
    const where = o.stills ? `${inputs.length} still images (${inputs[0]} first; none it found again with a peak score >= ${o.minScore} and IoU >= ${STILL_MIN_IOU})` : `${inputs.join(', ')} (no track of 3 frames with a peak score >= ${o.minScore})`;
    throw new CtEdgeError('ERR_DATASET', `the teacher held no target in ${where}; this footage gives no training pairs`);
  }
  const out = join(outDir, 'tracks.json');
  await writeFile(out, JSON.stringify(file));
  return out;
}

/** ERR_STOPPED once a stop was asked for: nothing of the labelling is kept, a rerun labels again. */
function stopIfRequested(o: PseudoLabelOptions, input: string): void {
  if (o.stopRequested?.()) throw new CtEdgeError('ERR_STOPPED', `stopped while the teacher labelled ${input} (before any training step): rerun the same command to start again`);
}

/** The folder input `k` of `inputs` writes its frames to under `outDir`. */
export const framesDirOf = (outDir: string, k: number, input: string): string => join(outDir, `${k}-${basename(input, extname(input)).replace(/[^\w.-]/g, '_')}`);

/** Every frame of a video or image folder as JPEG in `framesDir` (000001.jpg, ...); their paths. */
export async function writeFrames(input: string, framesDir: string): Promise<string[]> {
  await mkdir(framesDir, { recursive: true });
  const paths: string[] = [];
  let source;
  try {
    source = await openSource(input);
  } catch (error) {
    throw new CtEdgeError('ERR_DATASET', `--data ${input}: cannot read frames from it (${(error as Error).message}); give a video file, an image folder or a dataset folder`, { cause: error });
  }
  try {
    for await (const { frame } of source) {
      const path = join(framesDir, `${String(paths.length + 1).padStart(6, '0')}.jpg`);
      await writeImage(path, toRgb(frame));
      paths.push(path);
    }
  } finally {
    await source.close();
  }
  if (paths.length === 0) throw new CtEdgeError('ERR_DATASET', `--data ${input}: no readable frames; give a video file or a folder of images`);
  return paths;
}

/** The footage rule (see the top of this file): each input's tracks appended to `file`. */
async function labelVideos(inputs: readonly string[], teacher: Engine, outDir: string, o: typeof PSEUDO_LABEL_DEFAULTS & PseudoLabelOptions, file: TracksFile): Promise<void> {
  for (const [k, input] of inputs.entries()) {
    const framesDir = framesDirOf(outDir, k, input);
    const paths = await writeFrames(input, framesDir);
    const trainFrames = Math.floor(paths.length * o.trainShare);
    const before = file.tracks.length;
    for (let start = 0; start + 2 < trainFrames; start += o.every) {
      stopIfRequested(o, input);
      const first = await readImage(paths[start]);
      for (const box of proposeTargets(first, o.perStart)) {
        const track: Track = { video: input, frames: [paths[start]], boxes: [box], scores: [1] };
        const tracker = new Tracker(teacher);
        try {
          tracker.init(first, box);
          for (let i = start + 1; i < Math.min(trainFrames, start + o.span); i++) {
            const r = await tracker.track(await readImage(paths[i]));
            if (r.score < o.minScore || r.state === 'lost' || r.box.width < 4 || r.box.height < 4) break;
            track.frames.push(paths[i]);
            track.boxes.push(r.box);
            track.scores.push(Number(r.score.toFixed(4)));
          }
        } finally {
          tracker.dispose();
        }
        if (track.frames.length >= 3) file.tracks.push(track);
      }
      const next = start + o.every;
      o.onProgress?.(input, next + 2 < trainFrames ? next : trainFrames, trainFrames, file.tracks.length - before);
    }
    file.videos.push({ video: input, frames: paths.length, trainFrames, framesDir, tracks: file.tracks.length - before });
    o.onVideo?.(input, file.tracks.length - before);
  }
}

/** The stills rule (see the top of this file): one clip per image, its tracks appended to `file`. */
async function labelStills(inputs: readonly string[], teacher: Engine, outDir: string, o: typeof PSEUDO_LABEL_DEFAULTS & PseudoLabelOptions, file: TracksFile): Promise<void> {
  const framesDir = join(outDir, 'stills');
  await mkdir(framesDir, { recursive: true });
  for (const [k, input] of inputs.entries()) {
    stopIfRequested(o, 'the still images');
    let image;
    try {
      image = await readImage(input);
    } catch (error) {
      if ((error as CtEdgeError).code !== 'ERR_FRAME_DATA') throw error;
      throw new CtEdgeError('ERR_DATASET', `--data stills: ${(error as Error).message}; remove it or convert it to JPEG or PNG`, { cause: error });
    }
    const path = join(framesDir, `${String(k + 1).padStart(6, '0')}.jpg`);
    await writeImage(path, image);
    const before = file.tracks.length;
    for (const box of proposeTargets(image, o.perStart)) {
      const tracker = new Tracker(teacher);
      try {
        tracker.init(image, box);
        const r = await tracker.track(image);
        if (r.state !== 'lost' && r.score >= o.minScore && iou(r.box, box) >= STILL_MIN_IOU && r.box.width >= 4 && r.box.height >= 4) {
          file.tracks.push({ video: input, frames: [path, path], boxes: [box, r.box], scores: [1, Number(r.score.toFixed(4))] });
        }
      } finally {
        tracker.dispose();
      }
    }
    file.videos.push({ video: input, frames: 1, trainFrames: 1, framesDir, tracks: file.tracks.length - before });
    o.onProgress?.('still images', k + 1, inputs.length, file.tracks.length);
  }
  o.onVideo?.(`${inputs.length} still images`, file.tracks.length);
}

/** A tracks file, checked. */
export async function readTracks(path: string): Promise<Track[]> {
  let file: TracksFile;
  try {
    file = JSON.parse(await readFile(path, 'utf8')) as TracksFile;
  } catch (error) {
    throw new CtEdgeError('ERR_DATASET', `cannot read the tracks file ${path}: ${(error as Error).message}`, { cause: error });
  }
  const ok = (t: Track) => Array.isArray(t?.frames) && Array.isArray(t?.boxes) && t.frames.length >= 2 && t.frames.length === t.boxes.length;
  if (file?.format !== TRACKS_FORMAT || !Array.isArray(file.tracks) || !file.tracks.every(ok)) {
    throw new CtEdgeError('ERR_DATASET', `${path} is not a ct-edge tracks file (${TRACKS_FORMAT}); make it again by rerunning the compression`);
  }
  if (file.tracks.length === 0) throw new CtEdgeError('ERR_DATASET', `${path} holds no tracks: this footage gives no training pairs`);
  return file.tracks;
}

/** The settings a tracks file was made with, or undefined when there is none (or it is unreadable). */
export async function tracksSettings(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as TracksFile).settings;
  } catch {
    return undefined;
  }
}
