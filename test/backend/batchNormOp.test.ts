/**
 * The batch-norm ops pass γ, β and the statistics to each backend's kernels under the right names:
 * pins y = γ·(x − mean)/sqrt(variance + ε) + β and its gradients, computed here in float64, with γ
 * and β far apart so that a swap anywhere between the op and a kernel cannot pass.
 */
import assert from 'node:assert/strict';
import { Random } from '../../packages/keel/src/core/random.js';
import type { Tensor } from '../../packages/keel/src/core/tensor.js';
import { empty } from '../../packages/keel/src/ops/tensor.js';
import { batchNorm, batchNormTraining, batchNormTrainingGrad } from '../../packages/keel/src/ops/batchNorm.js';
import { testOnEveryBackend } from '../helpers.js';

const rows = 6, cols = 5, epsilon = 1e-3;

function filled(size: number, value: (i: number) => number): Tensor {
  const t = empty([size], 'float32');
  for (let i = 0; i < size; i++) t.values[i] = value(i);
  return t;
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-4 * Math.max(1, Math.abs(expected[i])),
      `${what}: index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

testOnEveryBackend('batchNorm ops normalize with γ as the scale and β as the offset', () => {
  const r = new Random(7);
  const x = empty([rows, cols], 'float32');
  for (let i = 0; i < x.size; i++) x.values[i] = 3 * r.normal() + 1;
  const gamma = filled(cols, (c) => 2 + c), beta = filled(cols, (c) => -10 - c);
  const mean = filled(cols, (c) => 0.5 * c), variance = filled(cols, (c) => 1 + c);
  const at = (row: number, c: number) => x.values[row * cols + c];

  // Inference, with given statistics.
  const y = empty([rows, cols], 'float32');
  batchNorm(x, { mean, variance, gamma, beta, epsilon }, y);
  const expected = Array.from({ length: rows * cols }, (_, i) => {
    const c = i % cols;
    return (gamma.values[c] * (x.values[i] - mean.values[c])) / Math.sqrt(variance.values[c] + epsilon) + beta.values[c];
  });
  close(y.values, expected, 'inference y');

  // Training, with the batch's statistics (biased variance).
  const saved = { mean: empty([cols], 'float32'), variance: empty([cols], 'float32'), invStd: empty([cols], 'float32') };
  batchNormTraining(x, { gamma, beta, epsilon }, y, saved);
  const mu = Array.from({ length: cols }, (_, c) => Array.from({ length: rows }, (_, row) => at(row, c)).reduce((s, v) => s + v) / rows);
  const sigma2 = mu.map((m, c) => Array.from({ length: rows }, (_, row) => (at(row, c) - m) ** 2).reduce((s, v) => s + v) / rows);
  const xhat = (i: number) => (x.values[i] - mu[i % cols]) / Math.sqrt(sigma2[i % cols] + epsilon);
  close(y.values, Array.from({ length: rows * cols }, (_, i) => gamma.values[i % cols] * xhat(i) + beta.values[i % cols]), 'training y');

  // Backward: dβ = Σ dy and dγ = Σ dy·x̂, each added to what its buffer held.
  const dy = empty([rows, cols], 'float32');
  for (let i = 0; i < dy.size; i++) dy.values[i] = r.normal();
  const grads = { dx: empty([rows, cols], 'float32'), dGamma: filled(cols, () => 100), dBeta: filled(cols, () => -100) };
  batchNormTrainingGrad(x, dy, gamma, saved, grads);
  const sumOver = (f: (i: number) => number) => Array.from({ length: cols }, (_, c) =>
    Array.from({ length: rows }, (_, row) => f(row * cols + c)).reduce((s, v) => s + v));
  close(grads.dBeta.values, sumOver((i) => dy.values[i]).map((v) => v - 100), 'dBeta');
  close(grads.dGamma.values, sumOver((i) => dy.values[i] * xhat(i)).map((v) => v + 100), 'dGamma');
});
