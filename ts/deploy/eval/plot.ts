/**
 * Small SVG line plots (success and precision curves), rasterised to PNG by sharp (librsvg).
 * Coordinates are in SVG user units; the PNG is rendered at 2x for crisp text.
 */
import { writeFile } from 'node:fs/promises';
import { loadSharp } from '../io/images.js';

export interface Series {
  label: string;
  x: readonly number[];
  y: readonly number[];
}

export interface LinePlot {
  title: string;
  xLabel: string;
  yLabel: string;
  xRange: readonly [number, number];
  yRange: readonly [number, number];
  /** Tick step on each axis. */
  xStep: number;
  yStep: number;
  series: readonly Series[];
  /** Corner for the legend, where the curves are least likely to run. */
  legend: 'lower-left' | 'lower-right' | 'upper-right';
}

/** Tableau 10: distinct on screen and in grey-scale print. */
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const DASHES = ['', '8 4', '2 3', '8 3 2 3'];

const WIDTH = 640;
const HEIGHT = 480;
const MARGIN = { left: 64, right: 20, top: 40, bottom: 52 };

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Tick labels without float noise: 0.1 + 0.2 prints 0.3. */
const tickLabel = (v: number, step: number) => v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));

export function linePlotSvg(plot: LinePlot): string {
  const pw = WIDTH - MARGIN.left - MARGIN.right;
  const ph = HEIGHT - MARGIN.top - MARGIN.bottom;
  const [x0, x1] = plot.xRange;
  const [y0, y1] = plot.yRange;
  const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => MARGIN.top + (1 - (y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`);

  const ticks = (from: number, to: number, step: number) => Array.from({ length: Math.round((to - from) / step) + 1 }, (_, i) => from + i * step);
  for (const x of ticks(x0, x1, plot.xStep)) {
    out.push(`<line x1="${sx(x)}" y1="${MARGIN.top}" x2="${sx(x)}" y2="${MARGIN.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${sx(x)}" y="${MARGIN.top + ph + 18}" font-size="12" text-anchor="middle" fill="#333">${tickLabel(x, plot.xStep)}</text>`);
  }
  for (const y of ticks(y0, y1, plot.yStep)) {
    out.push(`<line x1="${MARGIN.left}" y1="${sy(y)}" x2="${MARGIN.left + pw}" y2="${sy(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${sy(y) + 4}" font-size="12" text-anchor="end" fill="#333">${tickLabel(y, plot.yStep)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${WIDTH / 2}" y="24" font-size="16" font-weight="bold" text-anchor="middle" fill="#111">${escape(plot.title)}</text>`);
  out.push(`<text x="${MARGIN.left + pw / 2}" y="${HEIGHT - 12}" font-size="13" text-anchor="middle" fill="#111">${escape(plot.xLabel)}</text>`);
  out.push(
    `<text transform="translate(18 ${MARGIN.top + ph / 2}) rotate(-90)" font-size="13" text-anchor="middle" fill="#111">${escape(plot.yLabel)}</text>`,
  );

  plot.series.forEach((s, i) => {
    const points = s.x.map((x, k) => `${sx(x).toFixed(1)},${sy(s.y[k]).toFixed(1)}`).join(' ');
    const dash = DASHES[Math.floor(i / COLOURS.length) % DASHES.length];
    out.push(
      `<polyline points="${points}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2.2" stroke-linejoin="round"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
  });

  // Legend: a white box with one line sample and label per series.
  const rowHeight = 20;
  const boxWidth = Math.min(pw - 20, 44 + 7.2 * Math.max(...plot.series.map((s) => s.label.length)));
  const boxHeight = 10 + rowHeight * plot.series.length;
  const bx = plot.legend === 'lower-left' ? MARGIN.left + 10 : MARGIN.left + pw - boxWidth - 10;
  const by = plot.legend === 'upper-right' ? MARGIN.top + 10 : MARGIN.top + ph - boxHeight - 10;
  out.push(`<rect x="${bx}" y="${by}" width="${boxWidth}" height="${boxHeight}" fill="white" fill-opacity="0.9" stroke="#999"/>`);
  plot.series.forEach((s, i) => {
    const y = by + 5 + rowHeight * i + rowHeight / 2;
    const dash = DASHES[Math.floor(i / COLOURS.length) % DASHES.length];
    out.push(`<line x1="${bx + 8}" y1="${y}" x2="${bx + 34}" y2="${y}" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2.2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<text x="${bx + 40}" y="${y + 4}" font-size="12" fill="#111">${escape(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Writes the plot as PNG (2x resolution: 1280x960). */
export async function writePlotPng(path: string, plot: LinePlot): Promise<void> {
  const sharp = await loadSharp();
  const png = await sharp(Buffer.from(linePlotSvg(plot)), { density: 144 }).png().toBuffer();
  await writeFile(path, png);
}
