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

/**
 * The per-feature affine part of batch normalization, y = γ·x̂ + β, and the ε of x̂. Named fields
 * rather than positions: γ and β have the same type, so a swap in an argument list would
 * type-check. (The Backend kernels take them positionally, always γ before β.)
 */
export interface BatchNormAffine {
  /** Scale γ, one value per feature. */
  gamma: Tensor;
  /** Offset β, one value per feature. */
  beta: Tensor;
  /** ε, added to the variance inside the square root. */
  epsilon: number;
}

/** Everything inference normalization needs: the affine part and the statistics to normalize with. */
export interface BatchNormParams extends BatchNormAffine {
  /** Per-feature mean subtracted (the moving mean, in a layer's inference). */
  mean: Tensor;
  /** Per-feature variance divided by, as sqrt(variance + ε) (the moving variance, in inference). */
  variance: Tensor;
}

/** What the training forward keeps for its backward. */
export interface BatchNormSaved {
  mean: Tensor;
  variance: Tensor;
  /** 1/sqrt(σ² + ε) */
  invStd: Tensor;
}

/** Where the training backward writes: dx, and dγ and dβ, which it accumulates into (+=). */
export interface BatchNormGrads {
  dx: Tensor;
  dGamma: Tensor;
  dBeta: Tensor;
}

/** Inference normalization with given statistics into `y`: y = γ(x − mean)/sqrt(variance + ε) + β. */
export function batchNorm(x: Tensor, params: BatchNormParams, y: Tensor): void {
  const { mean, variance, gamma, beta, epsilon } = params;
  const cols = mean.size;
  backendFor(x.dtype).batchNormInfer(
    x.values, mean.values, variance.values, gamma.values, beta.values, epsilon, x.size / cols, cols, y.values,
  );
}

/** Training normalization with the batch's own statistics into `y`, which it writes into `saved` for the backward. */
export function batchNormTraining(x: Tensor, affine: BatchNormAffine, y: Tensor, saved: BatchNormSaved): void {
  const { gamma, beta, epsilon } = affine;
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
export function batchNormTrainingGrad(x: Tensor, dy: Tensor, gamma: Tensor, saved: BatchNormSaved, grads: BatchNormGrads): void {
  const { dx, dGamma, dBeta } = grads;
  const cols = gamma.size;
  backendFor(x.dtype).batchNormGrad(
    x.values, dy.values, gamma.values, saved.mean.values, saved.invStd.values,
    x.size / cols, cols, dx.values, dGamma.values, dBeta.values,
  );
}
