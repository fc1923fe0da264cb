/** Reading IDX files from disk, gzipped or not. Node only. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataError, data } from 'keel';
import { count } from '../format.js';

const { parseIdx } = data;
type IdxArray = data.IdxArray;

/** Reads and parses one IDX file; gzip is recognized by its magic bytes (1f 8b), not the name. */
export function readIdxFile(path: string, rank?: number): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DataError(`${path}: corrupt or truncated gzip file (${(e as Error).message}); download it again.`);
    }
  }
  return parseIdx(bytes, path, rank);
}

/** The four files of an official MNIST-style split. */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** Finds `base`, `base.gz` or the dotted spelling (`train-images.idx3-ubyte`) in `dir`. */
export function findIdxFile(dir: string, base: string): string {
  const dotted = base.replace(/-(idx\d)/, '.$1');
  const candidates = [base, `${base}.gz`, dotted, `${dotted}.gz`];
  for (const name of candidates) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new DataError(
    `${dir}: no ${base} file (also tried ${candidates.slice(1).join(', ')}); the data folder must hold the four official IDX files ` +
      `(${Object.values(IDX_FILES).join(', ')}), plain or gzipped.`,
  );
}

/** Reads an official train/test pair of images and labels from `dir`, checking that they agree. */
export function readIdxSplit(dir: string): { train: { images: IdxArray; labels: IdxArray }; test: { images: IdxArray; labels: IdxArray } } {
  if (!existsSync(dir)) throw new DataError(`${dir}: data folder not found; pass a folder holding the official IDX files.`);
  const read = (imagesBase: string, labelsBase: string) => {
    const imagesPath = findIdxFile(dir, imagesBase);
    const labelsPath = findIdxFile(dir, labelsBase);
    const images = readIdxFile(imagesPath, 3);
    const labels = readIdxFile(labelsPath, 1);
    if (images.shape[0] !== labels.shape[0]) {
      throw new DataError(`${dir}: ${imagesPath} holds ${count(images.shape[0])} images but ${labelsPath} holds ${count(labels.shape[0])} labels; they must match.`);
    }
    return { images, labels };
  };
  return { train: read(IDX_FILES.trainImages, IDX_FILES.trainLabels), test: read(IDX_FILES.testImages, IDX_FILES.testLabels) };
}
