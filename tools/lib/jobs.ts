/**
 * Child processes for the compression tools (each runs one `ct-edge/train` call, tools/lib/run-job.ts): a pool that runs at most N at a time, a
 * record beside each output of the settings that made it (so a rerun skips finished work, resumes
 * killed work and refuses to mix settings), and progress lines on stderr.
 *
 * Children run this tree's TypeScript sources through tsx, so the tools measure the code they sit
 * beside (dist/ may be stale). Each child's stdout and stderr go to a log file.
 */
import { createReadStream, existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedChild } from '../../ts/deploy/io/child.js';
import type { JobTask } from './run-job.js';

const RUN_JOB = fileURLToPath(new URL('./run-job.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');

/** An expected failure (a child that failed, an output made with other settings): its message says it all. */
export class JobError extends Error {}

/** Elapsed-time-stamped progress lines, on stderr by default. */
export class Progress {
  private readonly t0 = performance.now();
  constructor(
    private readonly tool: string,
    private readonly write: (line: string) => void = (line) => console.error(line),
  ) {}

  elapsed(since = this.t0): string {
    return formatDuration((performance.now() - since) / 1000);
  }

  log(message: string): void {
    this.write(`[${this.tool} +${this.elapsed()}] ${message}`);
  }
}

/** A path as people want to read it: relative when under the working directory, else absolute. */
export function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r.startsWith('..') || isAbsolute(r) ? resolve(path) : r;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** One `ct-edge` run that makes one output file. */
export interface Job {
  /** Short name for progress lines and the log file (`ct-3`, `full-s2`). */
  name: string;
  /** What the child does: a compression, a calibration or an export. */
  task: JobTask;
  /** The file the job makes; its existence with the same `settings` means the job is done. */
  output: string;
  /** Everything that determines the output (arguments, input hashes); stored as `<output>.job.json`. */
  settings: Record<string, unknown>;
  /** Existing output made with other settings: redo it (cheap jobs) or stop and ask (training). */
  onStale: 'rerun' | 'refuse';
  /** A training run's resume checkpoint: when it exists with the same settings, add `--resume`. */
  resumeCheckpoint?: string;
  /** The training run's JSON-lines log and its step count, for "step k/N" in progress lines. */
  stepLog?: { path: string; steps: number };
}

export interface JobOutcome {
  job: Job;
  status: 'ran' | 'resumed' | 'skipped';
  seconds: number;
}

const settingsPath = (job: Job) => `${job.output}.job.json`;

async function storedSettings(job: Job): Promise<string | undefined> {
  return existsSync(settingsPath(job)) ? readFile(settingsPath(job), 'utf8') : undefined;
}

const serialise = (settings: Record<string, unknown>) => `${JSON.stringify(settings, null, 1)}\n`;

/** What differs between the stored settings and the wanted ones, as `key: old -> new`; empty when the same. */
function differences(stored: string | undefined, wanted: Record<string, unknown>): string[] {
  if (stored === undefined) return ['no record of the settings that made it'];
  let old: Record<string, unknown>;
  try {
    old = JSON.parse(stored) as Record<string, unknown>;
  } catch {
    return ['its settings record is unreadable'];
  }
  const keys = new Set([...Object.keys(old), ...Object.keys(wanted)]);
  return [...keys].filter((k) => JSON.stringify(old[k]) !== JSON.stringify(wanted[k])).map((k) => `${k}: ${JSON.stringify(old[k])} -> ${JSON.stringify(wanted[k])}`);
}

/** The last step a training run logged, or 0. */
async function loggedStep(path: string): Promise<number> {
  if (!existsSync(path)) return 0;
  const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return (JSON.parse(lines[i]) as { step: number }).step;
    } catch {
      // a line cut short by a kill, or an empty file
    }
  }
  return 0;
}

async function runChild(job: Job, resume: boolean, logFile: string): Promise<void> {
  await mkdir(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a'); // a resumed run's log continues the killed one's
  try {
    const args = [JSON.stringify(job.task), ...(resume ? ['--resume'] : [])];
    const child = new ManagedChild(process.execPath, ['--import', TSX_LOADER, RUN_JOB, ...args], { stdio: ['ignore', fd, fd], tool: 'node' });
    const status = await child.exited;
    const notStarted = child.startError();
    if (notStarted) throw notStarted;
    if (status.code !== 0) {
      const tail = (await readFile(logFile, 'utf8')).trimEnd().split('\n').slice(-6).join('\n    ');
      throw new JobError(`${job.name} failed (exit ${status.code ?? status.signal}): ${job.task.verb}${resume ? ' (resumed)' : ''}\n  last lines of ${logFile}:\n    ${tail}`);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs `jobs` at most `concurrency` at a time. Finished jobs are skipped, killed training runs
 * resume from their checkpoint. After a failure no new job starts; the running ones finish (their
 * work is kept for the next run) and the first error is thrown.
 */
export async function runJobs(jobs: readonly Job[], concurrency: number, logDir: string, progress: Progress, heartbeatSeconds = 30): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = [];
  const running = new Map<Job, number>();
  let next = 0;
  let failure: unknown;

  const heartbeat = setInterval(() => {
    void Promise.all(
      [...running].map(async ([job, start]) => {
        const step = job.stepLog ? ` step ${await loggedStep(job.stepLog.path)}/${job.stepLog.steps}` : '';
        return `${job.name}${step} (${progress.elapsed(start)})`;
      }),
    ).then((parts) => parts.length && progress.log(`running: ${parts.join(', ')}`));
  }, heartbeatSeconds * 1000);
  heartbeat.unref();

  const runOne = async (job: Job, index: number): Promise<void> => {
    const tag = `[${index + 1}/${jobs.length}] ${job.name}`;
    const changes = differences(await storedSettings(job), job.settings);
    const same = changes.length === 0;
    if (existsSync(job.output)) {
      if (same) {
        progress.log(`${tag}: skipped, ${shown(job.output)} exists with the same settings`);
        outcomes.push({ job, status: 'skipped', seconds: 0 });
        return;
      }
      if (job.onStale === 'refuse') {
        throw new JobError(
          `${shown(job.output)} exists but was made with other settings (${changes.join('; ')}); ` +
            `delete it and ${shown(settingsPath(job))}, or choose another --out`,
        );
      }
    }
    const resume = same && job.resumeCheckpoint !== undefined && existsSync(job.resumeCheckpoint);
    await mkdir(dirname(job.output), { recursive: true });
    await writeFile(settingsPath(job), serialise(job.settings));
    const logFile = join(logDir, `${job.name}.log`);
    const start = performance.now();
    running.set(job, start);
    progress.log(`${tag}: ${resume ? `resuming from ${shown(job.resumeCheckpoint!)}` : 'started'} (log ${shown(logFile)})`);
    try {
      await runChild(job, resume, logFile);
    } finally {
      running.delete(job);
    }
    const seconds = (performance.now() - start) / 1000;
    progress.log(`${tag}: done in ${formatDuration(seconds)} -> ${shown(job.output)}`);
    outcomes.push({ job, status: resume ? 'resumed' : 'ran', seconds });
  };

  const worker = async () => {
    while (failure === undefined && next < jobs.length) {
      const index = next++;
      try {
        await runOne(jobs[index], index);
      } catch (error) {
        if (failure === undefined) {
          failure = error;
          if (running.size) progress.log(`${jobs[index].name} failed; letting ${running.size} running job(s) finish, starting no more (Ctrl-C stops them; a rerun resumes)`);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, jobs.length)) }, worker));
  } finally {
    clearInterval(heartbeat);
  }
  if (failure !== undefined) throw failure;
  return outcomes;
}
