/** `ct-edge generate`: procedural tracking clips written in GOT-10k layout, plus a contact sheet. */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { CtEdgeError } from '../../contract/errors.js';
import { createClip, heldOutClips, trainingClipSeed, type ClipOptions } from '../../train/data/generator.js';
import { writeContactSheet, writeGot10k } from '../../train/data/writer.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile, checkOutputFolder } from '../outputs.js';
import { parseIntFlag } from '../model-options.js';
import { parseDifficulty } from '../training-options.js';

const usage = `usage: ct-edge generate -o DIR [--clips N] [--frames M] [--seed S] [options]

Generates tracking clips (textured targets on textured backgrounds, with motion, zoom, rotation,
occlusion, look-alike distractors, lighting changes, blur and noise) and writes them in GOT-10k
layout: DIR/<clip>/00000001.jpg ..., groundtruth.txt (x,y,w,h), absence.label (1 = fully
occluded) and DIR/list.txt. The same seed always gives the same clips.

Options:
  -o, --output DIR          output folder (created)
  --clips N                 number of clips (default 10)
  --frames M                frames per clip (default 100)
  --seed S                  seed (default 1)
  --size WxH                frame size (default 320x240)
  --held-out                the held-out evaluation clips of this seed (never used in training)
  --difficulty D            easy, moderate (default) or hard: target size, clutter, look-alikes, occlusions
  --contact-sheet PATH      also write a PNG with 6 frames of each clip and their boxes (first 16 clips)`;

function parseSize(text: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(text);
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || width < 32 || height < 32) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--size must be WxH with both at least 32, got '${text}'`);
  return { width, height };
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        output: { type: 'string', short: 'o' },
        clips: { type: 'string' },
        frames: { type: 'string' },
        seed: { type: 'string' },
        size: { type: 'string', default: '320x240' },
        'held-out': { type: 'boolean', default: false },
        difficulty: { type: 'string', default: 'moderate' },
        'contact-sheet': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values.output) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'generate needs an output folder: -o DIR');
    checkOutputFolder(values.output, '-o');
    checkOutputFile(values['contact-sheet'], '--contact-sheet');
    const count = parseIntFlag(values.clips, 'clips', 10);
    const seed = parseIntFlag(values.seed, 'seed', 1, 0);
    const clipOptions: ClipOptions = {
      ...parseSize(values.size),
      length: parseIntFlag(values.frames, 'frames', 100, 2),
      difficulty: parseDifficulty(values.difficulty!),
    };
    const clips = values['held-out']
      ? heldOutClips(count, seed, clipOptions)
      : Array.from({ length: count }, (_, i) => createClip(trainingClipSeed(seed, i), clipOptions, `synth-${seed}-${String(i + 1).padStart(4, '0')}`));
    const bar = new cliProgress.SingleBar({ format: 'generate [{bar}] {value}/{total} clips | ETA {eta_formatted}', clearOnComplete: true }, cliProgress.Presets.shades_classic);
    bar.start(count, 0);
    try {
      await writeGot10k(values.output, clips, () => bar.increment());
    } finally {
      bar.stop();
    }
    const absent = clips.reduce((n, c) => n + c.visible.filter((v) => !v).length, 0);
    console.log(`wrote ${count} ${clipOptions.difficulty} clips of ${clipOptions.length} frames (${clipOptions.width}x${clipOptions.height}) to ${values.output}; ${absent} frames mark the target absent`);
    if (values['contact-sheet']) {
      await writeContactSheet(values['contact-sheet'], clips.slice(0, 16));
      console.log(`wrote ${values['contact-sheet']}`);
    }
    return 0;
  },
};
