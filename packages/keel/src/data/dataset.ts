/**
 * Datasets: data read pass by pass, never all at once, as TF.js's `tf.data` (a small part of it):
 * sources (`array`, `fromTensorSlices`, `generator`, and `idx` in idxDataset.ts) and the steps
 * `map`, `shuffle`, `batch`, `take` and `repeat`. `model.fitDataset` and `model.evaluateDataset`
 * train and evaluate on a dataset of batches `{xs, ys}`.
 *
 * Elements flow between steps in chunks (hundreds of examples, or one read of a file), so a step
 * costs no await per example. Memory is bounded by the chunks in flight and the shuffle buffer.
 *
 * Differs from TF.js:
 * - `batch` merges a last batch of a single example into the one before it, as `fit` does (a
 *   BatchNormalization layer cannot train on one example): `fit(x, y, {batchSize, shuffle: false})`
 *   and `fitDataset(fromTensorSlices({xs: x, ys: y}).batch(batchSize))` train on the same batches.
 * - `shuffle(bufferSize, seed)` with a seed gives pass `k` (counted from 0) its own fixed order;
 *   `fitDataset` reads pass `e` at epoch `e`, so a run resumed with `initialEpoch` sees the orders
 *   it would have seen. Without a seed it draws from Keel's global generator (`keel.setRandomSeed`).
 * - `map` takes a synchronous function (TF.js's too; there is no `mapAsync`).
 */
import { Tensor } from '../core/tensor.js';
import { ShapeError, StateError, ValueError, describeValue } from '../core/errors.js';
import { Random, defaultRandom } from '../core/random.js';
import { tensor } from '../ops/tensor.js';
import { OPEN_PASS, openPass, type ChunkIterator, type DatasetLike, type PassSource } from '../models/datasetSource.js';
import { stack, type Batched } from './stack.js';

/** Elements per chunk of the in-memory sources, at most; fewer when they are large (see rowsPerChunk). */
const CHUNK = 256;

/** Rows of `rowSize` values per chunk: CHUNK, or fewer so that a chunk holds about 1 MiB of float32. */
function rowsPerChunk(rowSize: number): number {
  return Math.max(1, Math.min(CHUNK, Math.floor(2 ** 18 / Math.max(1, rowSize))));
}

/** An iterator over a dataset's elements, as TF.js's `LazyIterator`. */
export interface DatasetIterator<T> extends AsyncIterator<T> {
  next(): Promise<IteratorResult<T>>;
  /** Ends the pass early, closing its files. */
  return(): Promise<IteratorResult<T>>;
}

export class Dataset<T> implements AsyncIterable<T>, PassSource<T> {
  private passes = 0;

  /**
   * @internal Build datasets with keel.data's functions. `open(pass)` starts pass `pass`; it must
   * not read anything until the first `next()`. `size` gives the number of elements when known.
   */
  constructor(
    private readonly open: (pass: number) => ChunkIterator<T>,
    private readonly sizeOf: () => number | null = () => null,
  ) {}

  /** Number of elements, Infinity after `repeat()`, or null while unknown (an IDX file before its header is read). */
  get size(): number | null {
    return this.sizeOf();
  }

  /** @internal Opens pass `pass` (default: the next one this dataset has not opened). */
  [OPEN_PASS](pass?: number): ChunkIterator<T> {
    return this.open(pass ?? this.passes++);
  }

  /** A new pass over the elements, as TF.js's `dataset.iterator()`. */
  async iterator(): Promise<DatasetIterator<T>> {
    return elementIterator(this[OPEN_PASS]());
  }

  /** `for await (const element of dataset)`: one pass. */
  [Symbol.asyncIterator](): DatasetIterator<T> {
    return elementIterator(this[OPEN_PASS]());
  }

  /** Every element of one pass, in an array (refused for an infinite dataset). */
  async toArray(): Promise<T[]> {
    if (this.size === Infinity) throw new ValueError(`toArray: the dataset is infinite (size Infinity); take(n) first.`);
    const out: T[] = [];
    for await (const e of this) out.push(e);
    return out;
  }

