/**
 * `keel.data.idx`: a dataset of the examples of a pair of IDX files (MNIST, Fashion-MNIST, or data
 * of your own in that format), streamed: each pass reads both files chunk by chunk, so a file of
 * many gigabytes trains in a few megabytes of memory.
 *
 * File paths need Node (the reading, and gunzipping of .gz files, is in data/node/, imported only
 * then); in a browser, give functions that return the bytes as a stream, e.g.
 * `() => fetch(url).then((r) => r.body.pipeThrough(new DecompressionStream('gzip')))`.
 */
import type { Tensor } from '../core/tensor.js';
import { ValueError, describeValue } from '../core/errors.js';
import { DataError } from './errors.js';
import { Dataset } from './dataset.js';
import { IdxRecordReader, type ByteStream } from './idxStream.js';
import { Block } from './block.js';

/** A file path (Node), or a function giving the bytes, once per pass. */
export type IdxSource = string | (() => ByteStream | Promise<ByteStream>);

export interface IdxDatasetArgs {
  /** The images (or any examples): an IDX file of shape [count, ...example shape]. */
  images: IdxSource;
  /** The labels: an IDX file of shape [count]. */
  labels: IdxSource;
  /** Divide values by 255, to [0, 1] (default true, as keel-datasets). False: the raw 0-255. */
  scale?: boolean;
  /** Bytes per read of a file, and of gunzipped output (default 256 KiB: about 2 MB in flight for 28×28 images). */
  chunkBytes?: number;
}

/** One example of an IDX dataset: the image as a float32 Tensor (e.g. [28, 28]) and its label. */
export interface IdxExample {
  xs: Tensor;
  ys: number;
}

const KEYS = ['images', 'labels', 'scale', 'chunkBytes'];
const CHUNK_FLOATS = 2 ** 18;

/**
 * The examples of an images file and a labels file, in file order; chain `.shuffle(n, seed)` and
 * `.batch(32)` to train. `size` is known once a pass has read the headers.
 *
 * @example
 *   const train = keel.data.idx({ images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' })
 *     .shuffle(10000, 42).batch(32);
 *   await model.fitDataset(train, { epochs: 5 });
 */
export function idx(args: IdxDatasetArgs): Dataset<IdxExample> {
  if (typeof args !== 'object' || args === null) {
    throw new ValueError(`idx: expected {images, labels}, e.g. {images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz'}, received ${describeValue(args)}.`);
  }
  for (const key of Object.keys(args)) {
    if (!KEYS.includes(key)) throw new ValueError(`idx: unknown option '${key}'. Expected one of: ${KEYS.join(', ')}.`);
  }
  const { images, labels, scale = true, chunkBytes = 1 << 18 } = args;
  for (const [name, source] of [['images', images], ['labels', labels]] as const) {
    if (typeof source !== 'string' && typeof source !== 'function') {
      throw new ValueError(`idx: expected ${name} to be a file path or a function returning a stream of bytes, received ${describeValue(source)}.`);
    }
  }
  if (typeof scale !== 'boolean') throw new ValueError(`idx: expected scale to be true or false, received ${describeValue(scale)}.`);
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1024) {
    throw new ValueError(`idx: expected chunkBytes to be an integer of at least 1024, received ${describeValue(chunkBytes)}.`);
  }
  const factor = scale ? 1 / 255 : 1;
  let size: number | null = null;

  return new Dataset<IdxExample>(() => {
    let readers: Promise<[IdxRecordReader, IdxRecordReader]> | null = null;
    let closed = false;
    const openBoth = async (): Promise<[IdxRecordReader, IdxRecordReader]> => {
      const imageName = typeof images === 'string' ? images : 'idx images';
      const labelName = typeof labels === 'string' ? labels : 'idx labels';
      const x = await IdxRecordReader.open(await bytesOf(images, chunkBytes), imageName);
      let y: IdxRecordReader;
      try {
        y = await IdxRecordReader.open(await bytesOf(labels, chunkBytes), labelName, 1);
        if (x.shape.length < 2) throw new DataError(`${imageName}: declares shape [${x.shape.join(',')}]; an images file has 2 dimensions or more, [count, ...example shape].`);
      } catch (e) {
        await x.close();
        throw e;
      }
      if (x.count !== y.count) {
        await Promise.all([x.close(), y.close()]);
        throw new DataError(`${imageName} holds ${x.count} images but ${labelName} holds ${y.count} labels; they must match.`);
      }
      size = x.count;
      return [x, y];
    };
    return {
      async next() {
        if (closed) return null;
        readers ??= openBoth();
        const [x, y] = await readers;
        // At most 2^18 values per chunk (334 examples of 28×28; a read of 256 KiB holds 334 too).
        const view = await x.read(Math.max(1, Math.floor(CHUNK_FLOATS / x.recordSize)));
        if (view === null) {
          await y.read(1); // checks that the labels file ends there too
          return null;
        }
        const n = view.length / x.recordSize;
        const labelView = await y.readExactly(n);
        // Plain Uint8Arrays whether the chunks were Node Buffers or not: one shape for the loops downstream.
        const pixels = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        const classes = new Uint8Array(labelView.buffer, labelView.byteOffset, labelView.byteLength);
        // The examples as columns of the bytes read (block.ts): no object, no copy per example.
        return new Block(n, [
          { key: 'xs', data: pixels, rowShape: x.shape.slice(1), rowSize: x.recordSize, scale: factor },
          { key: 'ys', data: classes, rowShape: [], rowSize: 1, scale: 1 },
        ]);
      },
      async close() {
        closed = true;
        if (readers) {
          const both = await readers.catch(() => null);
          if (both) await Promise.all(both.map((r) => r.close()));
        }
      },
    };
  }, () => size);
}

async function bytesOf(source: IdxSource, chunkBytes: number): Promise<ByteStream> {
  if (typeof source === 'function') return source();
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new DataError(`${source}: reading a file path needs Node.js; in a browser, pass a function returning the bytes (e.g. () => fetch(url).then((r) => r.body)).`);
  }
  const { fileChunks } = await import('./node/idxFile.js');
  return fileChunks(source, chunkBytes);
}
