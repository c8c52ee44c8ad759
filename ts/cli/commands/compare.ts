/** `ct-edge compare`: two or more models side by side on your own videos (or labelled sequences). */
import { stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { CtEdgeError } from '../../contract/errors.js';
import type { Frame } from '../../contract/types.js';
import { DATASET_FORMATS, openDataset } from '../../deploy/datasets/dataset.js';
import { compareModels, compareTable, HELD_OUT_SHARE, type CompareClip } from '../../deploy/eval/compare.js';
import { proposeTargets } from '../../deploy/eval/targets.js';
import { readImage } from '../../deploy/io/images.js';
import { decodeFrames } from '../../deploy/io/open.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile } from '../outputs.js';
import { loadModels, MODEL_OPTION_FLAGS, MODEL_OPTIONS_USAGE, parseIntFlag, parseBoxFlag } from '../model-options.js';

const usage = `usage: ct-edge compare --model REFERENCE.onnx --model STUDENT.onnx [--model ...] INPUT... [options]

Runs every model over the same frames, frame-interleaved, and prints how closely each follows the
first (agreement: mean IoU of their boxes, and the share of frames with IoU > 0.5), how often it
reports the target lost, and how fast it tracks (median Tracker.track() time, speed-up over the
first). Judge a compressed student against its teacher on footage of your own, no labels needed.

INPUT is a video file, an image folder, or a folder of labelled sequences (OTB, GOT-10k, LaSOT,
TrackingNet layouts; success AUC against the labels is added).
- Videos and image folders: only their last ${HELD_OUT_SHARE * 100}% (--held-out), the part \`ct-edge compress\` never
  trains on; the targets start there, from --box or from the boxes that stand out most.
- Labelled sequences: every frame, from the first ground-truth box.

Options:
  --model PATH          a model (repeatable; the first is the reference, e.g. the teacher)
  --held-out X          share of each video at its end to compare on (default ${HELD_OUT_SHARE})
  --box X,Y,W,H         the target on the first compared frame (default: the --targets boxes that
                        stand out most, the rule compress uses to pick targets)
  --targets N           how many such boxes per video (default 2)
  --threads N           onnxruntime threads per model (default 1: steady timings)
  --json FILE           also write the figures as JSON

${MODEL_OPTIONS_USAGE}

Example:
  ct-edge compare --model models/vittrack.onnx --model student.onnx my-video.mp4`;

/** A labelled dataset in any known layout, or undefined where INPUT is none. */
async function labelledDataset(input: string) {
  for (const format of DATASET_FORMATS) {
    const opened = await openDataset(input, format).catch(() => undefined);
    if (opened && opened.sequences.length > 0) return opened;
  }
  return undefined;
}

/**
 * The last `share` of a video or image folder's decoded frames (counted as the pseudo-labeller
 * counts them, so the split is the same; a container's frame count can differ from the frames decoded).
 */
async function heldOutFrames(input: string, share: number): Promise<Frame[]> {
  const frames = await decodeFrames(input).catch((error: Error) => {
    throw new CtEdgeError('ERR_DATASET', `${input}: cannot read frames from it (${error.message}); give a video file, an image folder or a folder of labelled sequences`, { cause: error });
  });
  const tail = frames.slice(Math.floor(frames.length * (1 - share)));
  if (tail.length < 2) throw new CtEdgeError('ERR_DATASET', `${input}: ${tail.length} frame(s) in its last ${share * 100}%; compare needs at least 2 (a longer video, or a larger --held-out)`);
  return tail;
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        model: { type: 'string', multiple: true },
        'held-out': { type: 'string', default: String(HELD_OUT_SHARE) },
        box: { type: 'string' },
        targets: { type: 'string', default: '2' },
        threads: { type: 'string', default: '1' },
        json: { type: 'string' },
        ...MODEL_OPTION_FLAGS,
      },
    });
    if ((values.model ?? []).length < 2) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give two or more --model files: the reference first (e.g. the teacher), then the models to compare with it');
    if (positionals.length === 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'name at least one INPUT: a video file, an image folder or a folder of labelled sequences');
    const share = Number(values['held-out']);
    if (!(share > 0 && share <= 1)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--held-out must be a share in (0, 1], got '${values['held-out']}'`);
    const box = values.box === undefined ? undefined : parseBoxFlag(values.box);
    const targets = parseIntFlag(values.targets, 'targets', 2);
    const threads = parseIntFlag(values.threads, 'threads', 1);
    if (values.json) checkOutputFile(values.json, '--json');
    for (const input of positionals) {
      if (!(await stat(input).catch(() => undefined))) throw new CtEdgeError('ERR_DATASET', `${input}: no such file or folder`);
    }

    const models = await loadModels(values.model!, values, threads);
    try {
      const clips: CompareClip[] = [];
      for (const input of positionals) {
        const dataset = (await stat(input)).isDirectory() ? await labelledDataset(input) : undefined;
        if (dataset) {
          for (const s of dataset.sequences) {
            const first = s.groundTruth.findIndex((b) => b !== null);
            if (first < 0 || s.framePaths.length - first < 2) continue;
            clips.push({ name: s.name, frames: await Promise.all(s.framePaths.slice(first).map(readImage)), starts: [s.groundTruth[first]!], labels: s.groundTruth.slice(first) });
          }
        } else {
          const frames = await heldOutFrames(input, share);
          const starts = box ? [box] : proposeTargets(frames[0], targets);
          clips.push({ name: basename(input), frames, starts });
        }
        console.error(`ct-edge compare: ${input} read`);
      }
      const result = await compareModels(models, clips, (name) => console.error(`ct-edge compare: ${name} done`));
      console.log(compareTable(result));
      console.log(`\n${result.clips.map((c) => `${c.name}: ${c.frames} frames, ${c.targets} target(s)${c.labelled ? ', labelled' : ''}`).join('; ')}; ${threads} onnxruntime thread(s) per model`);
      if (values.json) await writeFile(values.json, JSON.stringify({ threads, heldOut: share, ...result }, null, 1));
    } finally {
      await Promise.all(models.map((m) => m.engine.dispose()));
    }
    return 0;
  },
};
