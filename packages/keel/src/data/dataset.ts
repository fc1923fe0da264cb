/**
 * Datasets: data read pass by pass, never all at once, as TF.js's `tf.data` (a small part of it):
 * sources (`array`, `fromTensorSlices`, `generator`, and `idx` in idxDataset.ts) and the steps
 * `map`, `shuffle`, `batch`, `take` and `repeat`. `model.fitDataset` and `model.evaluateDataset`
 * train and evaluate on a dataset of batches `{xs, ys}`.
 *
 * Elements flow between steps in chunks (a few hundred examples, or one read of a file), so a step
 * costs no await per example; `idx` examples flow as columns of bytes (block.ts) through `shuffle`,
 * `take`, `repeat` and `batch`. Memory is bounded by the chunks in flight and the shuffle buffer.
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
import { Block } from './block.js';

/** Elements per chunk of the in-memory sources, at most; fewer when they are large (see rowsPerChunk). */
const CHUNK = 256;

/** Rows of `rowSize` values per chunk: CHUNK, or fewer so that a chunk holds about 1 MiB of float32. */
function rowsPerChunk(rowSize: number): number {
  return Math.max(1, Math.min(CHUNK, Math.floor(2 ** 18 / Math.max(1, rowSize))));
}

/** A pass as the steps see it: chunks of elements, or blocks of examples as columns (block.ts). @internal */
export interface Chunks<T> {
  next(): Promise<T[] | Block | null>;
  close(): Promise<void>;
}

