/**
 * Tracking results as JSON lines or CSV: frame, timestamp, x, y, w, h, score, state per line; a
 * group's results (several targets) carry each line's target id after the frame.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { extname } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';
import type { Box, TrackState } from '../../contract/types.js';

export interface BoxRecord {
  index: number;
  timestampMs: number;
  box: Box;
  score: number;
  /** `idle` lines are written too; `ct-edge track` leaves them out (it writes tracked frames). */
  state: TrackState | 'idle';
  /** A TrackerGroup target's id (left out for a lone tracker's results). */
  target?: number;
}

export type ResultFormat = 'jsonl' | 'csv';

export const CSV_HEADER = 'frame,timestamp_ms,x,y,w,h,score,state';
/** The CSV header of a group's results. */
export const CSV_GROUP_HEADER = 'frame,target,timestamp_ms,x,y,w,h,score,state';

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** One record as the object a JSON line holds (MqttLink publishes it too, with its device and model). */
export function recordFields(r: BoxRecord): { frame: number; target?: number; timestampMs: number; x: number; y: number; w: number; h: number; score: number; state: BoxRecord['state'] } {
  return {
    frame: r.index,
    ...(r.target !== undefined && { target: r.target }),
    timestampMs: round(r.timestampMs, 3),
    x: round(r.box.x, 2),
    y: round(r.box.y, 2),
    w: round(r.box.width, 2),
    h: round(r.box.height, 2),
    score: round(r.score, 4),
    state: r.state,
  };
}

function line(r: BoxRecord, format: ResultFormat): string {
  const f = recordFields(r);
  if (format === 'csv') return `${[f.frame, ...(f.target !== undefined ? [f.target] : []), f.timestampMs, f.x, f.y, f.w, f.h, f.score, f.state].join(',')}\n`;
  return `${JSON.stringify(f)}\n`;
}

export class ResultWriter {
  private failure: Error | undefined;

  private constructor(
    readonly path: string,
    readonly format: ResultFormat,
    private readonly out: WriteStream,
  ) {
    out.on('error', (error) => (this.failure ??= error));
  }

  /**
   * Opens (truncates) `path`; the format is the given one, else the extension's (.csv or JSON
   * lines). `targets`: the records carry target ids (a group's), which the CSV header names.
   */
  static async open(path: string, format?: ResultFormat, options: { targets?: boolean } = {}): Promise<ResultWriter> {
    const out = createWriteStream(path);
    await once(out, 'open').catch((error: Error) => {
      throw new CtEdgeError('ERR_OUTPUT', `cannot write ${path}: ${error.message}`, { cause: error });
    });
    const writer = new ResultWriter(path, format ?? (extname(path).toLowerCase() === '.csv' ? 'csv' : 'jsonl'), out);
    if (writer.format === 'csv') await writer.put(`${options.targets ? CSV_GROUP_HEADER : CSV_HEADER}\n`);
    return writer;
  }

  private async put(text: string): Promise<void> {
    if (this.failure) throw new CtEdgeError('ERR_OUTPUT', `cannot write ${this.path}: ${this.failure.message}`, { cause: this.failure });
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  write(record: BoxRecord): Promise<void> {
    return this.put(line(record, this.format));
  }

  async close(): Promise<void> {
    if (!this.out.closed) {
      this.out.end();
      await once(this.out, 'close').catch(() => undefined);
    }
    if (this.failure) throw new CtEdgeError('ERR_OUTPUT', `cannot write ${this.path}: ${this.failure.message}`, { cause: this.failure });
  }
}
