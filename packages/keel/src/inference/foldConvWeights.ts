/**
 * Folding a BatchNormalization into the convolution before or after it, on weights only. A
 * Conv2D kernel [kh, kw, in, out] is, in memory, a Dense kernel [kh·kw·in, out] applied to each
 * window (im2col), so Dense's formulas in `foldWeights.ts` serve it: after the convolution
 * unchanged; before it with BN's per-channel parameters tiled over the window positions (input
 * index i ↦ channel i mod in). A depthwise kernel [kh, kw, C, M] is a Dense kernel [kh·kw, C·M] for
 * the fold after it; the fold before it is here:
 *
 *   BN before DepthwiseConv2D:  W'[t, c·M + m] = W[t, c·M + m]·s[c],
 *                               b'[c·M + m] = b[c·M + m] + Σ_t W[t, c·M + m]·(β − μ·s)[c]
 *
 * Exact only when the convolution sees no padding: zero padding is added after BN, so its zeros
 * would not be shifted by β − μ·s (the caller refuses a padded convolution).
 */
import type { BatchNormParameters, FoldedDenseWeights } from './foldWeights.js';

/** The depthwise kernel [taps, C·M] and bias after folding in the BN that precedes the layer. */
export function foldBatchNormBeforeDepthwise(
  kernel: ArrayLike<number>, bias: ArrayLike<number> | null, taps: number, channels: number, multiplier: number,
  bn: BatchNormParameters,
): FoldedDenseWeights {
  const outputs = channels * multiplier;
  const folded = new Float32Array(taps * outputs);
  const sums = new Float64Array(outputs);
  if (bias) for (let j = 0; j < outputs; j++) sums[j] = bias[j];
  for (let c = 0; c < channels; c++) {
    const scale = bn.gamma[c] / Math.sqrt(bn.movingVariance[c] + bn.epsilon);
    const shift = bn.beta[c] - bn.movingMean[c] * scale;
    for (let m = 0; m < multiplier; m++) {
      const j = c * multiplier + m;
      for (let t = 0; t < taps; t++) {
        const w = kernel[t * outputs + j];
        folded[t * outputs + j] = w * scale;
        sums[j] += w * shift;
      }
    }
  }
  return { kernel: folded, bias: Float32Array.from(sums) };
}
