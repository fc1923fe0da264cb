/** The binary data cache on disk: read it, or build it and write it atomically. Node only. */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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
      const reason = e instanceof CacheWriteError ? e.message : `cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      notWritten = `${reason}; ${fix}`;
    }
  }
  return notWritten === undefined ? { set, status: why } : { set, status: `${why}; not written: ${notWritten}`, notWritten };
}

/** Writes `bytes` to `path` via a temporary file and a rename, creating the missing folders first. */
export function writeCacheAtomically(path: string, bytes: Uint8Array): void {
  makeFolders(dirname(resolve(path)));
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