  /** Applies `fn` to each element (synchronously). */
  map<U>(fn: (element: T) => U): Dataset<U> {
    if (typeof fn !== 'function') throw new ValueError(`map: expected a function of an element, received ${describeValue(fn)}.`);
    return new Dataset<U>((pass) => {
      const up = this[OPEN_PASS](pass);
      return {
        async next() {
          const chunk = await up.next();
          if (chunk === null) return null;
          const out = new Array<U>(chunk.length);
          for (let i = 0; i < chunk.length; i++) out[i] = fn(chunk[i]);
          if (typeof (out[0] as { then?: unknown })?.then === 'function') {
            throw new ValueError(`map: the function returned a Promise; map takes a synchronous function (do the asynchronous work in a generator).`);
          }
          return out;
        },
        close: () => up.close(),
      };
    }, () => this.size);
  }

  /**
   * Shuffles within a buffer of `bufferSize` elements: each element read replaces a random one of
   * the buffer, which goes on. A buffer as large as the dataset gives a uniform shuffle; memory
   * holds `bufferSize` elements. With `seed`, pass k's order is fixed (see the module comment).
   */
  shuffle(bufferSize: number, seed?: number): Dataset<T> {
    positiveInteger('shuffle', 'bufferSize', bufferSize);
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isFinite(seed))) {
      throw new ValueError(`shuffle: expected seed to be a finite number, e.g. 42, received ${describeValue(seed)}.`);
    }
    return new Dataset<T>((pass) => {
      const up = this[OPEN_PASS](pass);
      const random = seed === undefined ? defaultRandom().fork() : new Random((Math.trunc(seed) + Math.imul(pass, 0x9e3779b9)) >>> 0);
      let buffer: T[] = [];
      let ended = false;
      return {
        async next() {
          while (!ended) {
            const chunk = await up.next();
            if (chunk === null) {
              ended = true;
              break;
            }
            const out: T[] = [];
            for (const e of chunk) {
              if (buffer.length < bufferSize) {
                buffer.push(e);
              } else {
                const j = random.int(bufferSize);
                out.push(buffer[j]);
                buffer[j] = e;
              }
            }
            if (out.length > 0) return out;
          }
          if (buffer.length === 0) return null;
          const rest = random.shuffle(buffer);
          buffer = [];
          return rest;
        },
        close: () => {
          buffer = [];
          ended = true;
          return up.close();
        },
      };
    }, () => this.size);
  }

  /**
   * Groups elements by `batchSize` into batches (see stack.ts: `{xs, ys}` elements give
   * `{xs: Tensor[n, ...], ys: Tensor[n]}`). The last batch may be smaller (`smallLastBatch`, default
   * true; false drops it); a last batch of one example is merged into the one before it.
   */
  batch(batchSize: number, smallLastBatch = true): Dataset<Batched<T>> {
    positiveInteger('batch', 'batchSize', batchSize);
    if (typeof smallLastBatch !== 'boolean') {
      throw new ValueError(`batch: expected smallLastBatch to be true or false, received ${describeValue(smallLastBatch)}.`);
    }
    return new Dataset<Batched<T>>((pass) => {
      const up = this[OPEN_PASS](pass);
      let pending: T[] = [];
      let ended = false;
      return {
        async next() {
          while (!ended) {
            const chunk = await up.next();
            if (chunk === null) {
              ended = true;
              break;
            }
            for (const e of chunk) pending.push(e);
            // A batch goes out once two more elements are pending, so that a last single one can still join it.
            if (pending.length >= batchSize + 2) {
              const out: Batched<T>[] = [];
              let start = 0;
              for (; pending.length - start >= batchSize + 2; start += batchSize) out.push(stack(pending.slice(start, start + batchSize)));
              pending = pending.slice(start);
              return out;
            }
          }
          const rest = pending;
          pending = [];
          if (rest.length === batchSize + 1) return [stack(smallLastBatch ? rest : rest.slice(0, batchSize))];
          if (rest.length === batchSize || (rest.length > 0 && smallLastBatch)) return [stack(rest)];
          return null;
        },
        close: () => {
          pending = [];
          ended = true;
          return up.close();
        },
      };
    }, () => {
      const n = this.size;
      if (n === null || n === Infinity) return n;
      if (!smallLastBatch) return Math.floor(n / batchSize);
      return n <= batchSize ? Math.min(n, 1) : n % batchSize === 1 ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
    });
  }

  /** The first `count` elements. */
  take(count: number): Dataset<T> {
    if (!(count === Infinity || (Number.isInteger(count) && count >= 0))) {
      throw new ValueError(`take: expected count to be an integer >= 0, received ${describeValue(count)}.`);
    }
    return new Dataset<T>((pass) => {
      const up = this[OPEN_PASS](pass);
      let left = count;
      return {
        async next() {
          if (left <= 0) {
            await up.close();
            return null;
          }
          const chunk = await up.next();
          if (chunk === null) return null;
          const out = chunk.length > left ? chunk.slice(0, left) : chunk;
          left -= out.length;
          return out;
        },
        close: () => up.close(),
      };
    }, () => {
      const n = this.size;
      return n === null ? (count === 0 ? 0 : null) : Math.min(n, count);
    });
  }

  /**
   * The dataset `count` times over (default: without end), each time a new pass. A pass that gives
   * nothing ends the repetition, so that an empty dataset repeated forever does not spin.
   */
  repeat(count = Infinity): Dataset<T> {
    if (!(count === Infinity || (Number.isInteger(count) && count >= 0))) {
      throw new ValueError(`repeat: expected count to be an integer >= 0 (omit it to repeat without end), received ${describeValue(count)}.`);
    }
    return new Dataset<T>((pass) => {
      let round = 0;
      let up: ChunkIterator<T> | null = null;
      let gave = false;
      return {
        next: async () => {
          while (round < count) {
            up ??= this[OPEN_PASS](count === Infinity ? round : pass * count + round);
            const chunk = await up.next();
            if (chunk !== null) {
              gave = true;
              return chunk;
            }
            await up.close();
            up = null;
            round++;
            if (!gave) break;
            gave = false;
          }
          round = count;
          return null;
        },
        close: async () => {
          round = count;
          await up?.close();
          up = null;
        },
      };
    }, () => {
      const n = this.size;
      return n === null ? null : n === 0 || count === 0 ? 0 : n * count;
    });
  }
}

