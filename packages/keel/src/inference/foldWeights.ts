/**
 * Folding a BatchNormalization into a Dense layer, on weights only (the model-level wrapper is
 * `foldBatchNorm.ts`; compare PyTorch's `fuse_linear_bn_weights` vs `fuse_linear_bn_eval`).
 *
 * In inference, BN is affine per feature: y = s·x + (β − μ·s) with s = γ/sqrt(σ² + ε), where μ and
 * σ² are the moving (or recomputed) statistics. An affine map next to x·W + b composes into one:
 *
 *   BN after Dense:   W' = W·diag(s),    b' = (b − μ)·s + β        (a Dense without bias gets one)
 *   BN before Dense:  W' = diag(s)·W,    b' = b + (β − μ·s)·W
 *
 * Computed in float64, returned in float32. Kernels are [inputs, units], row-major.
 */
import { ShapeError, describeValue } from '../core/errors.js';

/** A BN layer's inference parameters (γ = 1 when `scale` is off, β = 0 when `center` is off). */
export interface BatchNormParameters {
  gamma: ArrayLike<number>;
  beta: ArrayLike<number>;
  movingMean: ArrayLike<number>;
  movingVariance: ArrayLike<number>;
  epsilon: number;
}

export interface DenseWeights {
  /** [inputs, units], row-major. */
  kernel: ArrayLike<number>;
  /** [units], or null for a Dense without bias. */
  bias: ArrayLike<number> | null;
  inputs: number;
  units: number;
}

export interface FoldedDenseWeights {
  kernel: Float32Array;
  bias: Float32Array;
}

/** s = γ/sqrt(σ² + ε) and shift = β − μ·s, per feature. */
function affine(bn: BatchNormParameters): { scale: Float64Array; shift: Float64Array } {
  const n = bn.movingMean.length;
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    scale[j] = bn.gamma[j] / Math.sqrt(bn.movingVariance[j] + bn.epsilon);
    shift[j] = bn.beta[j] - bn.movingMean[j] * scale[j];
  }
  return { scale, shift };
}

/** Dense then BN (on the Dense's outputs): W' = W·diag(s), b' = (b − μ)·s + β. */
export function foldBatchNormAfterDense(dense: DenseWeights, bn: BatchNormParameters): FoldedDenseWeights {
  const { inputs, units } = dense;
  checkWeights('foldBatchNormAfterDense', dense, bn, units, 'one per unit: the BN follows the Dense layer');
  const { scale } = affine(bn);
  const kernel = new Float32Array(inputs * units);
  for (let i = 0; i < inputs; i++) {
    for (let j = 0; j < units; j++) kernel[i * units + j] = dense.kernel[i * units + j] * scale[j];
  }
  const bias = new Float32Array(units);
  for (let j = 0; j < units; j++) {
    bias[j] = ((dense.bias ? dense.bias[j] : 0) - bn.movingMean[j]) * scale[j] + bn.beta[j];
  }
  return { kernel, bias };
}

/** BN (on the Dense's inputs) then Dense: W' = diag(s)·W, b' = b + (β − μ·s)·W. */
export function foldBatchNormBeforeDense(dense: DenseWeights, bn: BatchNormParameters): FoldedDenseWeights {
  const { inputs, units } = dense;
  checkWeights('foldBatchNormBeforeDense', dense, bn, inputs, 'one per input: the BN precedes the Dense layer');
  const { scale, shift } = affine(bn);
  const kernel = new Float32Array(inputs * units);
  const bias = new Float64Array(units);
  if (dense.bias) for (let j = 0; j < units; j++) bias[j] = dense.bias[j];
  for (let i = 0; i < inputs; i++) {
    for (let j = 0; j < units; j++) {
      const w = dense.kernel[i * units + j];
      kernel[i * units + j] = scale[i] * w;
      bias[j] += shift[i] * w;
    }
  }
  return { kernel, bias: Float32Array.from(bias) };
}

/**
 * Throws a ShapeError unless the kernel holds inputs·units values, the bias units, and each BN
 * array `features` values (the Dense's units or inputs, named by `featuresOf`).
 */
function checkWeights(where: string, dense: DenseWeights, bn: BatchNormParameters, features: number, featuresOf: string): void {
  const { inputs, units } = dense;
  if (!Number.isInteger(inputs) || !Number.isInteger(units) || inputs <= 0 || units <= 0) {
    throw new ShapeError(`${where}: expected dense.inputs and dense.units to be positive integers, received ${describeValue(inputs)} and ${describeValue(units)}.`);
  }
  const lengths: [string, ArrayLike<number> | null, number, string][] = [
    ['dense.kernel', dense.kernel, inputs * units, `inputs × units = ${inputs} × ${units}, row-major [inputs, units]`],
    ['dense.bias', dense.bias, units, 'units; or null for a Dense without bias'],
    ['bn.gamma', bn.gamma, features, featuresOf],
    ['bn.beta', bn.beta, features, featuresOf],
    ['bn.movingMean', bn.movingMean, features, featuresOf],
    ['bn.movingVariance', bn.movingVariance, features, featuresOf],
  ];
  for (const [name, values, expected, why] of lengths) {
    if (values === null && name === 'dense.bias') continue;
    const received = values?.length;
    if (received !== expected) {
      throw new ShapeError(
        `${where}: expected ${name} to hold ${expected} values (${why}), received ${received ?? 'none'}. ` +
          `Pass a Dense layer's weights with those of the BN layer right ${where === 'foldBatchNormAfterDense' ? 'after' : 'before'} it.`,
      );
    }
  }
}
