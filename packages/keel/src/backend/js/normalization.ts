/**
 * Reference kernels for per-sample normalization, written to be read: group normalization over a
 * batch of positions×channels samples, whose G = 1, positions = 1 case is layer normalization.
 * Sums are taken in float64 and in two passes (mean, then squared deviations), so that
 * |mean| ≫ std does not cancel. Faster backends are tested against them.
 *
 * Element (n, s, c) of x is at (n·positions + s)·channels + c; channel c is in group
 * floor(c / (channels/groups)); statistic (n, g) is at n·groups + g.
 */
import type { FloatArray } from '../../core/tensor.js';

/** y = γ[c]·(x − mean)·invStd + β[c], with mean and invStd over each sample's group (see Backend.groupNorm). */
export function groupNorm(
  x: FloatArray, gamma: FloatArray, beta: FloatArray, epsilon: number,
  batch: number, positions: number, channels: number, groups: number,
  y: FloatArray, mean: FloatArray, invStd: FloatArray,
): void {
  const perGroup = channels / groups;
  const m = positions * perGroup;
  for (let n = 0; n < batch; n++) {
    const sample = n * positions * channels;
    for (let g = 0; g < groups; g++) {
      const c0 = g * perGroup, c1 = c0 + perGroup;
      let sum = 0;
      for (let s = 0; s < positions; s++) {
        for (let c = c0; c < c1; c++) sum += x[sample + s * channels + c];
      }
      const mu = sum / m;
      let sq = 0;
      for (let s = 0; s < positions; s++) {
        for (let c = c0; c < c1; c++) {
          const d = x[sample + s * channels + c] - mu;
          sq += d * d;
        }
      }
      const inv = 1 / Math.sqrt(sq / m + epsilon);
      mean[n * groups + g] = mu;
      invStd[n * groups + g] = inv;
      for (let s = 0; s < positions; s++) {
        for (let c = c0; c < c1; c++) {
          const i = sample + s * channels + c;
          y[i] = gamma[c] * (x[i] - mu) * inv + beta[c];
        }
      }
    }
  }
}

/** The exact backward of groupNorm (see Backend.groupNormGrad). dgamma and dbeta are accumulated into. */
export function groupNormGrad(
  x: FloatArray, dy: FloatArray, gamma: FloatArray, mean: FloatArray, invStd: FloatArray,
  batch: number, positions: number, channels: number, groups: number,
  dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray,
): void {
  const perGroup = channels / groups;
  const m = positions * perGroup;
  const sumDy = new Float64Array(channels);
  const sumDyXhat = new Float64Array(channels);
  for (let n = 0; n < batch; n++) {
    const sample = n * positions * channels;
    for (let g = 0; g < groups; g++) {
      const c0 = g * perGroup, c1 = c0 + perGroup;
      const mu = mean[n * groups + g], inv = invStd[n * groups + g];
      // Σĝ and Σĝ·x̂ over the group, with ĝ = dy·γ[c], the gradient with respect to x̂.
      let sumG = 0, sumGXhat = 0;
      for (let s = 0; s < positions; s++) {
        for (let c = c0; c < c1; c++) {
          const i = sample + s * channels + c;
          const xhat = (x[i] - mu) * inv;
          sumDy[c] += dy[i];
          sumDyXhat[c] += dy[i] * xhat;
          sumG += dy[i] * gamma[c];
          sumGXhat += dy[i] * gamma[c] * xhat;
        }
      }
      for (let s = 0; s < positions; s++) {
        for (let c = c0; c < c1; c++) {
          const i = sample + s * channels + c;
          const xhat = (x[i] - mu) * inv;
          dx[i] = (inv / m) * (m * dy[i] * gamma[c] - sumG - xhat * sumGXhat);
        }
      }
    }
  }
  for (let c = 0; c < channels; c++) {
    dgamma[c] += sumDyXhat[c];
    dbeta[c] += sumDy[c];
  }
}
