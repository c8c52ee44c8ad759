/**
 * VitTrack and its compressed students side by side, in one run (tools/lib/vittrack-eval.ts says
 * what is measured and how): AUC with bootstrap 90% intervals on the real sequences, median
 * `Tracker.track()` time and speed-up, agreement with VitTrack on held-out footage.
 *
 *   npx tsx tools/vittrack-students.ts --student models/vittrack-student.onnx [--student ...]
 *     [--vittrack models/vittrack.onnx] [--sequences ../shared/data/sequences] [--unlabeled ../shared/data/unlabeled] [--threads 1]
 *     [--rounds 1] [--targets 4] [--out ct-edge-vittrack]
 *
 * Prints a markdown table and writes it with the raw figures (results.json) into --out.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateWithVitTrack, VITTRACK_EVAL_DEFAULTS as D, vittrackTable } from './lib/vittrack-eval.js';

const usage = 'usage: npx tsx tools/vittrack-students.ts --student STUDENT.onnx [--student ...] [--vittrack FILE] [--sequences DIR] [--unlabeled DIR] [--threads N] [--rounds N] [--held-out X] [--targets N] [--out DIR] (see the header of this file)';
let parsed;
try {
  parsed = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      targets: { type: 'string', default: String(D.targets) },
      student: { type: 'string', multiple: true },
      vittrack: { type: 'string', default: D.vittrack },
      sequences: { type: 'string', default: D.sequences },
      unlabeled: { type: 'string', default: D.unlabeled },
      threads: { type: 'string', default: String(D.threads) },
      rounds: { type: 'string', default: String(D.rounds) },
      'held-out': { type: 'string', default: String(D.heldOut) },
      out: { type: 'string', default: 'ct-edge-vittrack' },
    },
  });
} catch (error) {
  console.error(`vittrack-students: ${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (!values.student?.length) {
  console.error(usage);
  process.exit(2);
}
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const result = await evaluateWithVitTrack({
  students: values.student.map((path) => ({ label: basename(path, '.onnx'), path })),
  vittrack: values.vittrack!,
  sequences: values.sequences!,
  unlabeled: values.unlabeled!,
  threads,
  rounds,
  heldOut: Number(values['held-out']),
  targets: Number(values.targets),
  onProgress: (line) => console.error(line),
});
const table = vittrackTable(result.rows);
console.log(table);
await mkdir(values.out!, { recursive: true });
await writeFile(join(values.out!, 'table.md'), `${table}\n`);
await writeFile(join(values.out!, 'results.json'), JSON.stringify({ threads, rounds, sequences: result.sequences, models: result.rows, agreement: result.agreement }, null, 1));
