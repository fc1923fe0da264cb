/**
 * recomputeBatchNormStatistics: exact mean and biased variance of each BN layer's inputs, with the
 * upstream BNs already using their new statistics; independent of the batch size; stable when the
 * mean is large against the spread; the model is unchanged when it throws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { randomInputs, randomizeBatchNorm, seedModel } from '../io/helpers.js';
import { testOnEveryBackend } from '../helpers.js';

function smallModel(): keel.Sequential {
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 6, activation: 'relu', inputShape: [4], kernelInitializer: keel.initializers.randomNormal({ seed: 1 }) }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 5, kernelInitializer: keel.initializers.randomNormal({ seed: 2 }) }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: keel.initializers.randomNormal({ seed: 3 }) }),
  ] });
  randomizeBatchNorm(model, 5);
  return model;
}

/** Mean and biased variance (two-pass, float64) of a [n, f] tensor's columns. */
function moments(t: keel.Tensor): { mean: number[]; variance: number[] } {
  const f = t.shape[t.rank - 1];
  const rows = t.size / f;
  const v = t.dataSync();
  const mean = Array.from({ length: f }, (_, j) => { let s = 0; for (let r = 0; r < rows; r++) s += v[r * f + j]; return s / rows; });
  const variance = mean.map((m, j) => { let s = 0; for (let r = 0; r < rows; r++) s += (v[r * f + j] - m) ** 2; return s / rows; });
  return { mean, variance };
}

function inputsOf(model: keel.Sequential, index: number, x: keel.Tensor): keel.Tensor {
  let out = x;
  for (const layer of model.layers.slice(0, index)) out = layer.apply(out);
  return out;
}

function closeArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    assert.ok(err < tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

testOnEveryBackend('each BN gets the exact mean and 1/N variance of its inputs, computed with the upstream BN already updated', async () => {
  const model = smallModel();
  const x = randomInputs(1000, [4], 11);
  const stale = moments(inputsOf(model, 3, x)); // BN 2's inputs with BN 1's old statistics
  const results = await keel.recomputeBatchNormStatistics(model, x, { batchSize: 64 });
  assert.equal(results.length, 2);
  for (const index of [1, 3]) {
    const bn = model.layers[index] as keel.layers.BatchNormalization;
    const expected = moments(inputsOf(model, index, x));
    const [mean, variance] = [bn.movingMean.read().dataSync(), bn.movingVariance.read().dataSync()];
    closeArrays(mean, expected.mean, 1e-6, `${bn.name} mean`);
    closeArrays(variance, expected.variance, 1e-6, `${bn.name} variance`);
  }
  // The second BN's figures are not the ones seen through the first BN's stale statistics.
  const second = (model.layers[3] as keel.layers.BatchNormalization).movingMean.read().dataSync();
  assert.ok(Math.abs(second[0] - stale.mean[0]) > 1e-3);
});

test('the result does not depend on the batch size (1, 7, all at once)', async () => {
  const x = randomInputs(300, [4], 12);
  const runs: Float32Array[] = [];
  for (const batchSize of [1, 7, 300]) {
    const model = smallModel();
    await keel.recomputeBatchNormStatistics(model, x, { batchSize });
    runs.push(Float32Array.from(model.getWeights().flatMap((w) => [...w.dataSync()])));
  }
  closeArrays(runs[0], runs[2], 1e-6, 'batch 1 vs all');
  closeArrays(runs[1], runs[2], 1e-6, 'batch 7 vs all');
});

test('stable when the mean is large against the spread (float32 sums of squares would give garbage)', async () => {
  const n = 20_000;
  const random = new Random(3);
  const values = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    values[2 * i] = 10_000 + random.normal() * 0.01; // variance 1e-4 on a mean of 1e4
    values[2 * i + 1] = random.normal();
  }
  const x = keel.tensor(values, [n, 2]);
  const model = keel.sequential({ layers: [keel.layers.batchNormalization({ inputShape: [2] })] });
  await keel.recomputeBatchNormStatistics(model, x, { batchSize: 512 });
  const expected = moments(x);
  const bn = model.layers[0] as keel.layers.BatchNormalization;
  const variance = bn.movingVariance.read().dataSync();
  assert.ok(Math.abs(variance[0] - expected.variance[0]) / expected.variance[0] < 1e-4, `${variance[0]} vs ${expected.variance[0]}`);
  assert.ok(Math.abs(variance[1] - expected.variance[1]) / expected.variance[1] < 1e-5);
});

test('on the seed model: progress is reported, and inference on the data then sees mean β and variance γ²σ²/(σ²+ε)', async () => {
  const model = seedModel('seed', [28, 28], [30, 20]);
  randomizeBatchNorm(model, 9);
  const x = randomInputs(500, [28, 28], 13);
  const seen: keel.inference.RecomputeProgress[] = [];
  await keel.recomputeBatchNormStatistics(model, x, { batchSize: 128, onProgress: (p) => seen.push(p) });
  assert.equal(seen.length, 3 * 4);
  assert.deepEqual(seen.at(-1), { layer: model.layers[5].name, layerIndex: 2, layers: 3, examplesDone: 500, examples: 500 });
  const bn = model.layers[3] as keel.layers.BatchNormalization;
  const out = moments(inputsOf(model, 4, x));
  const [gamma, beta, , variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((n) =>
    bn.weights.find((v) => v.shortName === n)!.read().dataSync());
  for (let j = 0; j < 5; j++) {
    assert.ok(Math.abs(out.mean[j] - beta[j]) < 1e-4);
    const want = (gamma[j] ** 2 * variance[j]) / (variance[j] + bn.epsilon);
    assert.ok(Math.abs(out.variance[j] - want) / want < 1e-3, `${out.variance[j]} vs ${want}`);
  }
});

test('bad input throws a clear error and leaves every statistic unchanged', async () => {
  const model = smallModel();
  const before = model.getWeights().map((w) => w.dataSync());
  await assert.rejects(keel.recomputeBatchNormStatistics(model, randomInputs(10, [5], 1)), {
    name: 'ShapeError', message: /expected x of shape \[null,4\].*received \[10,5\]/,
  });
  const bad = randomInputs(10, [4], 1).dataSync();
  bad[37] = NaN;
  await assert.rejects(keel.recomputeBatchNormStatistics(model, keel.tensor(bad, [10, 4])), {
    name: 'ValueError', message: /finite numbers, received NaN at flat index 37/,
  });
  await assert.rejects(keel.recomputeBatchNormStatistics(model, randomInputs(10, [4], 1), { batchSize: 0 }), {
    name: 'ValueError', message: /batchSize to be a positive integer/,
  });
  await assert.rejects(keel.recomputeBatchNormStatistics(model, randomInputs(10, [4], 1), { batchsize: 8 } as never), {
    name: 'ValueError', message: /unknown option 'batchsize'.*Did you mean 'batchSize'/,
  });
  model.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));
});
