/**
 * `ct-edge demo`: the whole deploy path on the models shipped in models/, with nothing but the
 * embedded default backend (onnxruntime on the CPU): generate held-out clips the models never saw,
 * track them with the teacher and its compressed student side by side, print AUC, FPS and how much
 * of the teacher's accuracy the student keeps.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDataset } from '../../deploy/datasets/dataset.js';
import { evaluate } from '../../deploy/eval/evaluate.js';
import { formatTables } from '../../deploy/eval/report.js';
import { Engine } from '../../deploy/engine.js';
import { CtEdgeError } from '../../contract/errors.js';
import { heldOutClips } from '../../train/data/generator.js';
import { writeGot10k } from '../../train/data/writer.js';
import type { CliCommand } from '../command.js';
import { parseIntFlag } from '../model-options.js';

const modelsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models');

const usage = `usage: ct-edge demo [--clips N] [--frames N] [--seed S] [--teacher FILE.onnx] [--student FILE.onnx ...]

Tracks generated held-out clips (never used in training) with the shipped teacher and its
compressed students on onnxruntime (CPU) and prints their success AUC, precision, FPS, the share
of the teacher's AUC each student keeps and its speed-up.

Options:
  --clips N        held-out clips (default 8)
  --frames N       frames per clip (default 100)
  --seed S         held-out set (default 1, the set the README's figures use)
  --teacher FILE   default models/teacher.onnx
  --student FILE   repeatable; default every models/student-*.onnx`;

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        clips: { type: 'string' },
        frames: { type: 'string' },
        seed: { type: 'string' },
        teacher: { type: 'string', default: join(modelsDir, 'teacher.onnx') },
        student: { type: 'string', multiple: true },
      },
      strict: true,
    });
    const students = values.student ?? ['student-4', 'student-3', 'student-2'].map((n) => join(modelsDir, `${n}.onnx`)).filter((p) => existsSync(p));
    const paths = [values.teacher!, ...students];
    for (const p of paths) {
      if (!existsSync(p)) throw new CtEdgeError('ERR_MODEL_NOT_FOUND', `${p} not found; docs/TRAINING.md gives the commands that make it`);
    }
    const clips = heldOutClips(parseIntFlag(values.clips, 'clips', 8), parseIntFlag(values.seed, 'seed', 1, 0), { length: parseIntFlag(values.frames, 'frames', 100, 2) });
    const dir = await mkdtemp(join(tmpdir(), 'ct-edge-demo-'));
    try {
      await writeGot10k(dir, clips);
      const dataset = await openDataset(dir, 'got10k');
      const models = [];
      for (const path of paths) models.push({ label: relative(process.cwd(), path), engine: await Engine.load(path) });
      console.error(`ct-edge demo: ${clips.length} held-out clips of ${clips[0].length} frames, models on ${models[0].engine.backend}`);
      const result = await evaluate(models, dataset);
      console.log(formatTables(result).split('\n\n')[0]);
      for (const m of models) await m.engine.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return 0;
  },
};
