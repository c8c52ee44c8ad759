/** How the CLI reports: every error as one line that says what to do, and its exit code. */
import { CtEdgeError } from '../contract/errors.js';

/**
 * `--frames -1`: node's parseArgs reads `-1` as an option and calls the value ambiguous. A
 * negative number after a long option is that option's value: join them (`--frames=-1`), so that
 * the command's own check says what is wrong with it.
 */
export function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const previous = out[out.length - 1];
    if (/^-(\d|\.\d|Infinity\b)/.test(arg) && previous?.startsWith('--') && !previous.includes('=') && previous !== '--') out[out.length - 1] = `${previous}=${arg}`;
    else out.push(arg);
  }
  return out;
}

/** System errors (ENOENT, EACCES, ...) in words, with what to do. */
const SYSTEM_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or folder; check the path',
  EACCES: 'permission denied; check the permissions, or choose another path',
  EPERM: 'operation not permitted; check the permissions',
  ENOSPC: 'no space left on the device; free some space or write elsewhere',
  EISDIR: 'is a folder; give a file',
  ENOTDIR: 'a part of the path is not a folder; check the path',
  EROFS: 'the file system is read-only; write elsewhere',
  EMFILE: 'too many open files; raise the limit (ulimit -n)',
  EPIPE: 'a process ct-edge was writing to has exited; see the messages above',
};

/** Every error as one line that says what to do, and the exit code: 1 for errors, 2 for usage. */
export function describeError(error: unknown): { line: string; code: number } {
  const e = error as { code?: unknown; message?: unknown; path?: unknown; syscall?: unknown } | null;
  const message = String(e?.message ?? error);
  const first = message.split('\n').find((l) => l.trim()) ?? message;
  if (error instanceof CtEdgeError) return { line: `ct-edge: ${first} [${error.code}]`, code: 1 };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code?.startsWith('ERR_PARSE_ARGS')) return { line: `ct-edge: ${message.replace(/\s*\n\s*/g, ' ')} (see --help)`, code: 2 };
  if (code && SYSTEM_ERRORS[code]) {
    const where = typeof e?.path === 'string' ? ` ${e.path}` : '';
    return { line: `ct-edge: ${typeof e?.syscall === 'string' ? `${e.syscall}` : 'file'}${where}: ${SYSTEM_ERRORS[code]} [${code}]`, code: 1 };
  }
  return { line: `ct-edge: unexpected error: ${first} (a bug in ct-edge: run again with CT_EDGE_DEBUG=1 to see where, and report it)`, code: 1 };
}

