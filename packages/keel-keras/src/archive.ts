/**
 * The `.keras` zip archive: its entries read into memory with their sizes bounded before anything
 * is inflated, and written back with fflate. Pure: no file system, runs in a browser.
 *
 * Keras 3 writes three entries at the archive's top level: `metadata.json`, `config.json` and
 * `model.weights.h5` (and an `assets/` folder for layers with assets, which Keel has none of).
 * The sizes a zip declares in its central directory are what fflate inflates into (it never grows
 * that buffer), so refusing declared sizes above a bound before inflating bounds the memory a
 * hostile archive can take (a zip bomb) to that bound.
 */
import { unzipSync, zipSync, strToU8 } from 'fflate';
import { ModelFormatError, ValueError } from 'keel';

export const CONFIG_FILE = 'config.json';
export const METADATA_FILE = 'metadata.json';
export const WEIGHTS_FILE = 'model.weights.h5';

/** Default bound on the inflated size of the three entries together (Keel's largest zoo model is under 2 MB). */
export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024;
const MAX_JSON_BYTES = 64 * 1024 * 1024;
const MAX_ENTRIES = 10_000;

export interface ArchiveLimits {
  /** Upper bound on the inflated size of config.json, metadata.json and model.weights.h5 together. Default 1 GiB. */
  maxUncompressedBytes?: number;
}

export interface KerasArchive {
  config: Uint8Array;
  metadata: Uint8Array | undefined;
  weights: Uint8Array;
}

const FIX = 'Save the model again with Keras (model.save("model.keras")) or with keel-keras, and load that file.';

/** Why an entry name may not be trusted, or undefined: absolute paths and `..` would leave the archive if extracted. */
function unsafeName(name: string): string | undefined {
  if (name.length === 0 || name.length > 1024) return 'an empty or over-long name';
  if (name.includes('\0')) return 'a NUL character';
  if (name.includes('\\')) return 'a backslash (a Windows path)';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'an absolute path';
  if (name.split('/').some((part) => part === '..')) return "a '..' segment that leaves the archive";
  return undefined;
}

/**
 * The entries Keel needs from a `.keras` archive. Throws ModelFormatError for anything that is not a
 * Keras 3 archive, names an entry outside the archive, declares more bytes than `limits` allow, or
 * lacks config.json or model.weights.h5, before inflating anything.
 */
export function readArchive(bytes: Uint8Array, limits: ArchiveLimits = {}): KerasArchive {
  const { maxUncompressedBytes = DEFAULT_MAX_UNCOMPRESSED_BYTES } = limits;
  if (!(maxUncompressedBytes > 0)) {
    throw new ValueError(`loadKerasModel: maxUncompressedBytes must be a positive number of bytes, received ${String(maxUncompressedBytes)}.`);
  }
  const entries: { name: string; originalSize: number; compression: number }[] = [];
  try {
    // A filter that refuses every entry lists the central directory without inflating anything.
    unzipSync(bytes, {
      filter: (file) => {
        if (entries.length >= MAX_ENTRIES) throw new ModelFormatError(`.keras archive: more than ${MAX_ENTRIES} entries; a Keras 3 archive has three. ${FIX}`);
        entries.push({ name: file.name, originalSize: file.originalSize, compression: file.compression });
        return false;
      },
    });
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError(
      `.keras archive: expected a zip archive (Keras 3's .keras format), received ${bytes.byteLength} bytes that are not one ` +
        `(${(e as Error).message}). Was the file truncated, or is it an HDF5 .h5 or a SavedModel? ${FIX}`,
    );
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    const problem = unsafeName(entry.name);
    if (problem) {
      throw new ModelFormatError(
        `.keras archive: entry ${JSON.stringify(entry.name.slice(0, 200))} has ${problem}; expected names inside the archive such as ` +
          `'${CONFIG_FILE}' and '${WEIGHTS_FILE}'. The archive was not written by Keras and is refused whole. ${FIX}`,
      );
    }
    if (seen.has(entry.name)) {
      throw new ModelFormatError(`.keras archive: entry '${entry.name.slice(0, 200)}' appears twice; expected each file once. ${FIX}`);
    }
    seen.add(entry.name);
  }
  if (seen.has('model.weights.json')) {
    throw new ModelFormatError(
      `.keras archive: the weights are sharded (model.weights.json), which keel-keras does not read; expected a single '${WEIGHTS_FILE}'. ` +
        `Save the model in Keras without max_shard_size.`,
    );
  }
  const wanted = [CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE];
  for (const name of [CONFIG_FILE, WEIGHTS_FILE]) {
    if (!seen.has(name)) {
      throw new ModelFormatError(
        `.keras archive: expected an entry '${name}' (a Keras 3 archive holds ${wanted.join(', ')}), received ` +
          `${entries.length ? entries.map((e) => `'${e.name.slice(0, 80)}'`).slice(0, 10).join(', ') : 'no entries'}. ${FIX}`,
      );
    }
  }
  let total = 0;
  for (const entry of entries) {
    if (!wanted.includes(entry.name)) continue;
    if (entry.compression !== 0 && entry.compression !== 8) {
      throw new ModelFormatError(`.keras archive: '${entry.name}' uses zip compression method ${entry.compression}; expected stored (0) or deflate (8), as Python's zipfile writes. ${FIX}`);
    }
    const bound = entry.name === WEIGHTS_FILE ? maxUncompressedBytes : Math.min(MAX_JSON_BYTES, maxUncompressedBytes);
    total += entry.originalSize;
    if (!(entry.originalSize <= bound) || total > maxUncompressedBytes) {
      throw new ModelFormatError(
        `.keras archive: '${entry.name}' declares ${entry.originalSize} bytes once inflated (${total} bytes so far), more than the bound of ` +
          `${bound} bytes; refused before inflating (a zip bomb, or a model larger than expected). If the file is trusted and ` +
          `this large, pass a larger maxUncompressedBytes.`,
      );
    }
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (file) => wanted.includes(file.name) });
  } catch (e) {
    throw new ModelFormatError(`.keras archive: cannot inflate its entries (${(e as Error).message}); the archive is damaged. ${FIX}`);
  }
  for (const entry of entries) {
    const file = files[entry.name];
    if (wanted.includes(entry.name) && (!file || file.byteLength !== entry.originalSize)) {
      throw new ModelFormatError(
        `.keras archive: '${entry.name}' inflates to ${file?.byteLength ?? 0} bytes, but the archive declares ${entry.originalSize}; the archive is damaged. ${FIX}`,
      );
    }
  }
  return { config: files[CONFIG_FILE], metadata: files[METADATA_FILE], weights: files[WEIGHTS_FILE] };
}

/** The archive's bytes, in the order Keras 3 writes its entries. */
export function writeArchive(config: unknown, metadata: unknown, weights: Uint8Array): Uint8Array {
  // A fixed date (zip's epoch) so that the same model gives the same bytes, as Keras does for its JSON entries.
  const mtime = new Date(1980, 0, 1);
  return zipSync(
    {
      [METADATA_FILE]: [strToU8(JSON.stringify(metadata)), { mtime }],
      [CONFIG_FILE]: [strToU8(JSON.stringify(config)), { mtime }],
      [WEIGHTS_FILE]: [weights, { mtime }],
    },
    { level: 6 },
  );
}

/** JSON from an archive entry, ModelFormatError naming the entry otherwise. */
export function parseJSONEntry(bytes: Uint8Array, name: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new ModelFormatError(`.keras archive: '${name}' is not valid UTF-8 JSON (${(e as Error).message}). ${FIX}`);
  }
}
