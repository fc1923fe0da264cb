/**
 * IDX files read as a stream of byte chunks, record by record (a record: one image, or one label),
 * so that a file of any size is read in bounded memory. Browser-safe: the chunks come from a
 * ReadableStream or any async iterable of bytes; reading from disk is data/node/idxFile.ts.
 */
import { DataError } from './errors.js';
import { idxHeaderSize, parseIdxHeader } from './idx.js';

/** Where the bytes of an IDX file come from, once per pass. */
export type ByteStream = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/** Records of one IDX file, read from its chunks. */
export class IdxRecordReader {
  /** The shape the header declares: [count, ...record shape]. */
  shape: number[] = [];
  /** Bytes per record. */
  recordSize = 0;
  private chunk: Uint8Array = new Uint8Array(0);
  private offset = 0;
  private delivered = 0;
  private ended = false;

  private constructor(private readonly chunks: AsyncIterator<Uint8Array>, readonly source: string) {}

  /** Opens `bytes` and reads its header (`rank`: the number of dimensions expected, if any). */
  static async open(bytes: ByteStream, source: string, rank?: number): Promise<IdxRecordReader> {
    const reader = new IdxRecordReader(chunksOf(bytes, source), source);
    try {
      await reader.readHeader(rank);
    } catch (e) {
      await reader.close();
      throw e;
    }
    return reader;
  }

  get count(): number {
    return this.shape[0];
  }

  private async readHeader(rank?: number): Promise<void> {
    while (this.available() < 4 || this.available() < idxHeaderSize(this.rest())) {
      if (!(await this.pull())) break;
    }
    const head = this.rest();
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      throw new DataError(
        `${this.source}: the bytes are gzip-compressed; decompress them first (in a browser, stream.pipeThrough(new DecompressionStream('gzip'))). ` +
          `From a file path on Node, Keel gunzips them itself.`,
      );
    }
    const { shape, headerSize } = parseIdxHeader(head, this.source, rank);
    this.offset += headerSize;
    this.shape = shape;
    this.recordSize = shape.slice(1).reduce((a, b) => a * b, 1);
  }

  /**
   * Up to `max` whole records (at least one) as one byte view, valid until the reader is closed;
   * null after the last record. A file that ends early or goes on past its last record is refused.
   */
  async read(max: number): Promise<Uint8Array | null> {
    const left = this.count - this.delivered;
    if (left === 0) {
      await this.checkEnd();
      return null;
    }
    const size = this.recordSize;
    while (this.available() < size) {
      if (!(await this.pull())) {
        throw new DataError(
          `${this.source}: truncated: the header declares shape [${this.shape.join(',')}] (${this.count} records of ${size} bytes), ` +
            `the file ends after ${this.delivered}${this.available() > 0 ? ` and ${this.available()} bytes` : ''}. Download the file again.`,
        );
      }
    }
    const k = Math.min(max, left, Math.floor(this.available() / size));
    const view = this.chunk.subarray(this.offset, this.offset + k * size);
    this.offset += k * size;
    this.delivered += k;
    return view;
  }

  /** Exactly `n` records (fewer only if the file ends, which `read` refuses), in one view. */
  async readExactly(n: number): Promise<Uint8Array> {
    const first = await this.read(n);
    if (first === null) throw this.tooFew(n);
    if (first.length === n * this.recordSize) return first;
    const out = new Uint8Array(n * this.recordSize);
    out.set(first);
    let filled = first.length;
    while (filled < out.length) {
      const more = await this.read((out.length - filled) / this.recordSize);
      if (more === null) throw this.tooFew(n);
      out.set(more, filled);
      filled += more.length;
    }
    return out;
  }

  async close(): Promise<void> {
    this.ended = true;
    this.chunk = new Uint8Array(0);
    this.offset = 0;
    await this.chunks.return?.();
  }

  private tooFew(n: number): DataError {
    return new DataError(`${this.source}: holds ${this.count} records; more (${n} at once) were asked for.`);
  }

  private async checkEnd(): Promise<void> {
    let extra = this.available();
    while (extra === 0 && (await this.pull())) extra = this.available();
    if (extra > 0) {
      throw new DataError(
        `${this.source}: wrong size: the header declares shape [${this.shape.join(',')}], and the file holds more bytes after its ` +
          `${this.count} records. Is it the right file, and fully gunzipped?`,
      );
    }
  }

  private available(): number {
    return this.chunk.length - this.offset;
  }

  private rest(): Uint8Array {
    return this.chunk.subarray(this.offset);
  }

  /** Appends the next chunk to what is left of the current one; false at the end of the stream. */
  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const result = await this.chunks.next();
    if (result.done) {
      this.ended = true;
      return false;
    }
    const next = result.value;
    if (!(next instanceof Uint8Array)) {
      throw new DataError(`${this.source}: the byte stream gave ${typeof next === 'object' ? 'an object' : typeof next}; expected Uint8Array chunks.`);
    }
    const left = this.available();
    if (left === 0) {
      this.chunk = next;
    } else {
      const joined = new Uint8Array(left + next.length);
      joined.set(this.rest());
      joined.set(next, left);
      this.chunk = joined;
    }
    this.offset = 0;
    return true;
  }
}

/** The chunks of an async iterable, or of a ReadableStream through its reader (older browsers cannot iterate one). */
function chunksOf(bytes: ByteStream, source: string): AsyncIterator<Uint8Array> {
  if (typeof (bytes as ReadableStream<Uint8Array>)?.getReader === 'function') {
    const reader = (bytes as ReadableStream<Uint8Array>).getReader();
    return {
      async next() {
        const r = await reader.read();
        return r.done ? { value: undefined, done: true } : { value: r.value, done: false };
      },
      async return() {
        await reader.cancel().catch(() => undefined);
        return { value: undefined, done: true };
      },
    };
  }
  if (typeof (bytes as AsyncIterable<Uint8Array>)?.[Symbol.asyncIterator] === 'function') {
    return (bytes as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }
  throw new DataError(`${source}: expected a ReadableStream or an async iterable of Uint8Array chunks.`);
}
