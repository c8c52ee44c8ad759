/** Tracking results as JSON lines or CSV: frame, timestamp, x, y, w, h, score, state per line. */
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
  state: TrackState;
}

export type ResultFormat = 'jsonl' | 'csv';

export const CSV_HEADER = 'frame,timestamp_ms,x,y,w,h,score,state';

const round = (v: number, digits: number) => Number(v.toFixed(digits));

function line(r: BoxRecord, format: ResultFormat): string {
  const v = [r.index, round(r.timestampMs, 3), round(r.box.x, 2), round(r.box.y, 2), round(r.box.width, 2), round(r.box.height, 2), round(r.score, 4)] as const;
  if (format === 'csv') return `${v.join(',')},${r.state}\n`;
  const [frame, timestampMs, x, y, w, h, score] = v;
  return `${JSON.stringify({ frame, timestampMs, x, y, w, h, score, state: r.state })}\n`;
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

  /** Opens (truncates) `path`; the format is the given one, else the extension's (.csv or JSON lines). */
  static async open(path: string, format?: ResultFormat): Promise<ResultWriter> {
    const out = createWriteStream(path);
    await once(out, 'open').catch((error: Error) => {
      throw new CtEdgeError('ERR_OUTPUT', `cannot write ${path}: ${error.message}`, { cause: error });
    });
    const writer = new ResultWriter(path, format ?? (extname(path).toLowerCase() === '.csv' ? 'csv' : 'jsonl'), out);
    if (writer.format === 'csv') await writer.put(`${CSV_HEADER}\n`);
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
