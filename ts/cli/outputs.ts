/**
 * Output paths, checked before a command starts its work: a run that would fail at its last step
 * (the encoder dying on a missing folder, a checkpoint that cannot be saved after an hour of
 * training) fails at once instead, with a message that says what to do.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CtEdgeError } from '../contract/errors.js';

function statOf(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function writableFolder(folder: string, flag: string, path: string): void {
  const info = statOf(folder);
  if (!info) {
    throw new CtEdgeError('ERR_OUTPUT', `${flag} ${path}: the folder ${folder} does not exist; create it (mkdir -p ${folder}) or choose another path`);
  }
  if (!info.isDirectory()) throw new CtEdgeError('ERR_OUTPUT', `${flag} ${path}: ${folder} is not a folder; choose another path`);
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new CtEdgeError('ERR_OUTPUT', `${flag} ${path}: no permission to write in ${folder}; choose a folder you can write to`);
  }
}

/** A file the command will write: its folder must exist and be writable, and it must not be a folder itself. */
export function checkOutputFile(path: string | undefined, flag: string): void {
  if (path === undefined) return;
  if (path === '') throw new CtEdgeError('ERR_OUTPUT', `${flag} needs a file name`);
  const full = resolve(path);
  if (statOf(full)?.isDirectory()) throw new CtEdgeError('ERR_OUTPUT', `${flag} ${path} is a folder; give a file name (e.g. ${path.replace(/\/+$/, '')}/out${flag === '--out' ? '.mp4' : ''})`);
  writableFolder(dirname(full), flag, path);
}

/** A folder the command will create if needed: its nearest existing ancestor must be a writable folder. */
export function checkOutputFolder(path: string | undefined, flag: string): void {
  if (path === undefined) return;
  if (path === '') throw new CtEdgeError('ERR_OUTPUT', `${flag} needs a folder name`);
  let folder = resolve(path);
  const info = statOf(folder);
  if (info && !info.isDirectory()) throw new CtEdgeError('ERR_OUTPUT', `${flag} ${path} is a file, not a folder; choose another path`);
  while (!statOf(folder) && dirname(folder) !== folder) folder = dirname(folder);
  writableFolder(folder, flag, path);
}

/** A file the command would replace: refused unless `force`, so that no earlier result is lost by accident. */
export function refuseExisting(path: string | undefined, flag: string, force: boolean, otherwise = ''): void {
  if (path === undefined || force || !statOf(resolve(path))?.isFile()) return;
  throw new CtEdgeError('ERR_OUTPUT', `${flag} ${path} exists; ${otherwise}add --force to overwrite it, or choose another path`);
}
