/** `ct-edge bench`: per-frame latency, FPS, stage split and memory of one or more models. */
import { stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { openDataset, parseDatasetFormat } from '../../deploy/datasets/dataset.js';
import { benchmark, movingSquareSource, type BenchResult, type FrameSource } from '../../deploy/eval/bench.js';
import { proposeTargets } from '../../deploy/eval/targets.js';
import { readImage } from '../../deploy/io/images.js';
import { decodeFrames } from '../../deploy/io/open.js';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box, Frame } from '../../contract/types.js';
import { markdownTable } from '../../deploy/eval/report.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile } from '../outputs.js';
import { loadModels, MODEL_OPTION_FLAGS, MODEL_OPTIONS_USAGE, parseIntFlag, parseBoxFlag } from '../model-options.js';

const usage = `usage: ct-edge bench --model m.onnx [--model m2.onnx ...] [--sequence DIR] [options]

Times Tracker.track() frame by frame. Several models run interleaved on the same frames, in an
order that rotates every frame, so their ratios hold on a noisy machine. Frames come from a
sequence (decoded into memory before timing) or are generated (a moving square).

Options:
  --model PATH        model to time (repeatable); the first is the reference for "Speed-up"
  --sequence PATH     real frames: a sequence folder (or the first sequence of a dataset folder),
                      or a video file (tracking starts from --box, or the region that stands out
                      most on its first frame)
  --box X,Y,W,H       the target on a video's first frame
  --format F          layout of --sequence: otb (default), got10k, lasot or trackingnet
  --size WxH          size of generated frames when no --sequence is given (default 640x480)
  --frames N          timed frames per model (default 300); the source loops if shorter
  --warmup N          untimed frames first (default 20)
  --threads N         onnxruntime threads per model (default: one per core)
  --json PATH         also write the results as JSON

Columns: latency percentiles and FPS from the wall time of \`await tracker.track(frame)\`; pre =
crop+resize+normalise, infer = the backend call, post = window+decode+map-back, glue = the rest
(promise hops and queueing). Load RSS = resident memory the process grew by while the model
loaded; peak RSS = the process's high-water mark (models, frames in memory, runtime together).

${MODEL_OPTIONS_USAGE}`;

async function sequenceSource(dir: string, format: string, needed: number): Promise<FrameSource> {
  const dataset = await openDataset(dir, parseDatasetFormat(format));
  const sequence = dataset.sequences[0];
  // Decode before timing so that image decoding never lands inside a measurement.
  const count = Math.min(sequence.framePaths.length, needed);
  if (count < 2) throw new CtEdgeError('ERR_DATASET', `sequence ${sequence.name} needs at least 2 frames to benchmark`);
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(await readImage(sequence.framePaths[i]));
  return {
    description: `sequence ${sequence.name} (${count} of ${sequence.framePaths.length} frames, ${frames[0].width}x${frames[0].height})`,
    length: count,
    initBox: sequence.groundTruth[0]!,
    frame: (i) => frames[i],
  };
}

/** The first `needed` frames of a video file, decoded before timing, from `box` or a proposed target. */
async function videoSource(path: string, needed: number, box: Box | undefined): Promise<FrameSource> {
  const frames = await decodeFrames(path, needed);
  if (frames.length < 2) throw new CtEdgeError('ERR_SOURCE', `${path} has ${frames.length} decodable frame(s); bench needs at least 2`);
  const initBox = box ?? proposeTargets(frames[0], 1)[0];
  return {
    description: `video ${basename(path)} (first ${frames.length} frames, ${frames[0].width}x${frames[0].height}, target ${[initBox.x, initBox.y, initBox.width, initBox.height].map(Math.round).join(',')})`,
    length: frames.length,
    initBox,
    frame: (i) => frames[i],
  };
}

function parseSize(text: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(text);
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || width < 64 || height < 64) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--size must be WxH with both at least 64, got '${text}'`);
  return { width, height };
}

export function formatBenchTable(results: readonly BenchResult[]): string {
  const header = ['Model', 'Backend', 'p50 ms', 'p90 ms', 'p99 ms', 'FPS', 'pre ms', 'infer ms', 'post ms', 'glue ms', 'load RSS MiB', 'Speed-up'];
  const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const rows = results.map((r) => [
    r.label,
    r.backend,
    f(r.latency.p50),
    f(r.latency.p90),
    f(r.latency.p99),
    f(r.fps, 1),
    f(r.split.preprocessMs),
    f(r.split.inferenceMs),
    f(r.split.postprocessMs),
    f(r.split.glueMs),
    f(r.loadRssMiB, 1),
    `${f(r.speedup)}x`,
  ]);
  return markdownTable(header, rows, 2);
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string', multiple: true },
        sequence: { type: 'string' },
        box: { type: 'string' },
        format: { type: 'string', default: 'otb' },
        size: { type: 'string', default: '640x480' },
        frames: { type: 'string' },
        warmup: { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'string' },
        ...MODEL_OPTION_FLAGS,
      },
      strict: true,
      allowPositionals: false,
    });
    checkOutputFile(values.json, '--json');
    const frames = parseIntFlag(values.frames, 'frames', 300);
    const warmup = parseIntFlag(values.warmup, 'warmup', 20, 0);
    const threads = parseIntFlag(values.threads, 'threads', 0, 0) || undefined;
    const { width, height } = parseSize(values.size);
    // +1: the first frame of each pass initialises the trackers.
    const box = values.box === undefined ? undefined : parseBoxFlag(values.box);
    const isFile = values.sequence !== undefined && (await stat(values.sequence).catch(() => undefined))?.isFile();
    if (box && !isFile) throw new CtEdgeError('ERR_INVALID_ARGUMENT', '--box applies to a video given with --sequence; sequence folders start from their first ground-truth box');
    const needed = frames + warmup + 1;
    const source = isFile ? await videoSource(values.sequence!, needed, box) : values.sequence ? await sequenceSource(values.sequence, values.format, needed) : movingSquareSource(width, height);
    const models = await loadModels(values.model ?? [], values, threads);
    const bar = new cliProgress.SingleBar({ format: 'bench [{bar}] {value}/{total} frames | ETA {eta_formatted}', clearOnComplete: true }, cliProgress.Presets.shades_classic);
    bar.start(frames, 0);
    let results: BenchResult[];
    try {
      results = await benchmark(models, source, { frames, warmup, onFrame: () => bar.increment() });
    } finally {
      bar.stop();
      await Promise.all(models.map((m) => m.engine.dispose()));
    }
    // ru_maxrss: the process's resident high-water mark, in KiB on Linux and macOS (as Node reports it).
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    console.log(`${source.description}; ${frames} timed frames per model after ${warmup} warm-up, threads: ${threads ?? 'default'}\n`);
    console.log(formatBenchTable(results));
    console.log(`\npeak RSS of the process: ${peakRssMiB.toFixed(0)} MiB`);
    if (values.json) {
      const json = { source: source.description, frames, warmup, threads: threads ?? 'default', peakRssMiB, models: results };
      await writeFile(values.json, `${JSON.stringify(json, null, 1)}\n`);
      console.log(`wrote ${values.json}`);
    }
    return 0;
  },
};
