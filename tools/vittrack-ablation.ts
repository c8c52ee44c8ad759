/**
 * CompressTracker's ablation on a real teacher, without labels: VitTrack (models/vittrack.onnx,
 * imported) compressed into the same student by each variant below, on unlabeled footage (the
 * teacher's tracks, ts/train/data/pseudo-label.ts) and generated clips, identical steps, batch and
 * learning rate; then every student side by side with VitTrack in one run (tools/lib/vittrack-eval.ts):
 * AUC on the real sequences, speed-up, agreement on held-out footage. The full method runs with
 * several seeds (--seeds), the other variants with --variant-seeds; the summary gives mean and spread.
 *
 *   npx tsx tools/vittrack-ablation.ts [--blocks 2 --stages 1,2] [--steps 300] [--variants full,no-mimic,...] [--seeds 1,2,3] [--variant-seeds 1] [--jobs 2]
 *
 * Runs --jobs compressions at a time, one core each (tools/lib/jobs.ts): a rerun skips finished
 * students and resumes killed ones, so an interrupted study continues where it stopped.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CtEdgeError } from '../ts/contract/errors.js';
import { modelOptionsFor } from '../ts/cli/model-options.js';
import { readCheckpoint, writeCheckpoint } from '../ts/train/checkpoint/checkpoint.js';
import { parseDataSource } from '../ts/train/data/data-spec.js';
import { importTrackerOnnx } from '../ts/train/import-onnx.js';
import { divideStages } from '../ts/train/compress.js';
import { COMPRESS_DEFAULTS, RUN_DEFAULTS, trackFootage } from '../ts/train/train-tracker.js';
import { formatDuration, Progress, runJobs, sha256File } from './lib/jobs.js';
import { compressionJob, exportJob, fixed, markdownTable, meanStd, onnxPath, parseList, parseWhole, runTool, stageSizes, type StudentSpec } from './lib/study.js';
import { evaluateWithVitTrack, VITTRACK_EVAL_DEFAULTS, vittrackTable } from './lib/vittrack-eval.js';

/** The variants as `ct-edge compress` switches; the loss always has the box term against the pseudo-labels. */
const VARIANTS: readonly { id: string; label: string; flags: string; method: StudentSpec['method'] }[] = [
  { id: 'full', label: 'full method', flags: '', method: {} },
  { id: 'no-mimic', label: 'no feature mimicking', flags: '--no-mimic', method: { mimic: false } },
  { id: 'no-guidance', label: 'no prediction guidance', flags: '--no-guidance', method: { guidance: false } },
  { id: 'no-replacement', label: 'no replacement (student alone)', flags: '--no-replacement', method: { replacement: false } },
  { id: 'constant-p', label: 'constant p = 0.5, then 1', flags: '--constant-p 0.5', method: { schedule: { kind: 'constant', p: 0.5 } } },
];

