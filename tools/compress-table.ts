/**
 * Our version of CompressTracker's Table 1, measured in one run: compresses the teacher into 2-,
 * 3- and 4-block students (`ct-edge compress` child processes, --jobs at a time, identical
 * steps/batch/lr/seed), exports teacher and students to ONNX, evaluates them side by side on the
 * same fixed held-out generated clips, and times them interleaved on onnxruntime's CPU provider.
 * Prints a Markdown table (and the paper's rows) on stdout; progress goes to stderr.
 *
 *   npx tsx tools/compress-table.ts [--teacher models/teacher.safetensors] [--blocks 2,3,4] [--out DIR]
 *
 * A rerun skips students whose checkpoint exists with the same settings and resumes killed ones;
 * evaluation and timing always run again.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Dataset } from '../ts/deploy/datasets/dataset.js';
import { benchmark, type FrameSource } from '../ts/deploy/eval/bench.js';
import { readImage } from '../ts/deploy/io/images.js';
import { Progress, shown } from './lib/jobs.js';
import { PAPER_TABLE1 } from './lib/paper.js';
import {
  COMMON_FLAGS,
  COMMON_USAGE,
  compressExportEvaluate,
  fixed,
  heldOutDataset,
  markdownTable,
  openTeacher,
  parseCommon,
  parseList,
  parseWhole,
  runTool,
  stageSizes,
  type StudentSpec,
} from './lib/study.js';

const USAGE = `usage: npx tsx tools/compress-table.ts [options]

Compresses the teacher into students of each --blocks size with the same settings, exports all to
ONNX, evaluates them on the same held-out generated clips and times them on onnxruntime (CPU),
then prints our Table 1 beside the paper's. Writes into --out: students/ (checkpoints, logs, ONNX),
teacher.onnx, heldout-*/ (the clips), eval/ (tables, plots), logs/, table.md and table.json.

Options:
  --blocks A,B,...   student sizes (default 2,3,4); a size that does not divide the teacher's depth
                     gets uneven stages, larger first (6 -> 4: 2,2,1,1)
  --seed N           compression seed of every student (default 1)
  --out DIR          output folder (default ct-edge-compress-table; never inside models/)
  --bench-frames N   timed frames per model (default 300, after 20 warm-up frames)
