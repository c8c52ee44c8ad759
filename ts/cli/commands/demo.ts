/**
 * `ct-edge demo`: the product's story on the shipped models, with nothing but the default backend
 * (onnxruntime on the CPU): VitTrack, a real pretrained tracker, beside the students compressed
 * from it without labels. On footage no model trained on (the last 20% of the shipped clip) it
 * shows how closely each student follows VitTrack and how much faster it runs; given labelled
 * sequences (--sequences) it adds their success AUC.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CtEdgeError } from '../../contract/errors.js';
import { openDataset } from '../../deploy/datasets/dataset.js';
import { compareModels, compareTable, HELD_OUT_SHARE } from '../../deploy/eval/compare.js';
import { evaluate } from '../../deploy/eval/evaluate.js';
import { markdownTable } from '../../deploy/eval/report.js';
import { proposeTargets } from '../../deploy/eval/targets.js';
import { Engine } from '../../deploy/engine.js';
import { openSource } from '../../deploy/io/open.js';
import type { Frame } from '../../contract/types.js';
import type { CliCommand } from '../command.js';
import { modelOptionsFor, parseIntFlag } from '../model-options.js';

const modelsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models');

const usage = `usage: ct-edge demo [--sequences DIR] [--threads N]

VitTrack (models/vittrack.onnx) beside the students compressed from it without labels
(models/vittrack-student*.onnx), on onnxruntime (CPU):
  - on the last 20% of models/tree.avi, footage no model trained on and nobody labelled: both
    start from the same boxes (picked without labels); how closely each student follows VitTrack
    (mean IoU) and the median time of one track() call;
  - with --sequences DIR (labelled sequences in OTB layout): success AUC, and the share of
    VitTrack's each student keeps.

Options:
  --sequences DIR   labelled sequences to score on (OTB layout: <name>/img, groundtruth_rect.txt)
  --threads N       onnxruntime threads per model (default 1)`;

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { sequences: { type: 'string' }, threads: { type: 'string' } }, strict: true });
    const threads = parseIntFlag(values.threads, 'threads', 1);
    const vittrack = join(modelsDir, 'vittrack.onnx');
    const clip = join(modelsDir, 'tree.avi');
    for (const p of [vittrack, clip]) if (!existsSync(p)) throw new CtEdgeError('ERR_MODEL_NOT_FOUND', `${p} not found: the package is incomplete; reinstall ct-edge`);
    const students = readdirSync(modelsDir).filter((n) => /^vittrack-student.*\.onnx$/.test(n) && !n.endsWith('.template.onnx')).sort().map((n) => join(modelsDir, n));
    const models = [{ label: 'VitTrack', engine: await Engine.load(vittrack, { ...(await modelOptionsFor(vittrack, {})), threads }) }];
    for (const path of students) models.push({ label: relative(modelsDir, path).replace(/\.onnx$/, ''), engine: await Engine.load(path, { threads }) });
    try {
      const engines = models.map((m) => m.engine);
      const source = await openSource(clip);
      const frames: Frame[] = [];
      for await (const { frame } of source) frames.push(frame);
      await source.close();
      const tail = frames.slice(Math.floor(frames.length * (1 - HELD_OUT_SHARE)));
      const starts = proposeTargets(tail[0], 2);
      console.error(`ct-edge demo: ${models.length} models on ${engines[0].backend}, ${threads} thread(s); models/tree.avi, last ${tail.length} of ${frames.length} frames, ${starts.length} targets`);
      const result = await compareModels(models, [{ name: 'tree.avi', frames: tail, starts }]);
      console.log(`Held-out footage (models/tree.avi, last ${HELD_OUT_SHARE * 100}%), every model started from the same boxes (ct-edge compare does this on your videos):\n`);
      console.log(compareTable(result));
      if (values.sequences) {
        const result = await evaluate(models, await openDataset(values.sequences, 'otb'));
        console.log(`\nLabelled sequences (${values.sequences}):\n`);
        console.log(markdownTable(
          ['Model', 'Success AUC', 'AUC kept'],
          result.models.map((m) => [m.label, (100 * m.auc).toFixed(1), `${(100 * m.aucKept).toFixed(1)}%`]),
        ));
      } else {
        console.log('\nGive --sequences DIR (labelled sequences, OTB layout) for success AUC too.');
      }
    } finally {
      for (const m of models) await m.engine.dispose();
    }
    return 0;
  },
};
