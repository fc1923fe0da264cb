/**
 * foldBatchNorm: the folded seed and seed-before models have no BN, 266,610 parameters and predict
 * as the originals within 1e-5; the pure weight formulas match BN-then-Dense computed step by step;
 * BNs that cannot fold are reported with their reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { maxAbsDiff, randomInputs, randomizeBatchNorm, seedModel, type Variant } from '../io/helpers.js';
import { testOnEveryBackend } from '../helpers.js';

for (const variant of ['seed', 'seed-before'] as Variant[]) {
  testOnEveryBackend(`folding the ${variant} model removes every BN, leaves 266,610 parameters and predicts the same within 1e-5`, () => {
    const model = seedModel(variant);
    randomizeBatchNorm(model, 7);
    const before = model.getWeights().map((w) => w.dataSync());
    const { model: folded, folded: report, notFolded } = keel.foldBatchNorm(model);
    assert.equal(folded.layers.filter((l) => l instanceof keel.layers.BatchNormalization).length, 0);
    assert.equal(folded.countParams(), 266_610);
    assert.equal(report.length, 3);
    assert.deepEqual(notFolded, []);
    assert.deepEqual(
      report.map((r) => r.direction),
      variant === 'seed' ? ['intoNext', 'intoNext', 'intoNext'] : ['intoNext', 'intoPrevious', 'intoPrevious'],
    );
    const x = randomInputs(64, [28, 28], 8);
    const expected = model.predict(x).dataSync();
    const actual = folded.predict(x).dataSync();
    assert.ok(maxAbsDiff(actual, expected) < 1e-5, `max |diff| ${maxAbsDiff(actual, expected)}`);
    // One instance too.
    const one = folded.predict(keel.tensor(x.dataSync().subarray(0, 784), [1, 28, 28])).dataSync();
    assert.ok(maxAbsDiff(one, expected.subarray(0, 10)) < 1e-5);
    // The original is untouched.
    model.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));
    assert.equal(model.layers.length, variant === 'seed' ? 7 : 9);
  });
}

test('the weight formulas: BN after Dense and BN before Dense equal the two steps done separately', () => {
  const dense = { kernel: [1, -2, 0.5, 3, 2, -1], bias: [0.1, -0.2], inputs: 3, units: 2 };
  // BN after Dense (features = units).
  const after = { gamma: [2, 0.5], beta: [1, -1], movingMean: [0.3, -0.7], movingVariance: [4, 0.25], epsilon: 1e-3 };
  const before = { gamma: [1.5, 0.5, 2], beta: [0, 1, -1], movingMean: [1, 2, 3], movingVariance: [1, 9, 0.5], epsilon: 1e-3 };
  const x = [0.7, -1.2, 2.5];
  const bnApply = (v: number[], p: typeof after) =>
    v.map((vj, j) => (p.gamma[j] * (vj - p.movingMean[j])) / Math.sqrt(p.movingVariance[j] + p.epsilon) + p.beta[j]);
  const denseApply = (v: number[], k: ArrayLike<number>, b: ArrayLike<number> | null) =>
    [0, 1].map((j) => v.reduce((s, vi, i) => s + vi * k[i * 2 + j], b ? b[j] : 0));
  const f1 = keel.inference.foldBatchNormAfterDense(dense, after);
  assert.ok(maxAbsDiff(denseApply(x, f1.kernel, f1.bias), bnApply(denseApply(x, dense.kernel, dense.bias), after)) < 1e-5);
  const f2 = keel.inference.foldBatchNormBeforeDense(dense, before);
  assert.ok(maxAbsDiff(denseApply(x, f2.kernel, f2.bias), denseApply(bnApply(x, before), dense.kernel, dense.bias)) < 1e-5);
  // A Dense without bias gets one.
  const f3 = keel.inference.foldBatchNormAfterDense({ ...dense, bias: null }, after);
  assert.ok(maxAbsDiff(denseApply(x, f3.kernel, f3.bias), bnApply(denseApply(x, dense.kernel, null), after)) < 1e-5);
});

test('a BN with no Dense it may fold into stays, and the report says why', () => {
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 4, inputShape: [3], activation: 'tanh' }),
    keel.layers.batchNormalization({ name: 'after_tanh' }),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.dense({ units: 4 }),
    keel.layers.dropout({ rate: 0.5 }),
    keel.layers.batchNormalization({ name: 'through_dropout' }),
    keel.layers.dense({ units: 2 }),
    keel.layers.batchNormalization({ name: 'last' }),
  ] });
  randomizeBatchNorm(model, 3);
  const { model: folded, folded: done, notFolded } = keel.foldBatchNorm(model);
  assert.deepEqual(done.map((d) => [d.layer, d.into, d.direction]), [
    ['through_dropout', model.layers[3].name, 'intoPrevious'],
    ['last', model.layers[6].name, 'intoPrevious'],
  ]);
  assert.equal(notFolded.length, 1);
  assert.equal(notFolded[0].layer, 'after_tanh');
  assert.match(notFolded[0].reason, /applies 'tanh'.*cannot fold back through a nonlinearity/);
  assert.match(notFolded[0].reason, /next layer '.*' is a Activation \('relu', nonlinear\)/);
  const x = randomInputs(5, [3], 4);
  assert.ok(maxAbsDiff(folded.predict(x).dataSync(), model.predict(x).dataSync()) < 1e-5);
});

test('foldBatchNorm refuses what is not a model', () => {
  assert.throws(() => keel.foldBatchNorm({} as keel.Sequential), { name: 'ValueError', message: /expected a Sequential model/ });
});

test('BN without γ or β (scale: false, center: false) and on rank-3 inputs folds too', () => {
  const model = keel.sequential({ layers: [
    keel.layers.batchNormalization({ inputShape: [5, 3], scale: false }),
    keel.layers.dense({ units: 4, useBias: false }),
    keel.layers.batchNormalization({ center: false }),
    keel.layers.flatten(),
    keel.layers.dense({ units: 2 }),
  ] });
  randomizeBatchNorm(model, 6);
  const { model: folded, notFolded } = keel.foldBatchNorm(model);
  assert.deepEqual(notFolded, []);
  assert.deepEqual(folded.layers.map((l) => l.getClassName()), ['Dense', 'Flatten', 'Dense']);
  assert.deepEqual(folded.inputShape, [5, 3]);
  const x = randomInputs(6, [5, 3], 9);
  assert.ok(maxAbsDiff(folded.predict(x).dataSync(), model.predict(x).dataSync()) < 1e-5);
});

test('a BN before a Flatten folds forward through it (parameters tiled); after a Flatten of rank-3 inputs it cannot fold back', () => {
  const model = keel.sequential({ layers: [
    keel.layers.batchNormalization({ inputShape: [5, 3] }),
    keel.layers.flatten(),
    keel.layers.dense({ units: 4, activation: 'relu' }),
  ] });
  randomizeBatchNorm(model, 8);
  const { model: folded, notFolded } = keel.foldBatchNorm(model);
  assert.deepEqual(notFolded, []);
  assert.deepEqual(folded.layers.map((l) => l.getClassName()), ['Flatten', 'Dense']);
  const x = randomInputs(6, [5, 3], 10);
  assert.ok(maxAbsDiff(folded.predict(x).dataSync(), model.predict(x).dataSync()) < 1e-5);

  const back = keel.sequential({ layers: [
    keel.layers.dense({ units: 3, inputShape: [5, 2] }),
    keel.layers.flatten(),
    keel.layers.batchNormalization({ name: 'after_flatten' }),
  ] });
  const result = keel.foldBatchNorm(back);
  assert.deepEqual(result.notFolded.map((n) => n.layer), ['after_flatten']);
  assert.match(result.notFolded[0].reason, /previous layer '.*' is a Flatten, not a Dense, Conv2D or DepthwiseConv2D; no Dense, Conv2D or DepthwiseConv2D comes after it/);
});

test('foldBatchNorm keeps Layer and Group Normalization and says why in notFolded, while folding the BN beside them', () => {
  const model = keel.sequential({
    layers: [
      keel.layers.dense({ units: 6, inputShape: [4], useBias: false }),
      keel.layers.batchNormalization(),
      keel.layers.layerNormalization(),
      keel.layers.dense({ units: 6 }),
      keel.layers.groupNormalization({ groups: 3 }),
      keel.layers.dense({ units: 2 }),
    ],
  });
  const { model: folded, folded: done, notFolded } = keel.foldBatchNorm(model);
  assert.deepEqual(done.map((f) => f.into), [model.layers[0].name]);
  assert.deepEqual(notFolded.map((n) => n.layer), [model.layers[2].name, model.layers[4].name]);
  assert.match(notFolded[0].reason, /a LayerNormalization normalizes each example by that example's own mean and variance, at inference as in training/);
  assert.match(notFolded[1].reason, /a GroupNormalization normalizes each example/);
  const x = keel.tensor([[0.5, -1, 2, 0.1], [1, 1, -0.3, 0.7], [-2, 0.4, 0.9, 1.5]]);
  const a = model.predict(x).dataSync();
  const b = folded.predict(x).dataSync();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5);
});
