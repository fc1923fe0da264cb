/**
 * The compact binary cache of an image data set: Uint8 labels and Uint8 pixels, behind a header
 * that lets a reader reject a corrupt, truncated or stale file.
 *
 * Layout (little-endian):
 *   bytes 0-7    magic "KEELDS01"
 *   8            uint32 count (images)
 *   12, 16       uint32 rows, cols
 *   20           uint32 skipped: malformed source rows left out when the cache was built
 *   24           uint32 source fingerprint (e.g. total size of the source files), to spot a changed source
 *   28           uint32 CRC-32 of everything after the header
 *   32           labels: count bytes, then images: count·rows·cols bytes
 *
 * Pure bytes in and out, so it runs anywhere; the Node file handling lives in `data/node/cache.ts`.
 */
import { DataError, data } from 'keel';
import { count as format } from './format.js';

const { crc32 } = data;

export const CACHE_MAGIC = 'KEELDS01';
export const CACHE_HEADER_BYTES = 32;

/** Images and labels of a whole data set, in source order. */
export interface RawImageSet {
  count: number;
  rows: number;
  cols: number;
  /** One class index per image. */
  labels: Uint8Array;
  /** count·rows·cols pixels, 0-255, row-major. */
  images: Uint8Array;
  /** Malformed source rows skipped while reading the source. */
  skipped: number;
}

/** Serializes a data set into the cache format. */
export function encodeCache(set: RawImageSet, fingerprint: number): Uint8Array {
  const { count, rows, cols, labels, images } = set;
  if (labels.length !== count || images.length !== count * rows * cols) {
    throw new DataError(`encodeCache: expected ${format(count)} labels and ${format(count * rows * cols)} pixels, received ${format(labels.length)} and ${format(images.length)}.`);
  }
  const out = new Uint8Array(CACHE_HEADER_BYTES + count + images.length);
  for (let i = 0; i < 8; i++) out[i] = CACHE_MAGIC.charCodeAt(i);
  out.set(labels, CACHE_HEADER_BYTES);
  out.set(images, CACHE_HEADER_BYTES + count);
  const view = new DataView(out.buffer);
  view.setUint32(8, count, true);
  view.setUint32(12, rows, true);
  view.setUint32(16, cols, true);
  view.setUint32(20, set.skipped, true);
  view.setUint32(24, fingerprint >>> 0, true);
  view.setUint32(28, crc32(out.subarray(CACHE_HEADER_BYTES)), true);
  return out;
}

/**
 * Reads a cache file's bytes. Throws a DataError naming the problem (bad magic, wrong size, checksum
 * mismatch, other source) so that the caller can rebuild the cache.
 */
export function decodeCache(bytes: Uint8Array, source: string, fingerprint?: number): RawImageSet {
  if (bytes.length < CACHE_HEADER_BYTES) throw new DataError(`${source}: cache truncated (${bytes.length} bytes, header alone is ${CACHE_HEADER_BYTES}).`);
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== CACHE_MAGIC.charCodeAt(i)) throw new DataError(`${source}: not a Keel data cache (bad magic).`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(8, true);
  const rows = view.getUint32(12, true);
  const cols = view.getUint32(16, true);
  const skipped = view.getUint32(20, true);
  const storedFingerprint = view.getUint32(24, true);
  const expectedSize = CACHE_HEADER_BYTES + count + count * rows * cols;
  if (bytes.length !== expectedSize) {
    throw new DataError(`${source}: cache has ${format(bytes.length)} bytes, its header implies ${format(expectedSize)} (truncated or corrupt).`);
  }
  if (fingerprint !== undefined && storedFingerprint !== fingerprint >>> 0) {
    throw new DataError(`${source}: cache was built from other source files (fingerprint ${storedFingerprint}, expected ${fingerprint >>> 0}).`);
  }
  const payload = bytes.subarray(CACHE_HEADER_BYTES);
  if (crc32(payload) !== view.getUint32(28, true)) throw new DataError(`${source}: cache checksum mismatch (corrupt).`);
  return {
    count, rows, cols, skipped,
    labels: payload.subarray(0, count),
    images: payload.subarray(count),
  };
}
