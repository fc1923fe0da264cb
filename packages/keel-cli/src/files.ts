/**
 * Output paths given on the command line, checked before any work starts so that a typo in
 * `--json` or `--save` does not cost a training run. Node only.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** A path the command cannot write to; `message` is in the words of the flag that gave it. */
export class OutputPathError extends Error {}

function kind(path: string): 'folder' | 'file' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'folder' : 'file';
  } catch {
    return 'missing';
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks that the file `path` (given as `flag`) can be written: its folder exists and is
 * writable, and `path` is not a folder. Creates nothing.
 */
export function checkOutputFile(flag: string, path: string): void {
  const full = resolve(path);
  const folder = dirname(full);
  const there = kind(full);
  if (there === 'folder') throw new OutputPathError(`${flag} ${path}: that is a folder; give a file name, such as ${join(path, 'report.json')}.`);
  const parent = kind(folder);
  if (parent === 'missing') throw new OutputPathError(`${flag} ${path}: the folder ${folder} does not exist; create it first, or choose another path.`);
  if (parent === 'file') throw new OutputPathError(`${flag} ${path}: ${folder} is a file, not a folder; choose another path.`);
  if (!writable(there === 'file' ? full : folder)) {
    throw new OutputPathError(`${flag} ${path}: ${there === 'file' ? 'the file' : `the folder ${folder}`} is not writable; choose another path.`);
  }
}

/**
 * Creates the folder `path` (given as `flag`) and its missing parents, one level at a time.
 * Not `mkdirSync(path, {recursive: true})`: on Node 20 that never returns for a path under /proc.
 * The loops are bounded by the number of levels of the path.
 */
export function makeFolders(flag: string, path: string): void {
  const full = resolve(path);
  const missing: string[] = [];
  for (let folder = full; ; folder = dirname(folder)) {
    const k = kind(folder);
    if (k === 'folder') {
      if (!writable(folder)) throw new OutputPathError(`${flag} ${path}: the folder ${folder} is not writable; choose another path.`);
      break;
    }
    if (k === 'file') throw new OutputPathError(`${flag} ${path}: ${folder} is a file, not a folder; choose another path.`);
    missing.push(folder);
    if (dirname(folder) === folder) break;
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && kind(folder) === 'folder') continue; // made by another process meanwhile
      throw new OutputPathError(`${flag} ${path}: cannot create the folder ${folder} (${code ?? (e as Error).message}); choose another path.`);
    }
  }
}
