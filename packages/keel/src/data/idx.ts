/**
 * IDX: the binary format of the official MNIST and Fashion-MNIST files.
 *
 * Layout (big-endian): two zero bytes, a type byte (0x08 = unsigned byte), a byte giving the number
 * of dimensions d, then d uint32 sizes, then the values in row-major order. Images files are
 * `[count, rows, cols]` (magic 0x00000803), labels files `[count]` (magic 0x00000801).
 *
 * This module only parses bytes, so it runs in a browser; reading files and gunzipping is done by
 * `data/node/`, and streaming a file record by record by `idxStream.ts`.
 */
import { DataError } from './errors.js';

/** A parsed unsigned-byte IDX file. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64',
};

/**
 * Parses the bytes of an (already gunzipped) IDX file of unsigned bytes.
 * `rank`, when given, is the number of dimensions expected (3 for images, 1 for labels).
 * `source` names the file in error messages.
 */
export function parseIdx(bytes: Uint8Array, source: string, rank?: number): IdxArray {
  const { shape, headerSize } = parseIdxHeader(bytes, source, rank);
  const size = shape.reduce((a, b) => a * b, 1);
  const available = bytes.length - headerSize;
  if (available < size) {
    throw new DataError(
      `${source}: truncated: the header declares shape [${shape.join(',')}] (${size} bytes of values), ` +
        `the file holds ${available}. Download the file again.`,
    );
  }
  if (available > size) {
    throw new DataError(
      `${source}: wrong size: the header declares shape [${shape.join(',')}] (${size} bytes of values), ` +
        `the file holds ${available - size} more. Is it the right file, and fully gunzipped?`,
    );
  }
  return { shape, data: bytes.subarray(headerSize, headerSize + size) };
}

/** Bytes of the header that starts `bytes` (4 + 4 per dimension), or 0 if its first 4 bytes are not there yet. */
export function idxHeaderSize(bytes: Uint8Array): number {
  return bytes.length < 4 ? 0 : 4 + 4 * bytes[3];
}

/**
 * Checks the header at the start of `bytes` (as parseIdx does, with the same messages) and returns
 * the shape it declares and its length in bytes; the values need not follow yet.
 */
export function parseIdxHeader(bytes: Uint8Array, source: string, rank?: number): { shape: number[]; headerSize: number } {
  if (bytes.length < 4) {
    throw new DataError(`${source}: not an IDX file: it holds ${bytes.length} bytes, fewer than the 4-byte magic number.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const type = bytes[2];
  const dims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || !(type in TYPE_NAMES) || dims === 0) {
    throw new DataError(
      `${source}: bad magic number 0x${hex(magic)}; an IDX file starts with 0x00000801 (labels) or 0x00000803 (images). ` +
        `Check that the file is an MNIST-style IDX file (gunzipped or .gz).`,
    );
  }
  if (type !== 0x08) {
    throw new DataError(
      `${source}: IDX values of type ${TYPE_NAMES[type]} (magic 0x${hex(magic)}) are not supported; Keel reads unsigned-byte files (0x0000080N).`,
    );
  }
  if (rank !== undefined && dims !== rank) {
    const expected = rank === 1 ? '0x00000801 (labels, 1 dimension)' : `0x0000080${rank} (${rank} dimensions)`;
    throw new DataError(`${source}: magic number 0x${hex(magic)} declares ${dims} dimension(s); expected ${expected}. Are the images and labels files swapped?`);
  }
  const headerSize = 4 + 4 * dims;
  if (bytes.length < headerSize) {
    throw new DataError(`${source}: truncated IDX header: ${dims} dimension sizes need ${headerSize} bytes, the file holds ${bytes.length}.`);
  }
  const shape: number[] = [];
  for (let d = 0; d < dims; d++) shape.push(view.getUint32(4 + 4 * d));
  return { shape, headerSize };
}

/** Builds the bytes of an unsigned-byte IDX file (for tests and for exporting data). */
export function encodeIdx(shape: readonly number[], data: Uint8Array): Uint8Array {
  const headerSize = 4 + 4 * shape.length;
  const out = new Uint8Array(headerSize + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | shape.length);
  shape.forEach((s, d) => view.setUint32(4 + 4 * d, s));
  out.set(data, headerSize);
  return out;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
