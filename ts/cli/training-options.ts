/** Flags shared by `ct-edge train` and `ct-edge compress`: optimisation, data, outputs, resume. */
import { parseIntFlag } from './model-options.js';
import { CtEdgeError } from '../contract/errors.js';
import type { ClipDifficulty } from '../train/data/generator.js';
import type { LogEntry } from '../train/loop.js';
import type { DataSourceSpec, TrainingDataOptions } from '../train/data-source.js';
import { parseDataSource } from '../train/data/data-spec.js';
import { RUN_DEFAULTS, runFiles, type RunOptions } from '../train/train-tracker.js';
import { checkOutputFile, refuseExisting } from './outputs.js';

export const TRAINING_FLAGS = {
  steps: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  'lr-schedule': { type: 'string' },
  warmup: { type: 'string' },
  ema: { type: 'string' },
  'decay-all': { type: 'boolean', default: false },
  'weight-decay': { type: 'string' },
  'clip-norm': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  seed: { type: 'string' },
  'clip-size': { type: 'string' },
  'clip-mix': { type: 'string' },
  augment: { type: 'string' },
  data: { type: 'string', multiple: true },
  workers: { type: 'string' },
  resume: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  output: { type: 'string', short: 'o' },
} as const;

export const TRAINING_USAGE = `Training options:
  --steps N               optimisation steps (required)
  --batch N               pairs per step (default 8)
  --lr X                  AdamW learning rate (default: train 5e-4, compress 2e-4)
  --lr-schedule step|cosine  step: x0.1 after 80% of the steps (default); cosine: warm-up, then
                          cosine decay to 0
  --warmup N              cosine only: steps of linear warm-up (default 5% of --steps)
  --ema X                 export an exponential moving average of the weights with decay X
                          (e.g. 0.999; default none: the last step's weights)
  --weight-decay X        AdamW decoupled weight decay (default 1e-4), on weight matrices only:
                          not on norms, biases or position embeddings
  --decay-all             weight decay on every tensor (as runs before 0.2 did)
  --clip-norm X           global gradient-norm clip (default 0.1, OSTrack's)
  --checkpoint-every N    steps between resume checkpoints (default 50)
  --seed N                data and initialisation seed (default 1)
  --clip-size WxH         size of the generated training clips (default 320x240)
  --clip-mix SPEC         generated clip difficulties and their shares: moderate (default), hard,
                          or a mix such as easy=1,moderate=1 (easy clips teach localisation first)
  --augment ostrack|strong  ostrack (default): OSTrack's jitter, flip, grayscale, brightness.
                          strong: also colour (per-channel gain, contrast, saturation), blur,
                          noise, an occluding patch on search crops, scale jitter 0.5 and some
                          template jitter; for distillation, where the teacher labels each crop
  --data SOURCE[@SHARE]   where pairs come from (repeatable; default generated clips): synthetic[:MIX],
                          a labelled dataset folder (GOT-10k, OTB, LaSOT, TrackingNet), a COCO
                          annotation .json, or unlabeled footage (video files, image folders, DIR/*.mp4;
                          compress only: the teacher picks and tracks targets, docs/TRAINING.md), or
                          unrelated still images (stills:FOLDER or stills:DIR/*.jpg; compress only)
  --workers N             split each batch over N worker threads (data parallel). Default: one
                          per core, at least 2 pairs each, on the wasm and cpu backends (they
                          compute on one core); 1 on tfjs-node, which uses every core itself
  --resume                continue a stopped run from its last checkpoint (same options, same
                          --workers); with a larger --steps, extend a run (its learning-rate and
                          replacement schedules are recomputed over the new total)
  --force                 start over, overwriting an earlier run's output and checkpoint
  -o, --output FILE       the trained network (safetensors); beside it FILE minus .safetensors
                          plus .resume.safetensors (checkpoint), .log.jsonl and .curves.png`;

function parseNumber(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--${flag} must be a non-negative number, got '${text}'`);
  return v;
}

const DIFFICULTIES: readonly ClipDifficulty[] = ['easy', 'moderate', 'hard'];

/** A --difficulty flag's value, checked. */
export function parseDifficulty(text: string): ClipDifficulty {
  if (!DIFFICULTIES.includes(text as ClipDifficulty)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--difficulty must be easy, moderate or hard, got '${text}'`);
  }
  return text as ClipDifficulty;
}

