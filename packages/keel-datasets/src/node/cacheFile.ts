/** The binary data cache on disk: read it, or build it and write it atomically. Node only. */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { decodeCache, encodeCache, type RawImageSet } from '../cache.js';
import { DataError } from 'keel';

export interface CachedSet {
  set: RawImageSet;
  /** 'hit', 'built', 'rebuilt: <why>', or '... (not written: <why>)'. */
  status: string;
}

/**
 * Returns the set stored at `path` if that file is a valid cache for `fingerprint`; otherwise calls
 * `build`, writes the result to a temporary file in the same folder and renames it over `path` (so a
 * reader never sees a half-written cache, even if two processes build it at once).
 */
export function loadOrBuildCache(path: string, fingerprint: number, build: () => RawImageSet): CachedSet {
  let why = 'built';
  try {
    const bytes = readFileSync(path);
    return { set: decodeCache(bytes, path, fingerprint), status: 'hit' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') why = `rebuilt: ${e instanceof DataError ? e.message : code ?? (e as Error).message}`;
  }
  const set = build();
  try {
    writeCacheAtomically(path, encodeCache(set, fingerprint));
  } catch (e) {
    why += ` (not written: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  return { set, status: why };
}

/** Writes `bytes` to `path` via a temporary file and a rename. */
export function writeCacheAtomically(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
  } catch (e) {
    rmSync(temporary, { force: true });
    throw e;
  }
}
