/** What `ct-edge eval` writes: Markdown tables, a results JSON and the success/precision plots. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvalResult } from './evaluate.js';
import { NORM_PRECISION_THRESHOLDS, PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS } from './metrics.js';
import { writePlotPng } from './plot.js';

const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) : '-');
const fps = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');

/** A Markdown table; the first `leftColumns` columns align left, the rest right. */
export function markdownTable(header: string[], rows: string[][], leftColumns = 1): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => `| ${cells.map((v, c) => (c < leftColumns ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => `${'-'.repeat(w + 1)}${c < leftColumns ? '-' : ':'}`).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * Two tables: one row per model over the whole dataset (with AUC kept and speed-up against the
 * first model when there are several), and one row per sequence. Scores are in percent.
 */
export function formatTables(result: EvalResult): string {
  const several = result.models.length > 1;
  const overall = markdownTable(
    ['Model', 'AUC', 'Precision@20px', 'Norm. precision@0.2', 'FPS', ...(several ? ['AUC kept', 'Speed-up'] : [])],
    result.models.map((m) => [
      m.label,
      pct(m.auc),
      pct(m.precision),
      pct(m.normPrecision),
      fps(m.fps),
      ...(several ? [`${pct(m.aucKept)}%`, `${m.speedup.toFixed(2)}x`] : []),
    ]),
  );
  const prefix = (label: string) => (several ? `${label} ` : '');
  const perSequence = markdownTable(
    ['Sequence', 'Frames', ...result.models.flatMap((m) => ['AUC', 'P@20', 'NP@0.2', 'FPS'].map((c) => prefix(m.label) + c))],
    [
      ...result.sequences.map((s) => [s.name, String(s.frames), ...s.runs.flatMap((r) => [pct(r.metrics.auc), pct(r.metrics.precision), pct(r.metrics.normPrecision), fps(r.fps)])]),
      [
        `overall (${result.sequences.length})`,
        String(result.sequences.reduce((n, s) => n + s.frames, 0)),
        ...result.models.flatMap((m) => [pct(m.auc), pct(m.precision), pct(m.normPrecision), fps(m.fps)]),
      ],
    ],
  );
  const skipped = result.skipped.map((s) => `- skipped ${s.name}: ${s.reason}`).join('\n');
  return `${overall}\n\n${perSequence}\n${skipped ? `\n${skipped}\n` : ''}`;
}

const round = (v: number, digits = 4) => Number(v.toFixed(digits));

/** The JSON written as results.json: settings, thresholds, per-model curves, per-sequence scores and boxes. */
export function resultsJson(result: EvalResult, run: Record<string, unknown>): unknown {
  return {
    run,
    protocol: {
      success: 'share of scored frames with IoU > threshold; AUC = mean over the 21 thresholds',
      precision: 'share of scored frames with centre error <= threshold (px); score at 20 px',
      normPrecision: 'centre error normalised by the ground-truth size <= threshold; score at 0.2',
      frames: 'frame 0 carries the initialisation box; frames without a valid ground-truth box are not scored; curves averaged over sequences',
      fps: 'tracked frames / time in Tracker.track() (pre-processing + inference + post-processing), image decoding excluded',
    },
    thresholds: { success: SUCCESS_THRESHOLDS, precision: PRECISION_THRESHOLDS, normPrecision: NORM_PRECISION_THRESHOLDS },
    models: result.models.map((m) => ({
      label: m.label,
      path: m.path,
      backend: m.backend,
      auc: round(m.auc),
      precision: round(m.precision),
      normPrecision: round(m.normPrecision),
      fps: round(m.fps, 1),
      aucKept: round(m.aucKept),
      speedup: round(m.speedup, 3),
      successCurve: m.successCurve.map((v) => round(v)),
      precisionCurve: m.precisionCurve.map((v) => round(v)),
      normPrecisionCurve: m.normPrecisionCurve.map((v) => round(v)),
    })),
    sequences: result.sequences.map((s) => ({
      name: s.name,
      frames: s.frames,
      results: s.runs.map((r, m) => ({
        model: result.models[m].label,
        auc: round(r.metrics.auc),
        precision: round(r.metrics.precision),
        normPrecision: round(r.metrics.normPrecision),
        scoredFrames: r.metrics.validFrames,
        fps: round(r.fps, 1),
        boxes: r.boxes.map((b) => [b.x, b.y, b.width, b.height].map((v) => round(v, 2))),
      })),
    })),
    skipped: result.skipped,
  };
}

export interface EvalOutputs {
  table: string;
  json: string;
  successPlot: string;
  precisionPlot: string;
  normPrecisionPlot: string;
}

/** Writes table.md, results.json, success.png, precision.png and norm_precision.png into `dir`. */
export async function writeEvalOutputs(dir: string, result: EvalResult, run: Record<string, unknown>, datasetName: string): Promise<EvalOutputs> {
  await mkdir(dir, { recursive: true });
  const out: EvalOutputs = {
    table: join(dir, 'table.md'),
    json: join(dir, 'results.json'),
    successPlot: join(dir, 'success.png'),
    precisionPlot: join(dir, 'precision.png'),
    normPrecisionPlot: join(dir, 'norm_precision.png'),
  };
  await writeFile(out.table, formatTables(result));
  await writeFile(out.json, `${JSON.stringify(resultsJson(result, run), null, 1)}\n`);
  // Legends name each curve with its score, best first, as the OTB toolkit does.
  const ranked = (score: (m: EvalResult['models'][number]) => number) => [...result.models].sort((a, b) => score(b) - score(a));
  await writePlotPng(out.successPlot, {
    title: `Success plot of OPE on ${datasetName}`,
    xLabel: 'Overlap threshold (IoU)',
    yLabel: 'Success rate',
    xRange: [0, 1],
    yRange: [0, 1],
    xStep: 0.1,
    yStep: 0.1,
    legend: 'lower-left',
    series: ranked((m) => m.auc).map((m) => ({ label: `${m.label} [AUC ${pct(m.auc)}]`, x: SUCCESS_THRESHOLDS, y: m.successCurve })),
  });
  await writePlotPng(out.precisionPlot, {
    title: `Precision plot of OPE on ${datasetName}`,
    xLabel: 'Location error threshold (pixels)',
    yLabel: 'Precision',
    xRange: [0, 50],
    yRange: [0, 1],
    xStep: 5,
    yStep: 0.1,
    legend: 'lower-right',
    series: ranked((m) => m.precision).map((m) => ({ label: `${m.label} [${pct(m.precision)} @20px]`, x: PRECISION_THRESHOLDS, y: m.precisionCurve })),
  });
  await writePlotPng(out.normPrecisionPlot, {
    title: `Normalized precision plot of OPE on ${datasetName}`,
    xLabel: 'Normalized location error threshold',
    yLabel: 'Normalized precision',
    xRange: [0, 0.5],
    yRange: [0, 1],
    xStep: 0.05,
    yStep: 0.1,
    legend: 'lower-right',
    series: ranked((m) => m.normPrecision).map((m) => ({ label: `${m.label} [${pct(m.normPrecision)} @0.2]`, x: NORM_PRECISION_THRESHOLDS, y: m.normPrecisionCurve })),
  });
  return out;
}
