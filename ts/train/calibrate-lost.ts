/**
 * Lost-threshold calibration of a student against its teacher, without labels. A tracker reports
 * the target lost when the windowed peak of its score map falls below its lost threshold, and a
 * lost tracker keeps its last box. A student inherits its teacher's threshold, but its score maps
 * are its own (distilled maps come out less peaked): with the teacher's threshold it can report
 * "lost" on frames the teacher tracks, and then stop following the target at all.
 *
 * The fix changes no weight: the teacher and the student follow the same targets through the same
 * footage (the share compression trains on, never the held-out tail), and the student's threshold
 * becomes the quantile of its own scores at the rank the teacher's threshold has among the
 * teacher's scores. Both then report "lost" on the same share of those frames.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CtEdgeError } from '../contract/errors.js';
import type { Frame } from '../contract/types.js';
import { Engine } from '../deploy/engine.js';
import { trackSideBySide } from '../deploy/eval/agreement.js';
import { HELD_OUT_SHARE } from '../deploy/eval/compare.js';
import { proposeTargets } from '../deploy/eval/targets.js';
import { openSource } from '../deploy/io/open.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint/checkpoint.js';
import { writeTrackerOnnx } from './export-onnx.js';
import { runtimeConfig } from './model/config.js';

export interface LostCalibrationOptions {
  /** Frames per clip that both trackers follow from a proposed target (default 40). */
  span?: number;
  /** Targets proposed on each clip's first frame (default 2). */
  targets?: number;
}

export interface LostCalibration {
  /** Frames scored per tracker. */
  frames: number;
  teacherThreshold: number;
  /** Share of the teacher's scores below its threshold: the share the student's threshold keeps. */
  lostShare: number;
  before: number;
  after: number;
  /** The student's lost share on the same frames with its old threshold. */
  studentLostShareBefore: number;
}

/** Fewest frames a threshold is read from (a quantile of fewer says little). */
const MIN_FRAMES = 50;

/** The q-quantile of `values` (sorted copy, linear between neighbours). */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = Math.min(sorted.length - 1, Math.max(0, q * (sorted.length - 1)));
  const lo = Math.floor(at);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (at - lo);
}

/** Teacher and student scores on clips of `span` frames through the training share of each input. */
async function scoresOn(inputs: readonly string[], teacher: Engine, student: Engine, o: Required<LostCalibrationOptions>): Promise<[number[], number[]]> {
  const scores: [number[], number[]] = [[], []];
  for (const input of inputs) {
    let source;
    try {
      source = await openSource(input);
    } catch (error) {
      throw new CtEdgeError('ERR_DATASET', `--data ${input}: cannot read frames from it (${(error as Error).message}); give a video file or an image folder`, { cause: error });
    }
    // the share compression trains on (HELD_OUT_SHARE at the end stays for validation); a count the
    // container does not know means the whole input
    const known = source.info.frameCount;
    const limit = known ? Math.floor(known * (1 - HELD_OUT_SHARE)) : Infinity;
    let clip: Frame[] = [];
    const run = async () => {
      if (clip.length >= 2) {
        for (const box of proposeTargets(clip[0], o.targets)) {
          const r = await trackSideBySide([teacher, student], clip, box);
          scores[0].push(...r.scores[0]);
          scores[1].push(...r.scores[1]);
        }
      }
      clip = [];
    };
    try {
      for await (const { frame, index } of source) {
        if (index >= limit) break;
        clip.push(frame); // each decoded frame has its own buffer
        if (clip.length === o.span) await run();
      }
      await run();
    } finally {
      await source.close();
    }
  }
  return scores;
}

/**
 * Writes `output`: the student checkpoint with the lost threshold that matches its teacher's on
 * `inputs` (unlabeled videos or image folders). Nothing else changes.
 */
export async function calibrateLostThreshold(studentPath: string, teacherPath: string, inputs: readonly string[], output: string, options: LostCalibrationOptions = {}): Promise<LostCalibration> {
  const o = { span: 40, targets: 2, ...options };
  if (resolve(output) === resolve(studentPath)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `-o ${output} would overwrite the checkpoint; write the calibrated one beside it`);
  if (inputs.length === 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give the footage to calibrate on with --data VIDEO (unlabeled videos or image folders; the ones the student was compressed on)');
  const [student, teacher] = [await readCheckpoint(studentPath), await readCheckpoint(teacherPath)];
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-lost-'));
  const engines: Engine[] = [];
  try {
    for (const [name, c] of [['teacher', teacher], ['student', student]] as const) {
      const onnx = join(dir, `${name}.onnx`);
      await writeTrackerOnnx(onnx, c.config, c.weights);
      engines.push(await Engine.load(onnx, { threads: 1 }));
    }
    const [teacherScores, studentScores] = await scoresOn(inputs, engines[0], engines[1], o);
    if (teacherScores.length < MIN_FRAMES) {
      throw new CtEdgeError('ERR_CALIBRATION', `only ${teacherScores.length} frames tracked in ${inputs.join(', ')}; the lost threshold needs at least ${MIN_FRAMES} (longer footage, or more of it)`);
    }
    const teacherThreshold = runtimeConfig(teacher.config).lostThreshold;
    const before = runtimeConfig(student.config).lostThreshold;
    const lostShare = teacherScores.filter((s) => s < teacherThreshold).length / teacherScores.length;
    const after = Number(quantile(studentScores, lostShare).toFixed(4));
    await writeCheckpoint(output, { config: { ...student.config, lostThreshold: after }, weights: student.weights });
    return { frames: teacherScores.length, teacherThreshold, lostShare, before, after, studentLostShareBefore: studentScores.filter((s) => s < before).length / studentScores.length };
  } finally {
    await Promise.all(engines.map((e) => e.dispose()));
    await rm(dir, { recursive: true, force: true });
  }
}
