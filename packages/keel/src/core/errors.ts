/**
 * Errors Keel throws. Every message says what was expected, what was received and how to fix it,
 * so that a user can act on it without reading Keel's source.
 */

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

/** Formats a shape the way Keras prints it: `[32,784]`. */
export function formatShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'null' : String(d))).join(',')}]`;
}

/**
 * Throws a ValueError for an option object that holds keys the callee does not know, naming the
 * closest known key. Typos in option names are a common silent bug in JavaScript APIs.
 */
export function checkOptions(where: string, options: object | undefined, known: readonly string[]): void {
  if (options === undefined || options === null) return;
  for (const key of Object.keys(options)) {
    if ((options as Record<string, unknown>)[key] === undefined) continue;
    if (!known.includes(key)) {
      const hint = closest(key, known);
      throw new ValueError(
        `${where}: unknown option '${key}'. Expected one of: ${known.join(', ')}.` +
          (hint ? ` Did you mean '${hint}'?` : ''),
      );
    }
  }
}

/** Throws a ValueError for a name that is not among the known ones (activations, losses...). */
export function unknownName(what: string, received: string, known: readonly string[]): never {
  const hint = closest(received, known);
  throw new ValueError(
    `Unknown ${what} '${received}'. Expected one of: ${known.join(', ')}.` + (hint ? ` Did you mean '${hint}'?` : ''),
  );
}

/** The candidate nearest to `word` in edit distance, if it is near enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
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
