/**
 * Batch normalization as pure functions: the math only. Which statistics to use, and the moving
 * averages, belong to the BatchNormalization layer.
 *
 *   training:  μ = mean(x), σ² = mean((x − μ)²)   (biased, per feature, over the batch)
 *              y = γ·(x − μ)/sqrt(σ² + ε) + β
 *   inference: y = γ·(x − movingMean)/sqrt(movingVariance + ε) + β
 *
 * Features are the last axis; every other axis is reduced over. ε sits inside the square root.
 *
 * Batch Renormalization (Ioffe 2017) has no kernels of its own: its training output is BN's with
 * another scale and shift,
 *   y = γ·(x̂·r + d) + β = (γ·r)·x̂ + (γ·d + β),
 * and r and d are constants to the gradient (stop-gradient, as in the paper and Keras). So its
 * forward is `batchNorm` with the batch's statistics, γ' = γ·r and β' = γ·d + β, and its backward is
 * `batchNormTrainingGrad` with γ': dx is exactly BN's with γ', and the kernel's sums Σdy·x̂ and Σdy
 * give dγ = r·Σdy·x̂ + d·Σdy and dβ = Σdy (`batchRenormParamGrads`). The fused kernels stay the one
 * implementation to keep exact, fast and identical across backends.
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

/**
 * Bounds of Batch Renormalization's correction: r is clipped to [rmin, rmax] and d to [−dmax, dmax].
 * A missing bound does not clip (rmax = ∞, rmin = 0, dmax = ∞, as in Keras).
 */
export interface RenormClipping {
  rmax?: number;
  rmin?: number;
  dmax?: number;
}

/** What the renorm correction is computed from, per feature. */
export interface RenormStatistics {
  /** The batch's mean μ_B and biased variance σ²_B. */
  mean: ArrayLike<number>;
  variance: ArrayLike<number>;
  /** The moving estimates the batch is corrected towards (renorm_mean, renorm_stddev). */
  renormMean: ArrayLike<number>;
  renormStddev: ArrayLike<number>;
  epsilon: number;
}

/**
 * Batch Renormalization's correction, per feature, into `r` and `d` (Keras 3's arithmetic):
 *   σ_B = sqrt(σ²_B + ε),  σ = max(renormStddev, sqrt(ε))   (no division by 0 early in training)
 *   r = clip(σ_B/σ, rmin, rmax),  d = clip((μ_B − renormMean)/σ, −dmax, dmax)
 */
export function batchRenormCorrection(stats: RenormStatistics, clipping: RenormClipping, r: Float64Array, d: Float64Array): void {
  const { mean, variance, renormMean, renormStddev, epsilon } = stats;
  const { rmin = 0, rmax = Infinity, dmax = Infinity } = clipping;
  const floor = Math.sqrt(epsilon);
  for (let c = 0; c < r.length; c++) {
    const sigma = Math.max(renormStddev[c], floor);
    const rc = Math.sqrt(variance[c] + epsilon) / sigma;
    const dc = (mean[c] - renormMean[c]) / sigma;
    r[c] = Math.min(Math.max(rc, rmin), rmax);
    d[c] = Math.min(Math.max(dc, -dmax), dmax);
  }
}

/**
 * dγ += r·Σdy·x̂ + d·Σdy and dβ += Σdy, from the sums `batchNormTrainingGrad` accumulated into its
 * dGamma (Σdy·x̂) and dBeta (Σdy) when run with γ' = γ·r (see the note at the top).
 */
export function batchRenormParamGrads(
  sums: { dyXhat: Tensor; dy: Tensor }, r: ArrayLike<number>, d: ArrayLike<number>, dGamma: Tensor, dBeta: Tensor,
): void {
  const sdx = sums.dyXhat.values;
  const sd = sums.dy.values;
  const g = dGamma.values;
  const b = dBeta.values;
  for (let c = 0; c < sdx.length; c++) {
    g[c] += r[c] * sdx[c] + d[c] * sd[c];
    b[c] += sd[c];
  }
}
