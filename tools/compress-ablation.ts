/**
 * CompressTracker's ablation on one student size, measured in one run: each variant below is
 * compressed from the same teacher with several seeds (`ct-edge compress` child processes, --jobs
 * at a time, identical steps/batch/lr), exported to ONNX and evaluated with the teacher on the same
 * held-out generated clips. Prints mean and standard deviation of AUC per variant and whether the
 * full method beats ground-truth-only training by more than the spread.
 *
 *   npx tsx tools/compress-ablation.ts [--teacher models/teacher.safetensors] [--blocks 3] [--seeds 1,2,3]
 *
 * A rerun skips students whose checkpoint exists with the same settings and resumes killed ones.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Progress, shown } from './lib/jobs.js';
import { PAPER_ABLATION } from './lib/paper.js';
import {
  COMMON_FLAGS,
  COMMON_USAGE,
  compressExportEvaluate,
  fixed,
  heldOutDataset,
  markdownTable,
  meanStd,
  openTeacher,
  parseCommon,
  parseList,
  parseWhole,
  runTool,
  stageSizes,
  type StudentSpec,
} from './lib/study.js';

/**
 * The variants, as `ct-edge compress` switches. Every variant keeps the ground-truth loss (the
 * paper adds its teacher terms on top of it). "Teacher guidance only" is the paper's prediction
 * guidance and nothing else of the method: the student trains alone (no replacement training, so
 * no teacher stages in its forward pass) on ground truth plus the box loss against the frozen
 * teacher's boxes, without stage-wise feature mimicking.
 */
const VARIANTS: readonly { id: 'gt' | 'guidance' | 'full' | 'constant-p'; label: string; method: StudentSpec['method'] }[] = [
  { id: 'gt', label: 'ground truth only', method: { replacement: false, guidance: false, mimic: false } },
  { id: 'guidance', label: 'teacher guidance only', method: { replacement: false, mimic: false } },
  { id: 'full', label: 'full method', method: {} },
  { id: 'constant-p', label: 'full, constant p = 0.5', method: { schedule: { kind: 'constant', p: 0.5 } } },
];

/** A variant's departures from the defaults, as `ct-edge compress` flags (how a CLI user reproduces it). */
function asFlags(method: StudentSpec['method']): string {
  const flags = [
    ...(method.replacement === false ? ['--no-replacement'] : []),
    ...(method.guidance === false ? ['--no-guidance'] : []),
    ...(method.mimic === false ? ['--no-mimic'] : []),
    ...(method.schedule?.kind === 'constant' ? [`--constant-p ${method.schedule.p}`] : []),
  ];
  return flags.join(' ');
}