${COMMON_USAGE}`;

/** The first held-out clip, decoded into memory so that decoding never lands inside a measurement. */
async function benchSource(dataset: Dataset): Promise<FrameSource> {
  const sequence = dataset.sequences[0];
  const frames = await Promise.all(sequence.framePaths.map((p) => readImage(p)));
  return {
    description: `held-out clip ${sequence.name} (${frames.length} frames, ${frames[0].width}x${frames[0].height}, looped)`,
    length: frames.length,
    initBox: sequence.groundTruth[0]!,
    frame: (i) => frames[i],
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...COMMON_FLAGS,
      blocks: { type: 'string', default: '2,3,4' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: 'ct-edge-compress-table' },
      'bench-frames': { type: 'string', default: '300' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const o = parseCommon(values, values.out);
  const seed = parseWhole(values.seed, 'seed', 0);
  const benchFrames = parseWhole(values['bench-frames'], 'bench-frames');
  const warmup = 20;
  const progress = new Progress('compress-table');

  const teacher = await openTeacher(o.teacher);
  const depth = teacher.config.depth;
  const students: StudentSpec[] = parseList(values.blocks, 'blocks')
    .sort((a, b) => a - b)
    .map((blocks) => ({ name: `ct-${blocks}`, blocks, stages: stageSizes(depth, blocks), seed, method: {} }));
  progress.log(
    `teacher ${o.teacher}: ${depth} blocks of width ${teacher.config.dim}; students ${students.map((s) => `${s.name} [${s.stages.join(',')}]`).join(', ')}; ` +
      `${o.steps} steps, batch ${o.batch}, lr ${o.lr}, seed ${seed}, ${o.jobs} at a time`,
  );
  const dataset = await heldOutDataset(o, progress);
  const t0 = performance.now();
  const { compressed, compressSeconds, entries, evalResult, extra } = await compressExportEvaluate(o, teacher, students, dataset, progress, async (models) => {
    const source = await benchSource(dataset);
    progress.log(`timing ${models.length} models interleaved: ${warmup} warm-up + ${benchFrames} frames each, ${o.threads} onnxruntime thread(s)`);
    return { source, bench: await benchmark(models, source, { frames: benchFrames, warmup }) };
  });
  const { source, bench } = extra;
  const shape = new Map<string, { blocks: number; stages: string }>([['teacher', { blocks: depth, stages: '-' }], ...students.map((s) => [s.name, { blocks: s.blocks, stages: s.stages.join(',') }] as const)]);

  const teacherP50 = bench[0].latency.p50;
  const rows = entries.map((e, i) => {
    const m = evalResult.models[i];
    const b = bench[i];
    const outcome = compressed.find((c) => c.job.name === e.label);
    return {
      model: e.label,
      path: e.path,
      ...shape.get(e.label)!,
      auc: m.auc,
      precision: m.precision,
      normPrecision: m.normPrecision,
      aucKept: m.aucKept,
      p50Ms: b.latency.p50,
      meanMs: b.latency.mean,
      inferMs: b.split.inferenceMs,
      speedup: teacherP50 / b.latency.p50,
      compress: outcome && { status: outcome.status, seconds: Math.round(outcome.seconds) },
    };
  });

  const pct = (v: number) => fixed(100 * v);
  const ours = markdownTable(
    ['Model', 'Blocks', 'Stages', 'AUC', 'Precision', 'AUC kept', 'ms/frame (p50)', 'infer ms', 'Speed-up'],
    rows.map((r) => [r.model, String(r.blocks), r.stages, pct(r.auc), pct(r.precision), `${pct(r.aucKept)}%`, fixed(r.p50Ms, 2), fixed(r.inferMs, 2), `${fixed(r.speedup, 2)}x`]),
  );
  const paperTeacher = PAPER_TABLE1[0];
  const paper = markdownTable(
    ['Model (paper)', 'Blocks', 'LaSOT AUC', 'AUC kept', 'FPS (RTX 2080Ti)', 'ms/frame', 'Speed-up'],
    PAPER_TABLE1.map((p) => [p.model, String(p.blocks), fixed(p.auc), `${fixed((100 * p.auc) / paperTeacher.auc)}%`, String(p.fps), fixed(1000 / p.fps, 2), `${fixed(p.fps / paperTeacher.fps, 2)}x`]),
    1,
  );
  const notes = [
    `Teacher ${o.teacher} (${depth} blocks, width ${teacher.config.dim}, sha256 ${teacher.sha256.slice(0, 12)}); every student: ${o.steps} steps, batch ${o.batch}, lr ${o.lr}, seed ${seed}, CompressTracker defaults (progressive replacement, guidance, mimicking), then ${o.calibratePairs > 0 ? `\`ct-edge calibrate\` on ${o.calibratePairs} pairs` : 'not calibrated'}. Stages = teacher blocks per student block.`,
    `AUC, precision (@20 px): one-pass evaluation on ${evalResult.sequences.length} held-out clips (${shown(dataset.root)}, \`generate --held-out --seed ${o.clipSeed} --clips ${o.clips} --frames ${o.frames}\`), in percent; AUC kept = AUC / teacher AUC.`,
    `ms/frame: p50 wall time of Tracker.track() (crop, onnxruntime CPU with ${o.threads} thread(s), decode), models interleaved on ${source.description}, ${benchFrames} timed frames each; infer ms = mean network time alone; speed-up = teacher p50 / model p50.`,
  ];
  const markdown = `## Compression table (ours)\n\n${ours}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n\n## CompressTracker, Table 1 (LaSOT, GPU)\n\n${paper}\n`;
  console.log(markdown);

  await writeFile(join(o.out, 'table.md'), markdown);
  const json = {
    date: new Date().toISOString(),
    teacher: { path: o.teacher, sha256: teacher.sha256, depth, dim: teacher.config.dim },
    settings: { steps: o.steps, batch: o.batch, lr: o.lr, seed, jobs: o.jobs, calibratePairs: o.calibratePairs },
    heldOut: { dir: dataset.root, seed: o.clipSeed, clips: o.clips, frames: o.frames, evaluated: evalResult.sequences.length, skipped: evalResult.skipped },
    bench: { source: source.description, frames: benchFrames, warmup, threads: o.threads },
    rows,
    paper: PAPER_TABLE1,
    seconds: { compress: Math.round(compressSeconds), total: Math.round((performance.now() - t0) / 1000) },
  };
  await writeFile(join(o.out, 'table.json'), `${JSON.stringify(json, null, 1)}\n`);
  progress.log(`wrote ${shown(join(o.out, 'table.md'))}, table.json and eval/ (plots)`);
}

runTool('compress-table', main);