/** A dataset of the given elements, in order (TF.js's `tf.data.array`). The array is copied (shallow). */
export function array<T>(items: readonly T[]): Dataset<T> {
  if (!Array.isArray(items)) throw new ValueError(`array: expected an array of elements, received ${describeValue(items)}.`);
  const copy = items.slice();
  return new Dataset<T>(() => {
    let i = 0;
    return {
      async next() {
        if (i >= copy.length) return null;
        const out = copy.slice(i, i + CHUNK);
        i += out.length;
        return out;
      },
      async close() {
        i = copy.length;
      },
    };
  }, () => copy.length);
}

/** A row of each tensor of `fromTensorSlices`: a Tensor, or a number for a tensor of rank 1. */
export type Slice<T> = T extends Tensor | ArrayLike<number> ? Tensor | number : { [K in keyof T]: Tensor | number };

/**
 * A dataset of the rows of tensors (Python tf.data's `from_tensor_slices`): `{xs: [n, 28, 28], ys: [n]}`
 * gives n elements `{xs: Tensor[28, 28], ys: number}`. Arrays are converted with `keel.tensor`
 * once; each row is copied when read, so the elements outlive the tensors' disposal.
 */
export function fromTensorSlices<T extends Tensor | Record<string, Tensor | ArrayLike<number> | unknown[]>>(data: T): Dataset<Slice<T>> {
  const single = data instanceof Tensor;
  if (!single && (typeof data !== 'object' || data === null || Array.isArray(data) || ArrayBuffer.isView(data))) {
    throw new ValueError(`fromTensorSlices: expected a Tensor or an object of them such as {xs, ys}, received ${describeValue(data)}.`);
  }
  const entries: [string, Tensor][] = single
    ? [['', data as Tensor]]
    : Object.entries(data).map(([k, v]) => [k, v instanceof Tensor ? v : tensor(v as never)]);
  if (entries.length === 0) throw new ValueError(`fromTensorSlices: the object holds no tensors; pass e.g. {xs, ys}.`);
  const n = entries[0][1].rank === 0 ? 0 : entries[0][1].shape[0];
  for (const [key, t] of entries) {
    if (t.rank === 0) throw new ShapeError(`fromTensorSlices: ${key || 'the tensor'} is a scalar; each tensor needs a first axis to slice along.`);
    if (t.shape[0] !== n) {
      throw new ShapeError(`fromTensorSlices: ${entries[0][0]} holds ${n} rows but ${key} holds ${t.shape[0]}; every tensor needs the same number of rows.`);
    }
  }
  const rows = rowsPerChunk(entries.reduce((sum, [, t]) => sum + (n === 0 ? 0 : t.size / n), 0));
  return new Dataset<Slice<T>>(() => {
    let i = 0;
    return {
      async next() {
        if (i >= n) return null;
        const end = Math.min(n, i + rows);
        const out = new Array(end - i);
        for (const [key, t] of entries) {
          if (t.isDisposed) throw new StateError(`fromTensorSlices: ${key || 'the tensor'} was disposed while the dataset was read; keep it until training ends.`);
          const rowShape = t.shape.slice(1);
          const rowSize = t.size / n;
          for (let r = i; r < end; r++) {
            const row = rowShape.length === 0 ? t.values[r] : new Tensor(t.values.slice(r * rowSize, (r + 1) * rowSize), rowShape);
            if (single) out[r - i] = row;
            else (out[r - i] ??= {})[key] = row;
          }
        }
        i = end;
        return out;
      },
      async close() {
        i = n;
      },
    };
  }, () => n);
}

