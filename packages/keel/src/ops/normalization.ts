/**
 * Per-sample normalization as pure functions: the math only. The weights, their shapes and the
 * buffers belong to the LayerNormalization and GroupNormalization layers.
 *
 * Group normalization sees each sample as a positions×channels matrix (channels last; positions
 * are every axis between the batch and the channels, H·W for NHWC images, 1 for Dense features)
 * and splits its channels into G groups of C/G consecutive channels. Per sample and group, over its
 * positions·C/G values:
 *   μ = mean(x), σ² = mean((x − μ)²)   (biased)
 *   y = γ[c]·(x − μ)/sqrt(σ² + ε) + β[c]
 * Layer normalization over the last D values of each sample is the case of one position, D
 * channels and one group: γ and β then hold one value per normalized element.
 *
 * The statistics are the sample's own, so the same formula holds in training and in inference.
 */
import type { Tensor } from '../core/tensor.js';
import { backendFor } from '../backend/backend.js';

/** How a batch is laid out for group normalization: batch × positions × channels, in groups. */
export interface GroupNormLayout {
  batch: number;
  /** Values per channel in one sample (H·W for images, 1 for Dense features). */
  positions: number;
  channels: number;
  /** Number of groups; divides `channels`. */
  groups: number;
}

/** The per-channel affine part, y = γ·x̂ + β, and the ε of x̂ (named: γ and β have the same type). */
export interface NormalizationAffine {
  /** Scale γ, one value per channel. */
  gamma: Tensor;
  /** Offset β, one value per channel. */
  beta: Tensor;
  /** ε, added to the variance inside the square root. */
  epsilon: number;
}

/** What the forward keeps for its backward: batch·groups values each, sample-major. */
export interface NormalizationSaved {
  mean: Tensor;
  /** 1/sqrt(σ² + ε) */
  invStd: Tensor;
}

/** Where the backward writes: dx, and dγ and dβ, which it accumulates into (+=). */
export interface NormalizationGrads {
  dx: Tensor;
  dGamma: Tensor;
  dBeta: Tensor;
}

/** Group normalization of `x` into `y`; the statistics go into `saved` for the backward. */
export function groupNorm(x: Tensor, affine: NormalizationAffine, layout: GroupNormLayout, y: Tensor, saved: NormalizationSaved): void {
  const { gamma, beta, epsilon } = affine;
  const { batch, positions, channels, groups } = layout;
  backendFor(x.dtype).groupNorm(
    x.values, gamma.values, beta.values, epsilon, batch, positions, channels, groups,
    y.values, saved.mean.values, saved.invStd.values,
  );
}

/**
 * Exact gradient of `groupNorm`. μ and σ² are functions of every value of the group, so with
 * x̂ = (x − μ)/sqrt(σ² + ε), ĝ = γ[c]·dy and m values per group,
 *   dx = 1/(m·sqrt(σ² + ε)) · (m·ĝ − Σĝ − x̂·Σĝ·x̂)   (sums over the sample's group),
 *   dγ[c] += Σ dy·x̂,  dβ[c] += Σ dy   (sums over samples and positions).
 */
export function groupNormGrad(
  x: Tensor, dy: Tensor, gamma: Tensor, layout: GroupNormLayout, saved: NormalizationSaved, grads: NormalizationGrads,
): void {
  const { batch, positions, channels, groups } = layout;
  backendFor(x.dtype).groupNormGrad(
    x.values, dy.values, gamma.values, saved.mean.values, saved.invStd.values, batch, positions, channels, groups,
    grads.dx.values, grads.dGamma.values, grads.dBeta.values,
  );
}

/** The layout of layer normalization over the last `features` values of each sample of `x`. */
export function layerNormLayout(x: Tensor, features: number): GroupNormLayout {
  return { batch: x.size / features, positions: 1, channels: features, groups: 1 };
}

/**
 * Layer normalization of `x` into `y` over the last γ.size values of each sample:
 * y = γ·(x − μ)/sqrt(σ² + ε) + β with μ, σ² (biased) of those values. Statistics (one per sample) go into `saved`.
 */
export function layerNorm(x: Tensor, affine: NormalizationAffine, y: Tensor, saved: NormalizationSaved): void {
  groupNorm(x, affine, layerNormLayout(x, affine.gamma.size), y, saved);
}

/** Exact gradient of `layerNorm` (groupNormGrad with one group of one position). dγ and dβ accumulate. */
export function layerNormGrad(x: Tensor, dy: Tensor, gamma: Tensor, saved: NormalizationSaved, grads: NormalizationGrads): void {
  groupNormGrad(x, dy, gamma, layerNormLayout(x, gamma.size), saved, grads);
}
