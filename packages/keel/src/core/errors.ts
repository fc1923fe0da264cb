/**
 * Errors Keel throws. Every message says what was expected, what was received and how to fix it,
 * so that a user can act on it without reading Keel's source.
 */

import { describeValue, quoteString } from './format.js';

/** Base class: catch this to catch anything Keel raises on purpose. */
export class KeelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A value, option or argument that is not acceptable. */
export class ValueError extends KeelError {}

/** A tensor whose shape does not fit what the operation or model needs. */
export class ShapeError extends KeelError {}

/** A call made out of order (fit before compile, predict before build...). */
export class StateError extends KeelError {}

/** Training diverged: the loss became NaN or infinite. */
export class NonFiniteLossError extends KeelError {}

/**
 * A model file that cannot be read: malformed JSON, a manifest that disagrees with the topology,
 * truncated or oversized weights, unknown layer classes, paths leaving the model's folder...
 * Loading never returns a half-built model: it throws this (or another KeelError) instead.
 * Defined here, below layers and io, because layers validate configs and io validates files.
 */
export class ModelFormatError extends ValueError {}

/**
 * A save that could not be written: the disk is full, the file system is read-only, the folder is
 * not writable... The message says which file, why (the system's error code) and what to do; the
 * model saved there before, if any, is left as it was and still loads. Thrown by io's file system
 * saver; defined here so that users can catch it by class (`instanceof keel.SaveError`).
 */
export class SaveError extends KeelError {
  constructor(message: string, readonly code: string | undefined, readonly path: string) {
    super(message);
  }
}

/**
 * The thread pool failed in a way that loses the result of the call under way: a worker's kernel
 * threw midway, or a worker did not finish its part in time (stuck, or killed mid-kernel). The
 * pool is shut down; kernels run on the calling thread from then on. Thrown by the wasm backend's
 * pool (backend/wasm/threads.ts); defined here so that users can catch it by class.
 */
export class ThreadPoolError extends KeelError {}

export { formatShape, formatIndex, describeValue } from './format.js';

/**
 * Throws a ValueError for an option object that holds keys the callee does not know, naming the
 * closest known key. Typos in option names are a common silent bug in JavaScript APIs.
 */
export function checkOptions(where: string, options: object | undefined, known: readonly string[]): void {
  if (options === undefined || options === null) return;
  for (const key of Object.keys(options)) {
    if ((options as Record<string, unknown>)[key] === undefined) continue;
    if (!known.includes(key)) {
      const hint = key.length <= 100 ? closest(key, known) : undefined;
      throw new ValueError(
        `${where}: unknown option ${quoteString(key)}. Expected one of: ${known.join(', ')}.` +
          (hint ? ` Did you mean '${hint}'?` : ''),
      );
    }
  }
}

/**
 * Throws a ValueError for a name that is not among the known ones (activations, losses...).
 * `received` may be anything a caller passed; it is described, never printed whole.
 */
export function unknownName(what: string, received: unknown, known: readonly string[]): never {
  if (typeof received !== 'string') {
    throw new ValueError(`Unknown ${what}: expected one of the names ${known.join(', ')}, received ${describeValue(received)}.`);
  }
  const hint = received.length <= 100 ? closest(received, known) : undefined;
  throw new ValueError(
    `Unknown ${what} ${quoteString(received)}. Expected one of: ${known.join(', ')}.` + (hint ? ` Did you mean '${hint}'?` : ''),
  );
}

/** The candidate nearest to `word` in edit distance, if it is near enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    // Case counts only to break ties: 'leCunNormall' means 'leCunNormal' rather than 'lecunNormal'.
    const d = editDistance(w, c.toLowerCase()) + editDistance(word, c) / 1000;
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return Math.floor(bestDistance) <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
