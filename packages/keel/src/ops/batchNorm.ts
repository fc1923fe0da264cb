/**
 * Batch normalization as pure functions: the math only. Which statistics to use, and the moving
 * averages, belong to the BatchNormalization layer.
 *
 *   training:  μ = mean(x), σ² = mean((x − μ)²)   (biased, per feature, over the batch)
 *              y = γ·(x − μ)/sqrt(σ² + ε) + β
 *   inference: y = γ·(x − movingMean)/sqrt(movingVariance + ε) + β
 *
 * Features are the last axis; every other axis is reduced over. ε sits inside the square root.
 */
import type { Tensor } from '../core/tensor.js';
import { backendFor } from '../backend/backend.js';

/** What the training forward keeps for its backward. */
export interface BatchNormSaved {
  mean: Tensor;
  variance: Tensor;
  /** 1/sqrt(σ² + ε) */
  invStd: Tensor;
}

/** Inference normalization with given statistics: y = γ(x − mean)/sqrt(variance + ε) + β. */
export function batchNorm(
  x: Tensor, mean: Tensor, variance: Tensor, beta: Tensor, gamma: Tensor, epsilon: number, y: Tensor,
): void {
  const cols = mean.size;
  backendFor(x.dtype).batchNormInfer(
    x.values, mean.values, variance.values, gamma.values, beta.values, epsilon, x.size / cols, cols, y.values,
  );
}

/** Training normalization with the batch's own statistics, written into `saved` for the backward. */
export function batchNormTraining(
  x: Tensor, beta: Tensor, gamma: Tensor, epsilon: number, y: Tensor, saved: BatchNormSaved,
): void {
  const cols = gamma.size;
  backendFor(x.dtype).batchNormTrain(
    x.values, gamma.values, beta.values, epsilon, x.size / cols, cols,
    y.values, saved.mean.values, saved.variance.values, saved.invStd.values,
  );
}

/**
 * Exact gradient of `batchNormTraining`. μ and σ² are functions of every row, so
 *   dx = γ/(N·sqrt(σ²+ε)) · (N·dy − Σdy − x̂·Σ(dy·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy,
 * where x̂ = (x − μ)/sqrt(σ² + ε). dγ and dβ accumulate (+=).
 */
export function batchNormTrainingGrad(
  x: Tensor, dy: Tensor, gamma: Tensor, saved: BatchNormSaved,
  dx: Tensor, dGamma: Tensor, dBeta: Tensor,
): void {
  const cols = gamma.size;
  backendFor(x.dtype).batchNormGrad(
    x.values, dy.values, gamma.values, saved.mean.values, saved.invStd.values,
    x.size / cols, cols, dx.values, dGamma.values, dBeta.values,
  );
}