const USAGE = `usage: npx tsx tools/compress-ablation.ts [options]

Compresses the teacher into --blocks-block students with each variant and seed, evaluates them
with the teacher on the same held-out generated clips, and prints AUC mean and standard deviation
per variant, the paper's figures, and a verdict on full method vs ground truth only. Writes into
--out: students/, heldout-*/, eval/, logs/, ablation.md and ablation.json.

Variants (ct-edge compress switches; ground truth is in every loss):
${VARIANTS.map((v) => `  ${v.id.padEnd(11)} ${v.label.padEnd(24)} ${asFlags(v.method) || '(defaults: progressive replacement, guidance, mimicking)'}`).join('\n')}

Options:
  --blocks N         student size (default 3); uneven stages, larger first, when it does not divide
                     the teacher's depth
  --seeds A,B,...    compression seeds per variant (default 1,2,3)
  --out DIR          output folder (default ct-edge-compress-ablation; never inside models/)
${COMMON_USAGE}`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...COMMON_FLAGS,
      blocks: { type: 'string', default: '3' },
      seeds: { type: 'string', default: '1,2,3' },
      out: { type: 'string', default: 'ct-edge-compress-ablation' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const o = parseCommon(values, values.out);
  const blocks = parseWhole(values.blocks, 'blocks');
  const seeds = parseList(values.seeds, 'seeds', 0);
  const progress = new Progress('compress-ablation');

  const teacher = await openTeacher(o.teacher);
  const stages = stageSizes(teacher.config.depth, blocks);
  // Seed-major order: an interrupted run has every variant at the first seeds.
  const students: (StudentSpec & { variant: (typeof VARIANTS)[number] })[] = seeds.flatMap((seed) =>
    VARIANTS.map((variant) => ({ name: `${variant.id}-s${seed}`, blocks, stages, seed, method: variant.method, variant })),
  );
  progress.log(
    `teacher ${o.teacher}: ${teacher.config.depth} blocks; ${blocks}-block students, stages [${stages.join(',')}]; ` +
      `${VARIANTS.length} variants x ${seeds.length} seed(s) = ${students.length} runs of ${o.steps} steps, batch ${o.batch}, lr ${o.lr}, ${o.jobs} at a time`,
  );
  const dataset = await heldOutDataset(o, progress);
  const t0 = performance.now();
  const { compressed, compressSeconds, evalResult } = await compressExportEvaluate(o, teacher, students, dataset, progress, async () => undefined);

  const byName = new Map(evalResult.models.map((m) => [m.label, m]));
  const teacherAuc = byName.get('teacher')!.auc;
  const variants = VARIANTS.map((v) => {
    const runs = students
      .filter((s) => s.variant === v)
      .map((s) => ({ seed: s.seed, auc: byName.get(s.name)!.auc, precision: byName.get(s.name)!.precision, compressSeconds: Math.round(compressed.find((c) => c.job.name === s.name)!.seconds) }));
    const auc = meanStd(runs.map((r) => r.auc));
    return { id: v.id, label: v.label, flags: asFlags(v.method), runs, aucMean: auc.mean, aucStd: auc.std, precisionMean: meanStd(runs.map((r) => r.precision)).mean, paperAuc: PAPER_ABLATION[v.id] };
  });

  // "More than the spread": the mean-plus-or-minus-one-std bands of the two variants do not overlap.
  const full = variants.find((v) => v.id === 'full')!;
  const gt = variants.find((v) => v.id === 'gt')!;
  const margin = full.aucMean - gt.aucMean;
  const spread = full.aucStd + gt.aucStd;
  const decided = seeds.length >= 2;
  const beats = decided && margin > spread;
  const verdict = decided
    ? `verdict: the full method ${beats ? 'beats' : 'does NOT beat'} ground truth only by more than the spread: ` +
      `${margin >= 0 ? '+' : ''}${fixed(100 * margin, 2)} AUC points vs spread ${fixed(100 * spread, 2)} (std full + std ground truth, ${seeds.length} seeds each)`
    : `verdict: undecided, a spread needs at least 2 seeds per variant (got ${seeds.length}); full - ground truth = ${fixed(100 * margin, 2)} AUC points`;

  const pct = (v: number) => fixed(100 * v);
  const table = markdownTable(
    ['Variant', 'compress flags', 'AUC per seed', 'AUC mean', 'AUC std', 'AUC kept', 'Precision', 'Paper (CT-4, LaSOT)'],
    [
      ['teacher', '-', '-', pct(teacherAuc), '-', '100.0%', pct(byName.get('teacher')!.precision), '69.1'],
      ...variants.map((v) => [
        v.label,
        v.flags || '(defaults)',
        v.runs.map((r) => pct(r.auc)).join(' / '),
        pct(v.aucMean),
        pct(v.aucStd),
        `${pct(v.aucMean / teacherAuc)}%`,
        pct(v.precisionMean),
        v.paperAuc === undefined ? '-' : fixed(v.paperAuc),
      ]),
    ],
    3,
  );
  const notes = [
    `Teacher ${o.teacher} (${teacher.config.depth} blocks, width ${teacher.config.dim}, sha256 ${teacher.sha256.slice(0, 12)}); ${blocks}-block students, stages [${stages.join(',')}], ${o.steps} steps, batch ${o.batch}, lr ${o.lr}, seeds ${seeds.join(',')}; ${o.calibratePairs > 0 ? `every student calibrated on ${o.calibratePairs} pairs` : 'students not calibrated'}.`,
    `AUC, precision (@20 px) in percent: one-pass evaluation on ${evalResult.sequences.length} held-out clips (${shown(dataset.root)}, \`generate --held-out --seed ${o.clipSeed} --clips ${o.clips} --frames ${o.frames}\`); std = sample standard deviation over seeds; AUC kept = mean AUC / teacher AUC.`,
    'Teacher guidance only = no replacement training, ground truth + box loss against the frozen teacher\'s boxes, no feature mimicking. The paper column is its ablation on a 4-block student of OSTrack-256 after 300 epochs (it gives no guidance-only figure).',
  ];
  const markdown = `## Compression ablation (ours)\n\n${table}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n\n${verdict}\n`;
  console.log(markdown);

  await writeFile(join(o.out, 'ablation.md'), markdown);
  const json = {
    date: new Date().toISOString(),
    teacher: { path: o.teacher, sha256: teacher.sha256, depth: teacher.config.depth, dim: teacher.config.dim, auc: teacherAuc },
    settings: { blocks, stages, steps: o.steps, batch: o.batch, lr: o.lr, seeds, jobs: o.jobs, calibratePairs: o.calibratePairs },
    heldOut: { dir: dataset.root, seed: o.clipSeed, clips: o.clips, frames: o.frames, evaluated: evalResult.sequences.length, skipped: evalResult.skipped },
    variants,
    verdict: { decided, fullBeatsGroundTruth: beats, marginAuc: margin, spreadAuc: spread, text: verdict },
    seconds: { compress: Math.round(compressSeconds), total: Math.round((performance.now() - t0) / 1000) },
  };
  await writeFile(join(o.out, 'ablation.json'), `${JSON.stringify(json, null, 1)}\n`);
  progress.log(`wrote ${shown(join(o.out, 'ablation.md'))}, ablation.json and eval/ (plots)`);
}

runTool('compress-ablation', main);
