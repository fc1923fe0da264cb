/**
 * The data sets `fitDataset` and `evaluateDataset` read, in any of these forms:
 *
 * - a `keel.data` dataset (read in chunks: no await per batch; pass `e` of its shuffle is epoch `e`);
 * - an object with `iterator()` returning (a promise of) an iterator, as a TF.js `tf.data.Dataset`;
 * - a function returning an iterable or iterator (an async generator function): called once per pass;
 * - an iterable, sync or async (an array of batches; an async generator object, which is single-use);
 * - an iterator (an object with `next()`), which is single-use.
 *
 * Each element is one batch `{xs, ys}`. The models level sees keel.data's datasets only through
 * the `OPEN_PASS` protocol below (data sits above models).
 */
import { ValueError, describeValue } from '../core/errors.js';

/** The method by which keel.data datasets open a pass. @internal */
export const OPEN_PASS: unique symbol = Symbol('keel.openPass');

/** Elements in chunks of at least one; `null` at the end. @internal */
export interface ChunkIterator<T> {
  next(): Promise<T[] | null>;
  /** Stops the pass early and releases files and streams. Safe to call twice. */
  close(): Promise<void>;
}

/** A keel.data dataset as models see it. `pass` numbers the pass (omitted: the next one). @internal */
export interface PassSource<T = unknown> {
  readonly size: number | null;
  [OPEN_PASS](pass?: number): ChunkIterator<T>;
}

type AnyIterator<T> = Iterator<T> | AsyncIterator<T>;

/** What `fitDataset` and `evaluateDataset` accept; see the module comment. */
export type DatasetLike<T> =
  | { iterator(): AnyIterator<T> | Promise<AnyIterator<T>>; readonly size?: number | null }
  | AsyncIterable<T>
  | Iterable<T>
  | (() => AsyncIterable<T> | Iterable<T> | AnyIterator<T> | Promise<AsyncIterable<T> | Iterable<T> | AnyIterator<T>>)
  | AnyIterator<T>;

const FORMS =
  'a keel.data dataset (e.g. keel.data.fromTensorSlices({xs, ys}).batch(32)), an object with iterator() (a TF.js dataset), ' +
  'an async generator function yielding {xs, ys} batches, or an iterable of them';

/** The number of elements of `dataset` if it says (Infinity for a repeated one), else null. */
export function datasetSize(dataset: unknown): number | null {
  const size = typeof dataset === 'object' && dataset !== null ? (dataset as { size?: unknown }).size : undefined;
  return typeof size === 'number' && size >= 0 ? size : null;
}

/**
 * Whether each pass over `dataset` can start afresh. Single-use: an iterator, or an iterable that
 * is its own iterator (a generator object). Throws if `dataset` is none of the accepted forms.
 */
export function isReusable(where: string, dataset: unknown): boolean {
  if (typeof dataset === 'function') return true;
  if (typeof dataset !== 'object' || dataset === null) throw notADataset(where, dataset);
  const d = dataset as Record<PropertyKey, unknown>;
  if (typeof d[OPEN_PASS] === 'function' || typeof d.iterator === 'function') return true;
  const method = (d[Symbol.asyncIterator] ?? d[Symbol.iterator]) as (() => unknown) | undefined;
  if (typeof method === 'function') return method.call(dataset) !== dataset;
  if (typeof d.next === 'function') return false;
  throw notADataset(where, dataset);
}

/** Opens pass `pass` of `dataset` (see the module comment). */
export async function openPass(where: string, dataset: unknown, pass?: number): Promise<ChunkIterator<unknown>> {
  if (typeof dataset === 'function') {
    let made: unknown;
    made = (dataset as () => unknown)();
    if (isThenable(made)) made = await made;
    if (typeof made === 'function' || !isIterableOrIterator(made)) {
      throw new ValueError(
        `${where}: the dataset function returned ${describeValue(made)}; expected it to return an iterable or iterator of ` +
          `{xs, ys} batches, as an async generator function does (async function* () { yield {xs, ys}; }).`,
      );
    }
    return openPass(where, made, pass);
  }
  if (typeof dataset !== 'object' || dataset === null) throw notADataset(where, dataset);
  const d = dataset as Record<PropertyKey, unknown>;
  if (typeof d[OPEN_PASS] === 'function') return (dataset as PassSource)[OPEN_PASS](pass);
  let iterator: unknown;
  if (typeof d.iterator === 'function') {
    iterator = (d.iterator as () => unknown).call(dataset);
    if (isThenable(iterator)) iterator = await iterator;
    if (typeof iterator !== 'object' || iterator === null || typeof (iterator as { next?: unknown }).next !== 'function') {
      throw new ValueError(`${where}: the dataset's iterator() gave ${describeValue(iterator)}; expected an object with a next() method.`);
    }
  } else if (typeof d[Symbol.asyncIterator] === 'function') {
    iterator = (d[Symbol.asyncIterator] as () => unknown).call(dataset);
  } else if (typeof d[Symbol.iterator] === 'function') {
    iterator = (d[Symbol.iterator] as () => unknown).call(dataset);
  } else if (typeof d.next === 'function') {
    iterator = dataset;
  } else {
    throw notADataset(where, dataset);
  }
  return fromIterator(where, iterator as AnyIterator<unknown>);
}

/** One element per chunk, from a JavaScript or TF.js iterator. */
function fromIterator(where: string, iterator: AnyIterator<unknown>): ChunkIterator<unknown> {
  let ended = false;
  return {
    async next() {
      if (ended) return null;
      const result = await iterator.next();
      if (typeof result !== 'object' || result === null) {
        throw new ValueError(`${where}: the dataset's iterator returned ${describeValue(result)} from next(); expected {value, done}.`);
      }
      if (result.done) {
        ended = true;
        return null;
      }
      return [result.value];
    },
    async close() {
      if (ended) return;
      ended = true;
      try {
        await iterator.return?.();
      } catch {
        // Closing is best effort: the pass is over either way.
      }
    },
  };
}

/** The end of a pass, as `ElementReader.read` returns it. */
export const END: unique symbol = Symbol('end');

/** Reads a pass one element at a time, synchronously while a chunk lasts. */
export class ElementReader {
  private chunk: unknown[] = [];
  private position = 0;
  private ended = false;

  constructor(private readonly chunks: ChunkIterator<unknown>) {}

  read(): unknown {
    if (this.position < this.chunk.length) return this.chunk[this.position++];
    return this.refill();
  }

  private async refill(): Promise<unknown> {
    this.chunk = []; // not kept while the next one is made
    this.position = 0;
    while (!this.ended) {
      const chunk = await this.chunks.next();
      if (chunk === null) {
        this.ended = true;
        break;
      }
      if (chunk.length > 0) {
        this.chunk = chunk;
        this.position = 1;
        return chunk[0];
      }
    }
    this.chunk = [];
    this.position = 0;
    return END;
  }

  close(): Promise<void> {
    this.ended = true;
    this.chunk = [];
    return this.chunks.close();
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function isIterableOrIterator(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<PropertyKey, unknown>;
  return typeof o[Symbol.asyncIterator] === 'function' || typeof o[Symbol.iterator] === 'function' ||
    typeof o.next === 'function' || typeof o.iterator === 'function' || typeof o[OPEN_PASS] === 'function';
}

function notADataset(where: string, dataset: unknown): ValueError {
  return new ValueError(`${where}: expected a dataset: ${FORMS}; received ${describeValue(dataset)}.`);
}
