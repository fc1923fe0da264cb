/** The binary data cache on disk: read it, or build it and write it atomically. Node only. */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { decodeCache, encodeCache, type RawImageSet } from '../cache.js';
import { DataError } from 'keel';

export interface CachedSet {
  set: RawImageSet;
  /**
   * 'hit', 'built', 'rebuilt: <why>', and after 'built' or 'rebuilt: ...' possibly
   * '; not written: <why and how to fix it>'. A cache that cannot be written never stops the load.
   */
  status: string;
  /** Why the cache could not be written, and how to fix it (undefined when it was written or read). */
  notWritten?: string;
}

/** A write failure, raised with its reason in words. */
class CacheWriteError extends Error {}

/**
 * Returns the set stored at `path` if that file is a valid cache for `fingerprint`; otherwise calls
 * `build`, writes the result to a temporary file in the same folder and renames it over `path` (so a
 * reader never sees a half-written cache, even if two processes build it at once). If the cache
 * cannot be written, the data are returned all the same and the status says why.
 */
export function loadOrBuildCache(
  path: string, fingerprint: number, build: () => RawImageSet, fix = 'set KEEL_CACHE_DIR to a writable folder',
): CachedSet {
  let why = 'built';
  let inTheWay = false;
  try {
    const bytes = readFileSync(path);
    return { set: decodeCache(bytes, path, fingerprint), status: 'hit' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') inTheWay = true;
    else if (code !== 'ENOENT' && code !== 'ENOTDIR') why = `rebuilt: ${e instanceof DataError ? e.message : code ?? (e as Error).message}`;
  }
  const set = build();
  let notWritten: string | undefined;
  if (inTheWay) {
    // Never removed, never written around: the folder may hold someone's files. Reported on every
    // load until it is moved; there is nothing to retry.
    notWritten = `${path} is a folder, where the cache file should be; remove that folder, or ${fix}`;
  } else {
    try {
      writeCacheAtomically(path, encodeCache(set, fingerprint));
    } catch (e) {
      const reason = e instanceof CacheWriteError ? e.message : `cannot write ${path} (${inWords(e as NodeJS.ErrnoException)})`;
      notWritten = `${reason}; ${fix}`;
    }
  }
  return notWritten === undefined ? { set, status: why } : { set, status: `${why}; not written: ${notWritten}`, notWritten };
}

/** A write error's code, with what it means when it is one a user can act on. */
function inWords(e: NodeJS.ErrnoException): string {
  const words: Record<string, string> = {
    ENOSPC: 'the disk is full', EDQUOT: 'the disk quota is used up', EROFS: 'the file system is read-only',
    EACCES: 'no permission to write there', EPERM: 'no permission to write there',
  };
  return e.code ? (words[e.code] ? `${words[e.code]}, ${e.code}` : e.code) : e.message;
}

/**
 * Writes `bytes` to `path` via a temporary file and a rename, creating the missing folders first.
 * Temporary files that writers killed midway left beside `path` (their process no longer runs)
 * are removed first: a cache file is tens of megabytes.
 */
export function writeCacheAtomically(path: string, bytes: Uint8Array): void {
  makeFolders(dirname(resolve(path)));
  removeStaleTemporaries(path);
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
  } catch (e) {
    rmSync(temporary, { force: true });
    throw e;
  }
}

/**
 * Creates `dir` and its missing parents, one level at a time. Not `mkdirSync(dir, {recursive:
 * true})`: on Node 20 that call never returns for a path under /proc (it spins at 100% CPU), and a
 * cache must never stop a load. The loops are bounded by the number of levels of the path.
 */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  let existing = dir;
  for (;;) {
    const kind = statKind(existing);
    if (kind === 'folder') break;
    if (kind === 'other') throw new CacheWriteError(`${existing} is a file, not a folder`);
    missing.push(existing);
    const parent = dirname(existing);
    if (parent === existing) break; // the root does not exist: mkdirSync below says why
    existing = parent;
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statKind(folder) === 'folder') continue; // another process made it
      throw new CacheWriteError(`cannot create the folder ${folder} (${code ?? (e as Error).message})`);
    }
  }
}

function statKind(path: string): 'folder' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'folder' : 'other';
  } catch {
    return 'missing';
  }
}

/** Removes `path.<pid>.<time>.tmp` files whose process no longer runs. Best effort. */
function removeStaleTemporaries(path: string): void {
  const dir = dirname(resolve(path));
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.\d+\.tmp$/.exec(name.slice(prefix.length));
    if (!m || Number(m[1]) === process.pid || processRuns(Number(m[1]))) continue;
    try {
      rmSync(join(dir, name), { force: true });
    } catch {
      // left for the next writer
    }
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