export function parseClipMix(text: string | undefined): Partial<Record<ClipDifficulty, number>> {
  const mix: Partial<Record<ClipDifficulty, number>> = {};
  for (const part of (text ?? 'moderate').split(',')) {
    const [name, share = '1'] = part.split('=');
    const weight = Number(share);
    if (!DIFFICULTIES.includes(name as ClipDifficulty) || !(weight > 0)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--clip-mix takes difficulties (${DIFFICULTIES.join(', ')}) with positive shares, e.g. easy=1,moderate=1; got '${text}'`);
    }
    mix[name as ClipDifficulty] = weight;
  }
  return mix;
}

/**
 * The run options that train and compress share, from their flags. The output must be writable, and
 * an earlier run's output or checkpoint is continued (--resume) or replaced (--force), never lost silently.
 */
export function trainingSetup(values: Record<string, unknown>, run: 'train' | 'compress'): RunOptions {
  const str = (k: string) => values[k] as string | undefined;
  const output = str('output');
  if (!output) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'name the output file with -o FILE.safetensors');
  checkOutputFile(output, '-o'); // before the run: its checkpoints, log and curves go beside it
  if (values.resume !== true) {
    const { checkpointPath } = runFiles(output);
    refuseExisting(output, '-o', values.force === true, 'continue that run with --resume (a larger --steps extends it), or ');
    refuseExisting(checkpointPath, 'the checkpoint', values.force === true, `an earlier run of ${output} stopped there: continue it with --resume, or `);
  }
  if (str('steps') === undefined) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give the number of optimisation steps with --steps N');
  const { clip } = RUN_DEFAULTS;
  const [w, h] = (str('clip-size') ?? `${clip.width}x${clip.height}`).split('x').map(Number);
  if (!(Number.isInteger(w) && Number.isInteger(h) && w >= 32 && h >= 32)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--clip-size must be WxH with both at least 32, got '${str('clip-size')}'`);
  }
  const batchSize = parseIntFlag(str('batch'), 'batch', RUN_DEFAULTS.batchSize);
  const workers = str('workers') === undefined ? undefined : parseIntFlag(str('workers'), 'workers', 1);
  if (workers !== undefined && workers > batchSize) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--workers ${workers} is more than the batch (${batchSize} pairs); use at most --workers ${batchSize}`);
  }
  return {
    output,
    batchSize,
    workers,
    data: { seed: parseIntFlag(str('seed'), 'seed', 1, 0), clip: { width: w, height: h }, mix: parseClipMix(str('clip-mix')), ...augmentation(str('augment')) },
    steps: parseIntFlag(str('steps'), 'steps', 0),
    learningRate: parseNumber(str('lr'), 'lr', RUN_DEFAULTS.learningRate[run]),
    weightDecay: parseNumber(str('weight-decay'), 'weight-decay', RUN_DEFAULTS.weightDecay),
    clipNorm: parseNumber(str('clip-norm'), 'clip-norm', RUN_DEFAULTS.clipNorm),
    lrDropAt: RUN_DEFAULTS.lrDropAt,
    ...lrSchedule(str('lr-schedule'), str('warmup'), parseIntFlag(str('steps'), 'steps', 0)),
    decayOnlyMatrices: values['decay-all'] !== true,
    ...(str('ema') !== undefined && { emaDecay: parseEma(str('ema')!) }),
    lrDropFactor: RUN_DEFAULTS.lrDropFactor,
    checkpointEvery: parseIntFlag(str('checkpoint-every'), 'checkpoint-every', RUN_DEFAULTS.checkpointEvery),
    resume: values.resume === true,
  };
}

/** Sampler settings of --augment (none for the default, so runs from before it keep their description). */
function augmentation(text: string | undefined): { sampling?: TrainingDataOptions['sampling'] } {
  if (text === undefined || text === 'ostrack') return {};
  if (text !== 'strong') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--augment must be ostrack or strong, got '${text}'`);
  return { sampling: { augment: 'strong', scaleJitter: 0.5, templateCenterJitter: 0.1, templateScaleJitter: 0.1 } };
}

function lrSchedule(schedule: string | undefined, warmup: string | undefined, steps: number): { lrSchedule?: 'cosine'; warmupSteps?: number } {
  if (schedule === undefined || schedule === 'step') {
    if (warmup !== undefined) throw new CtEdgeError('ERR_INVALID_ARGUMENT', '--warmup applies to --lr-schedule cosine only');
    return {};
  }
  if (schedule !== 'cosine') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--lr-schedule must be step or cosine, got '${schedule}'`);
  return { lrSchedule: 'cosine', warmupSteps: warmup === undefined ? Math.round(steps * 0.05) : parseIntFlag(warmup, 'warmup', 0) };
}

function parseEma(text: string): number {
  const v = Number(text);
  if (!(v > 0 && v < 1)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--ema must be a decay in (0, 1) such as 0.999, got '${text}'`);
  return v;
}

/** "mean loss of the last N steps X", for the line a finished run prints. */
export function lastLossSummary(log: readonly LogEntry[]): string {
  const last = log.slice(-Math.min(20, log.length));
  const mean = last.reduce((a, e) => a + e.losses.total, 0) / Math.max(1, last.length);
  return `mean loss of the last ${last.length} steps ${mean.toFixed(4)}`;
}

/** The --data sources (none: generated clips); `labelledOnly` (the command's name) refuses unlabeled footage. */
export async function dataSources(texts: readonly string[] | undefined, labelledOnly: string | undefined): Promise<DataSourceSpec[] | undefined> {
  if (!texts?.length) return undefined;
  const sources = await Promise.all(texts.map(parseDataSource));
  const footage = sources.find((s) => s.kind === 'footage');
  if (footage && labelledOnly) {
    const what = footage.stills ? `still images (${footage.inputs.length}, ${footage.inputs[0]} first)` : `footage (${footage.inputs.join(', ')})`;
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `${labelledOnly} needs labelled data; unlabeled ${what} trains students through a teacher: ct-edge compress --data ...${labelledOnly === 'calibrate' ? " (a student compressed on unlabeled data needs no calibration: it learnt the teacher's boxes, not labels)" : ''}`);
  }
  return sources;
}