const USAGE = `usage: npx tsx tools/vittrack-ablation.ts [options]

Compresses VitTrack into one student size with each variant (${VARIANTS.map((v) => v.id).join(', ')}),
without labels, and evaluates all of them side by side with VitTrack. Writes into --out:
students/, logs/, pseudo/ (the teacher's tracks), vittrack.safetensors (the imported teacher, unless --teacher), ablation.md, ablation.json.

Options:
  --teacher FILE       teacher checkpoint (default: import --vittrack into --out)
  --vittrack FILE      VitTrack's ONNX with its sidecar (default models/vittrack.onnx)
  --blocks N           student blocks (default 2)
  --stages A,B,...     teacher blocks per stage (default even, larger stages first: 2,1 for VitTrack)
  --dim N              a narrower student of width N (default the teacher's)
  --steps N            compression steps of every student (default 300)
  --batch N            pairs per step (default 8)
  --lr X               learning rate, x0.1 after 80% of the steps (default 5e-4)
  --data SOURCE[@SHARE] training sources, repeatable (default UNLABELED/*.avi@3 and synthetic@1)
  --variants A,B,...   which variants (default all; with 1 block no-replacement and constant-p equal full)
  --seeds A,B,...      seeds of the full method (default 1,2,3)
  --variant-seeds A,.. seeds of every other variant (default 1)
  --jobs N             compressions at a time, one core each (default 2)
  --threads N          onnxruntime threads per model when evaluating (default 1)
  --sequences DIR      labelled sequences (OTB layout) for the AUC (default ../shared/data/sequences)
  --unlabeled DIR      videos whose held-out last 20% give the agreement (default ../shared/data/unlabeled)
  --out DIR            output folder (default ct-edge-vittrack-ablation)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      teacher: { type: 'string' },
      vittrack: { type: 'string', default: VITTRACK_EVAL_DEFAULTS.vittrack },
      blocks: { type: 'string', default: '2' },
      stages: { type: 'string' },
      dim: { type: 'string' },
      steps: { type: 'string', default: '300' },
      batch: { type: 'string', default: '8' },
      lr: { type: 'string', default: '5e-4' },
      data: { type: 'string', multiple: true },
      seeds: { type: 'string', default: '1,2,3' },
      'variant-seeds': { type: 'string', default: '1' },
      variants: { type: 'string', default: VARIANTS.map((v) => v.id).join(',') },
      jobs: { type: 'string', default: '2' },
      threads: { type: 'string', default: '1' },
      sequences: { type: 'string', default: VITTRACK_EVAL_DEFAULTS.sequences },
      unlabeled: { type: 'string', default: VITTRACK_EVAL_DEFAULTS.unlabeled },
      out: { type: 'string', default: 'ct-edge-vittrack-ablation' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const out = resolve(values.out!);
  const progress = new Progress('vittrack-ablation');
  const blocks = parseWhole(values.blocks!, 'blocks');
  const steps = parseWhole(values.steps!, 'steps');
  const batch = parseWhole(values.batch!, 'batch');
  const lr = Number(values.lr);
  if (!(lr > 0)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--lr must be a positive number, got '${values.lr}'`);
  const jobs = parseWhole(values.jobs!, 'jobs');
  const dim = values.dim ? parseWhole(values.dim, 'dim') : undefined;
  const threads = parseWhole(values.threads!, 'threads');
  const dataTexts = values.data ?? [join(values.unlabeled!, '*.avi@3'), 'synthetic@1'];

  const wanted = values.variants!.split(',').filter(Boolean);
  const unknown = wanted.filter((id) => !VARIANTS.some((v) => v.id === id));
  if (unknown.length || !wanted.length) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--variants takes a comma-separated list of ${VARIANTS.map((v) => v.id).join(', ')}; got '${values.variants}'`);
  // A 1-block student is one stage, and the student always runs in at least one stage: replacement
  // never swaps anything in, so those variants would repeat the full method's run step for step.
  const sameAsFull = blocks === 1 ? ['no-replacement', 'constant-p'] : [];
  const skipped = wanted.filter((id) => sameAsFull.includes(id));
  if (skipped.length) progress.log(`skipping ${skipped.join(', ')}: with 1 block the only stage always runs the student, so they equal the full method`);
  const variants = VARIANTS.filter((v) => wanted.includes(v.id) && !sameAsFull.includes(v.id));
  if (!variants.length) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `no variant left to run of '${values.variants}'; add full or another variant`);

  const seedsOf = (variant: (typeof VARIANTS)[number]) => (variant.id === 'full' ? parseList(values.seeds!, 'seeds', 0) : parseList(values['variant-seeds']!, 'variant-seeds', 0));
  const runs = variants
    .flatMap((variant) => seedsOf(variant).map((seed) => ({ variant, seed })))
    .sort((a, b) => a.seed - b.seed); // seed-major: an interrupted study has every variant at the first seed
  if (values.teacher && !existsSync(values.teacher)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `no teacher checkpoint at ${values.teacher}; leave --teacher out to import --vittrack`);

  // The teacher: VitTrack imported with the conventions of its sidecar (again when --vittrack changed), unless one is given.
  await mkdir(out, { recursive: true });
  const teacher = values.teacher ?? join(out, 'vittrack.safetensors');
  if (!values.teacher) {
    const record = `${teacher}.source.json`;
    const options = await modelOptionsFor(values.vittrack!, {});
    const source = JSON.stringify({ onnxSha256: await sha256File(values.vittrack!), options });
    if (!existsSync(teacher) || !existsSync(record) || (await readFile(record, 'utf8')) !== source) {
      progress.log(`importing ${values.vittrack} into ${teacher}`);
      await writeCheckpoint(teacher, await importTrackerOnnx(values.vittrack!, options));
      await writeFile(record, source);
    }
  }
  const teacherCheckpoint = await readCheckpoint(teacher);
  const teacherSha256 = await sha256File(teacher);
  const stages = values.stages ? values.stages.split(',').map((n) => parseWhole(n, 'stages')) : stageSizes(teacherCheckpoint.config.depth, blocks);
  divideStages(teacherCheckpoint.config.depth, blocks, stages); // a wrong list stops here, not in every job
  // The footage tracked once for all students (each compressTracker would otherwise track it again).
  const { sources } = await trackFootage({ seed: 0, sources: await Promise.all(dataTexts.map(parseDataSource)) }, teacherCheckpoint, teacher, {
    cacheDir: join(out, 'pseudo'),
    onFootage: (video, tracks) => progress.log(`teacher tracks in ${video}: ${tracks}`),
  });
  // The tracks by content: other footage re-tracked into the same files must not reuse old students.
  const tracksSha256 = await Promise.all((sources ?? []).flatMap((s) => (s.kind === 'tracks' ? [sha256File(s.file)] : [])));

  const compressJobs = runs.map(({ variant, seed }) => {
    const name = `${variant.id}-s${seed}`;
    const compress = { ...COMPRESS_DEFAULTS, ...variant.method, studentBlocks: blocks, stages, ...(dim ? { studentDim: dim } : {}) };
    const run = { steps, batchSize: batch, learningRate: lr, data: { seed, clip: RUN_DEFAULTS.clip, sources } };
    return compressionJob(name, join(out, 'students', `${name}.safetensors`), { path: teacher, sha256: teacherSha256 }, compress, run, { tracksSha256 });
  });
  progress.log(`${runs.length} students of ${blocks} block(s), ${steps} steps of ${batch} pairs at lr ${lr}, ${jobs} at a time; data ${dataTexts.join(' ')}`);
  const logDir = join(out, 'logs');
  const outcomes = await runJobs(compressJobs, jobs, logDir, progress);
  await runJobs(await Promise.all(compressJobs.map((j) => exportJob(j.name, j.output))), jobs, logDir, progress);

  progress.log(`evaluating VitTrack and ${runs.length} students side by side`);
  const evaluation = await evaluateWithVitTrack({
    vittrack: values.vittrack,
    students: compressJobs.map((j) => ({ label: j.name, path: onnxPath(j.output) })),
    threads,
    sequences: values.sequences,
    unlabeled: values.unlabeled,
    onProgress: (line) => progress.log(line),
  });
  const byName = new Map(evaluation.rows.map((r) => [r.model, r]));
  const summary = variants.map((v) => {
    const rows = runs.filter((r) => r.variant === v).map((r) => ({ seed: r.seed, ...byName.get(`${v.id}-s${r.seed}`)! }));
    const auc = meanStd(rows.map((r) => 100 * r.auc));
    const agree = meanStd(rows.map((r) => r.agreement ?? NaN));
    return { id: v.id, label: v.label, flags: v.flags, seeds: rows.map((r) => r.seed), aucMean: auc.mean, aucStd: auc.std, aucs: rows.map((r) => 100 * r.auc), agreementMean: agree.mean, agreementStd: agree.std, speedup: meanStd(rows.map((r) => r.speedup)).mean };
  });
  const vittrackAuc = 100 * evaluation.rows[0].auc;
  const summaryTable = markdownTable(
    ['variant', 'switch', 'seeds', 'AUC mean', 'AUC std', 'AUC per seed', 'kept of VitTrack', 'agreement mean (std)', 'speed-up'],
    summary.map((s) => [s.label, s.flags || '(defaults)', s.seeds.join(','), fixed(s.aucMean), fixed(s.aucStd), s.aucs.map((a) => fixed(a)).join(' / '), `${fixed((100 * s.aucMean) / vittrackAuc)}%`, `${fixed(s.agreementMean, 3)} (${fixed(s.agreementStd, 3)})`, `${fixed(s.speedup, 2)}x`]),
  );
  const seconds = outcomes.map((o) => `${o.job.name} ${o.status === 'skipped' ? 'earlier run' : formatDuration(o.seconds)}`).join(', ');
  const report = [
    `# VitTrack ablation: ${blocks}-block students (stages ${stages.join(',')}${dim ? `, width ${dim}` : ''}), ${steps} steps, batch ${batch}, lr ${lr}`,
    '',
    `VitTrack: AUC ${fixed(vittrackAuc)} on ${evaluation.sequences.join(', ')}. Data: ${dataTexts.join(' ')}.`,
    '',
    summaryTable,
    '',
    'Every run:',
    '',
    vittrackTable(evaluation.rows),
    '',
    `Compression times: ${seconds}.`,
    '',
  ].join('\n');
  console.log(report);
  await writeFile(join(out, 'ablation.md'), report);
  await writeFile(join(out, 'ablation.json'), JSON.stringify({ blocks, stages, dim, steps, batch, lr, data: dataTexts, threads, vittrackAuc, summary, evaluation, outcomes: outcomes.map((o) => ({ name: o.job.name, status: o.status, seconds: o.seconds })) }, null, 1));
}

runTool('vittrack-ablation', main);
