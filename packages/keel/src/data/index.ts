/**
 * Data on the byte level: IDX parsing and writing, a seeded stratified split, and the CRC-32 that
 * file formats use to spot damage. Plain functions on bytes, so they run in a browser; the
 * Fashion-MNIST and MNIST loaders live in the `keel-datasets` package.
 */
export { parseIdx, encodeIdx, type IdxArray } from './idx.js';
export { stratifiedSplit, type StratifiedSplitArgs, type SplitIndices } from './split.js';
export { crc32 } from '../core/crc32.js';
export { DataError } from './errors.js';
