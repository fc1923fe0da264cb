/**
 * Data on the byte level: IDX parsing and writing, a seeded stratified split, and the CRC-32 that
 * file formats use to spot damage. Plain functions on bytes, so they run in a browser; the
 * Fashion-MNIST and MNIST loaders live in the `keel-datasets` package.
 * Datasets (`idx`, `array`, `fromTensorSlices`, `generator`, then `shuffle`, `batch`, `map`...)
 * stream data that need not fit in memory to `model.fitDataset` (dataset.ts).
 */
export { parseIdx, encodeIdx, type IdxArray } from './idx.js';
export { stratifiedSplit, type StratifiedSplitArgs, type SplitIndices } from './split.js';
export { crc32 } from '../core/crc32.js';
export { DataError } from './errors.js';
export { Dataset, array, fromTensorSlices, generator, type DatasetIterator, type Slice } from './dataset.js';
export { idx, type IdxDatasetArgs, type IdxExample, type IdxSource } from './idxDataset.js';
export type { ByteStream } from './idxStream.js';
export type { Batched } from './stack.js';
