/**
 * Child processes (ffmpeg, ffprobe, gst-launch) with one lifecycle: every child is tracked from
 * spawn to exit, `stop()` kills it and waits until it has exited, and children still running when
 * Node exits or is interrupted are killed, so nothing outlives the process.
 *
 * Children run in their own process group (`detached`), so a Ctrl-C in the terminal reaches only
 * Node: the app decides the order of shutdown (stop the camera, then finish the annotated video).
 * If Node dies without running its handlers (SIGKILL), the children still end: their pipes close,
 * ffmpeg and gst-launch exit on EPIPE or on end of input.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { basename } from 'node:path';
import { CtEdgeError } from '../../contract/errors.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How to get ffmpeg and ffprobe: the system's package (preferred), or the static builds on npm. */
const FFMPEG_INSTALL =
  '`sudo apt-get install ffmpeg` (Debian, Ubuntu, Jetson), `brew install ffmpeg` (macOS), ' +
  'or `npm install @ffmpeg-installer/ffmpeg @ffprobe-installer/ffprobe` (static builds ct-edge finds by itself)';

/** How to install a missing tool, for the error message. */
const INSTALL_HINT: Record<string, string> = {
  ffmpeg: `install ffmpeg: ${FFMPEG_INSTALL}; or set FFMPEG_PATH`,
  ffprobe: `ffprobe comes with ffmpeg: ${FFMPEG_INSTALL}; or set FFPROBE_PATH`,
  'gst-launch-1.0':
    'install GStreamer: `sudo apt-get install gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good` (JetPack ships it with nvarguscamerasrc and nvvidconv)',
};

/** How to install ffmpeg, ffprobe or gst-launch-1.0 (for errors and `ct-edge doctor`). */
export function installHint(tool: string): string {
  return INSTALL_HINT[tool] ?? 'install it';
}

const live = new Set<ManagedChild>();

function killAllNow(): void {
  for (const c of live) c.process.kill('SIGKILL');
}

function onSignal(signal: NodeJS.Signals): void {
  // An app with its own handler owns the shutdown (it should stop its sources); at exit the rest
  // are killed anyway. Without one, Node's default is to die: kill the children, then die.
  if (process.listenerCount(signal) > 1) return;
  killAllNow();
  uninstallHandlers();
  process.kill(process.pid, signal);
}

let handlersInstalled = false;
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.off('exit', killAllNow);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

export interface SpawnOptions {
  stdio: StdioOptions;
  /** Which tool this is (ffmpeg, ffprobe, gst-launch-1.0), for the install hint; default the command's file name. */
  tool?: string;
  /** Signal `stop()` sends first; SIGKILL follows after `killAfterMs`. Default SIGKILL at once. */
  stopSignal?: NodeJS.Signals;
  killAfterMs?: number;
  /**
   * Reads stderr line by line first (ffmpeg's per-frame showinfo lines): a line it returns true
   * for is consumed and stays out of the tail kept for error messages.
   */
  stderrLine?: (line: string) => boolean;
}

export class ManagedChild {
  readonly process: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  private stderrTail = '';
  private spawnError: NodeJS.ErrnoException | undefined;
  private readonly stopSignal: NodeJS.Signals;
  private readonly killAfterMs: number;
  private readonly tool: string;
  private stopRequested = false;

  constructor(
    readonly command: string,
    args: readonly string[],
    options: SpawnOptions,
  ) {
    installHandlers();
    this.tool = options.tool ?? basename(command);
    this.stopSignal = options.stopSignal ?? 'SIGKILL';
    this.killAfterMs = options.killAfterMs ?? 2000;
    this.process = spawn(command, args, { stdio: options.stdio, detached: true });
    live.add(this);
    this.exited = new Promise((resolve) => {
      const done = (status: ExitStatus) => {
        live.delete(this);
        if (live.size === 0) uninstallHandlers();
        resolve(status);
      };
      this.process.on('error', (error: NodeJS.ErrnoException) => {
        // 'error' without a pid means the process never started (ENOENT, EACCES), and no 'exit' follows.
        this.spawnError ??= error;
        if (this.process.pid === undefined) done({ code: null, signal: null });
      });
      this.process.once('exit', (code, signal) => done({ code, signal }));
    });
    this.process.stderr?.setEncoding('utf8');
    const consume = options.stderrLine;
    let partial = '';
    this.process.stderr?.on('data', (text: string) => {
      if (!consume) {
        this.stderrTail = (this.stderrTail + text).slice(-4000);
        return;
      }
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      const kept = lines.filter((line) => !consume(line));
      if (kept.length) this.stderrTail = (this.stderrTail + kept.join('\n') + '\n').slice(-4000);
    });
    this.process.stderr?.on('end', () => {
      if (partial && consume && !consume(partial)) this.stderrTail = (this.stderrTail + partial).slice(-4000);
      partial = '';
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** The last lines the process wrote to stderr (when stderr is piped), for error messages. */
  stderr(lines = 3): string {
    return this.stderrTail.trim().split('\n').slice(-lines).join(' | ');
  }

  /** A CtEdgeError saying how to install the tool, when it could not be started; else undefined. */
  startError(): CtEdgeError | undefined {
    const e = this.spawnError;
    if (!e) return undefined;
    if (e.code === 'ENOENT') {
      return new CtEdgeError('ERR_SOURCE', `${this.command} is not installed (or not on PATH); ${installHint(this.tool)}`, { cause: e });
    }
    return new CtEdgeError('ERR_SOURCE', `cannot start ${this.command}: ${e.message}`, { cause: e });
  }

  /** True once stop() was called: an early end of output is then expected, not an error. */
  get stopping(): boolean {
    return this.stopRequested;
  }

  /** Kills the process (stopSignal, then SIGKILL) and resolves once it has exited. Idempotent. */
  async stop(): Promise<ExitStatus> {
    this.stopRequested = true;
    if (this.process.exitCode === null && this.process.signalCode === null && this.process.pid !== undefined) {
      this.process.kill(this.stopSignal);
      if (this.stopSignal !== 'SIGKILL') {
        const timer = setTimeout(() => this.process.kill('SIGKILL'), this.killAfterMs);
        void this.exited.then(() => clearTimeout(timer));
      }
    }
    return this.exited;
  }
}

/** Runs a command to completion and returns its stdout; throws with its stderr when it fails. */
export async function runToCompletion(command: string, args: readonly string[], what: string, tool?: string): Promise<string> {
  const child = new ManagedChild(command, args, { stdio: ['ignore', 'pipe', 'pipe'], tool });
  let out = '';
  const stdout = child.process.stdout!;
  stdout.setEncoding('utf8');
  stdout.on('data', (text: string) => (out += text));
  // 'exit' can come before the last of stdout: wait for both.
  const [status] = await Promise.all([child.exited, new Promise((resolve) => stdout.once('close', resolve))]);
  const notStarted = child.startError();
  if (notStarted) throw notStarted;
  if (status.code !== 0) throw new CtEdgeError('ERR_SOURCE', `${what}: ${child.stderr() || `${command} exited with ${status.code ?? status.signal}`}`);
  return out;
}