/** The elements of a chunk, a block's materialized. */
function elementsOf<T>(chunk: T[] | Block): T[] {
  return chunk instanceof Block ? (chunk.materialize() as T[]) : chunk;
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
    private readonly open: (pass: number) => Chunks<T>,
    private readonly sizeOf: () => number | null = () => null,
  ) {}

  /** Number of elements, Infinity after `repeat()`, or null while unknown (an IDX file before its header is read). */
  get size(): number | null {
    return this.sizeOf();
  }

  /** @internal Opens pass `pass` (default: the next one this dataset has not opened), as elements. */
  [OPEN_PASS](pass?: number): ChunkIterator<T> {
    const chunks = this.open(pass ?? this.passes++);
    return {
      async next() {
        const chunk = await chunks.next();
        return chunk === null ? null : elementsOf(chunk);
      },
      close: () => chunks.close(),
    };
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
      const up = this.open(pass);
      return {
        async next() {
          const next = await up.next();
          if (next === null) return null;
          const chunk = elementsOf(next);
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
      const up = this.open(pass);
      const random = seed === undefined ? defaultRandom().fork() : new Random((Math.trunc(seed) + Math.imul(pass, 0x9e3779b9)) >>> 0);
      // The buffer: elements, or rows of a block (`filled` of them) while the chunks are blocks.
      // Both take the same draws in the same order, so a seed gives one order whatever the form.
      let buffer: T[] = [];
      let rows: Block | null = null;
      let filled = 0;
      let ended = false;
      let order: Int32Array | null = null;
      let drained = 0;
      return {
        async next() {
          while (!ended) {
            const chunk = await up.next();
            if (chunk === null) {
              ended = true;
              break;
            }
            if (chunk instanceof Block && buffer.length === 0) {
              const out = chunk.emptyLike(chunk.length);
              let given = 0;
              for (let r = 0; r < chunk.length; r++) {
                if (filled < bufferSize) {
                  if (rows === null || filled === rows.length) rows = grow(rows, filled, chunk, Math.min(bufferSize, Math.max(2 * filled, chunk.length)));
                  rows.copyRow(filled++, chunk, r);
                } else {
                  const j = random.int(bufferSize);
                  out.copyRow(given++, rows!, j);
                  rows!.copyRow(j, chunk, r);
                }
              }
              if (given > 0) return out.slice(0, given);
              continue;
            }
            if (rows !== null) {
              buffer = rows.slice(0, filled).materialize() as T[];
              rows = null;
              filled = 0;
            }
            const out: T[] = [];
            for (const e of elementsOf(chunk)) {
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
          // The end: what is left, in one random order (drawn once), a chunk at a time.
          if (rows !== null) {
            order ??= random.shuffle(Int32Array.from({ length: filled }, (_, i) => i));
            if (drained === filled) return null;
            const n = Math.min(CHUNK, filled - drained);
            const out = rows.emptyLike(n);
            for (let i = 0; i < n; i++) out.copyRow(i, rows, order[drained + i]);
            drained += n;
            return out;
          }
          if (order === null) {
            random.shuffle(buffer);
            order = new Int32Array(0);
          }
          if (drained === buffer.length) return null;
          const out = buffer.slice(drained, drained + CHUNK);
          drained += out.length;
          return out;
        },
        close: () => {
          buffer = [];
          rows = null;
          filled = drained = 0;
          order = new Int32Array(0);
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
      const up = this.open(pass);
      // Pending examples: elements, or blocks (`parts`, `count` rows in all) while the chunks are blocks.
      let pending: T[] = [];
      let parts: Block[] = [];
      let count = 0;
      let ended = false;
      /** The first `n` pending rows as one block, copied only when they straddle two blocks. */
      const takeRows = (n: number): Block => {
        count -= n;
        const first = parts[0];
        if (first.length >= n) {
          if (first.length === n) parts.shift();
          else parts[0] = first.slice(n, first.length);
          return first.slice(0, n);
        }
        const out = first.emptyLike(n);
        for (let filled = 0; filled < n;) {
          const part = parts[0];
          const k = Math.min(part.length, n - filled);
          for (let r = 0; r < k; r++) out.copyRow(filled + r, part, r);
          filled += k;
          if (k === part.length) parts.shift();
          else parts[0] = part.slice(k, part.length);
        }
        return out;
      };
      const batchOf = (rows: Block) => rows.batch(0, rows.length) as Batched<T>;
      return {
        async next() {
          while (!ended) {
            const chunk = await up.next();
            if (chunk === null) {
              ended = true;
              break;
            }
            // A batch goes out once two more examples are pending, so that a last single one can still join it.
            if (chunk instanceof Block && pending.length === 0) {
              parts.push(chunk);
              count += chunk.length;
              if (count >= batchSize + 2) {
                const out: Batched<T>[] = [];
                while (count >= batchSize + 2) out.push(batchOf(takeRows(batchSize)));
                return out;
              }
              continue;
            }
            if (count > 0) {
              pending = parts.flatMap((part) => part.materialize() as T[]);
              parts = [];
              count = 0;
            }
            for (const e of elementsOf(chunk)) pending.push(e);
            if (pending.length >= batchSize + 2) {
              const out: Batched<T>[] = [];
              let start = 0;
              for (; pending.length - start >= batchSize + 2; start += batchSize) out.push(stack(pending.slice(start, start + batchSize)));
              pending = pending.slice(start);
              return out;
            }
          }
          if (count > 0) {
            const n = count;
            if (n === batchSize + 1) return [batchOf(takeRows(smallLastBatch ? n : batchSize))];
            if (n === batchSize || smallLastBatch) return [batchOf(takeRows(n))];
            parts = [];
            count = 0;
            return null;
          }
          const rest = pending;
          pending = [];
          if (rest.length === batchSize + 1) return [stack(smallLastBatch ? rest : rest.slice(0, batchSize))];
          if (rest.length === batchSize || (rest.length > 0 && smallLastBatch)) return [stack(rest)];
          return null;
        },
        close: () => {
          pending = [];
          parts = [];
          count = 0;
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
      const up = this.open(pass);
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
      let up: Chunks<T> | null = null;
      let gave = false;
      return {
        next: async () => {
          while (round < count) {
            up ??= this.open(count === Infinity ? round : pass * count + round);
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

/** `rows` (holding `filled` rows) moved into a block of `capacity` rows shaped as `like`. */
function grow(rows: Block | null, filled: number, like: Block, capacity: number): Block {
  const bigger = (rows ?? like).emptyLike(capacity);
  if (rows !== null) rows.columns.forEach((c, k) => bigger.columns[k].data.set(c.data.subarray(0, filled * c.rowSize)));
  return bigger;
}
