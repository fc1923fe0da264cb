/** BN at inference: exact population statistics and folding BN into Dense. */
export {
  recomputeBatchNormStatistics, RunningMoments,
  type RecomputeBatchNormStatisticsArgs, type RecomputeProgress, type RecomputedStatistics,
} from './populationStatistics.js';
export { foldBatchNorm, type FoldResult } from './foldBatchNorm.js';
export {
  foldBatchNormAfterDense, foldBatchNormBeforeDense,
  type BatchNormParameters, type DenseWeights, type FoldedDenseWeights,
} from './foldWeights.js';
