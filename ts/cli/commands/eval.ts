/** `ct-edge eval`: one-pass evaluation of one or more models on a dataset of sequences. */
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { openDataset, parseDatasetFormat } from '../../deploy/datasets/dataset.js';
import { evaluate, type EvalResult } from '../../deploy/eval/evaluate.js';
import { formatTables, writeEvalOutputs } from '../../deploy/eval/report.js';
import { CtEdgeError } from '../../contract/errors.js';
import type { CliCommand } from '../command.js';
import { checkOutputFolder } from '../outputs.js';
import { loadModels, MODEL_OPTION_FLAGS, MODEL_OPTIONS_USAGE, parseIntFlag } from '../model-options.js';

const usage = `usage: ct-edge eval --model m.onnx [--model m2.onnx ...] --dataset DIR [options]

Runs each model's tracker over every sequence of DIR, started from the first ground-truth box and
never re-initialised (one-pass evaluation), and writes into --out: table.md, results.json,
success.png, precision.png, norm_precision.png. The tables also go to stdout.
With several --model flags every frame is decoded once and fed to each model; the first model is
the reference for the "AUC kept" and "Speed-up" columns.

Options:
  --model PATH          model to evaluate (repeatable)
  --dataset DIR         folder of sequences (or a single sequence)
  --format F            otb (default), got10k, lasot or trackingnet
  --sequences A,B       only these sequences, by name
  --out DIR             where to write the results (default: ct-edge-eval)
  --threads N           onnxruntime threads per model (default: one per core)

${MODEL_OPTIONS_USAGE}

Example (VitTrack, whose tensors and conventions differ from ct-edge's):
  ct-edge eval --model vitTracker.onnx --dataset sequences --outputs score=output1,size=output2,offset=output3 \\
    --channel-order bgr --box-mapping opencv`;

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string', multiple: true },
        dataset: { type: 'string' },
        format: { type: 'string', default: 'otb' },
        sequences: { type: 'string' },
        out: { type: 'string', default: 'ct-edge-eval' },
        threads: { type: 'string' },
        ...MODEL_OPTION_FLAGS,
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values.dataset) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give the sequences to evaluate on with --dataset DIR');
    checkOutputFolder(values.out, '--out');
    const format = parseDatasetFormat(values.format);
    const threads = parseIntFlag(values.threads, 'threads', 0, 0) || undefined;
    const dataset = await openDataset(values.dataset, format, values.sequences?.split(',').filter(Boolean));
    for (const s of dataset.skipped) console.error(`ct-edge eval: skipped sequence ${s.name}: ${s.reason}`);

    const models = await loadModels(values.model ?? [], values, threads);
    const totalFrames = dataset.sequences.reduce((n, s) => n + s.framePaths.length, 0);
    console.error(`ct-edge eval: ${dataset.sequences.length} sequences (${totalFrames} frames), ${models.length} model${models.length === 1 ? '' : 's'}`);
    // The bar draws only when stderr is a terminal; there log() keeps warnings from tearing it
    // (and buffers them otherwise, so elsewhere they go straight to stderr).
    const bars = new cliProgress.MultiBar(
      { format: 'eval [{bar}] {percentage}% | {value}/{total} frames | {sequence} | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true },
      cliProgress.Presets.shades_classic,
    );
    const bar = bars.create(totalFrames, 0, { sequence: '' });
    let result: EvalResult;
    try {
      result = await evaluate(models, dataset, {
        onSequence: (s) => bar.update({ sequence: s.name }),
        onFrame: () => bar.increment(),
        onSkip: (s) => {
          const line = `ct-edge eval: skipped sequence ${s.name}: ${s.reason}`;
          if (process.stderr.isTTY) bars.log(`${line}\n`);
          else console.error(line);
        },
      });
    } finally {
      bars.stop();
      await Promise.all(models.map((m) => m.engine.dispose()));
    }
    const run = {
      models: models.map((m) => m.engine.path),
      dataset: dataset.root,
      format,
      threads: threads ?? 'default',
      date: new Date().toISOString(),
    };
    const out = await writeEvalOutputs(resolve(values.out), result, run, basename(dataset.root));
    console.log(formatTables(result));
    console.log(`wrote ${out.table}, ${out.json}, ${out.successPlot}, ${out.precisionPlot}, ${out.normPrecisionPlot}`);
    return 0;
  },
};