/**
 * A dataset whose every pass calls `make`, which returns an iterator or iterable (sync or async) of
 * elements: a generator function, as TF.js's `tf.data.generator`.
 *
 * @example keel.data.generator(function* () { for (let i = 0; i < 100; i++) yield {xs: keel.tensor([i]), ys: i % 2}; })
 */
export function generator<T>(make: () => DatasetLike<T>): Dataset<T> {
  if (typeof make !== 'function') {
    throw new ValueError(`generator: expected a function returning an iterator (a generator function), received ${describeValue(make)}.`);
  }
  return new Dataset<T>((pass) => {
    let it: Promise<ChunkIterator<unknown>> | null = null;
    let closed = false;
    return {
      async next() {
        if (closed) return null;
        it ??= openPass('generator', make, pass);
        return (await (await it).next()) as T[] | null;
      },
      async close() {
        closed = true;
        if (it) await (await it).close();
      },
    };
  });
}

/** Elements one at a time from chunks. */
function elementIterator<T>(chunks: ChunkIterator<T>): DatasetIterator<T> {
  let chunk: T[] = [];
  let position = 0;
  let done = false;
  const iterator: DatasetIterator<T> & AsyncIterable<T> = {
    async next(): Promise<IteratorResult<T>> {
      while (position >= chunk.length) {
        if (done) return { value: undefined, done: true };
        chunk = []; // not kept while the next one is made
        const next = await chunks.next();
        if (next === null) {
          done = true;
          chunk = [];
          position = 0;
          return { value: undefined, done: true };
        }
        chunk = next;
        position = 0;
      }
      return { value: chunk[position++], done: false };
    },
    async return(): Promise<IteratorResult<T>> {
      done = true;
      chunk = [];
      position = 0;
      await chunks.close();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

function positiveInteger(where: string, name: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new ValueError(`${where}: expected ${name} to be a positive integer, received ${describeValue(v)}.`);
}
