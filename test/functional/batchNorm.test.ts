/**
 * BN in graphs: foldBatchNorm folds every BN of ResNet-20 (conv → BN inside residual blocks and on
 * the projection shortcuts) and the folded model predicts within 1e-5 of the original; a BN whose
 * input fans out folds only where exact, and notFolded says why; recomputeBatchNormStatistics
 * works in graph order, each BN measured with the BNs upstream already updated.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';

function perturbBatchNorm(model: keel.LayersModel, seed: number): void {
  const random = new Random(seed);
  model.setWeights(model.weights.map((v) => {
    const values = Float32Array.from(v.value.values);
    if (v.shortName === 'gamma') values.forEach((_, j) => (values[j] = random.uniform(0.5, 1.5)));
    if (v.shortName === 'beta') values.forEach((_, j) => (values[j] = random.uniform(-0.5, 0.5)));
    if (v.shortName === 'moving_mean') values.forEach((_, j) => (values[j] = random.uniform(-0.3, 0.3)));
    if (v.shortName === 'moving_variance') values.forEach((_, j) => (values[j] = random.uniform(0.3, 2)));
    return keel.tensor(values, v.shape);
  }));
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

const images = (n: number, seed: number) => {
  const random = new Random(seed);
  return keel.tensor(Float32Array.from({ length: n * 784 }, () => random.next()), [n, 28, 28]);
};

test('foldBatchNorm folds all 21 BNs of ResNet-20, and the folded model predicts within 1e-5', async () => {
  keel.setRandomSeed(6);
  const model = keel.zoo.buildModel('resnet');
  perturbBatchNorm(model, 7);
  const bns = model.layers.filter((l) => l instanceof keel.layers.BatchNormalization).map((l) => l.name);
  assert.equal(bns.length, 21);
  const { model: folded, folded: report, notFolded } = keel.foldBatchNorm(model);
  assert.deepEqual(notFolded, []);
  assert.deepEqual(report.map((r) => r.layer).sort(), [...bns].sort());
  assert.ok(report.every((r) => r.direction === 'intoPrevious' && r.into.startsWith('conv2d')));
  assert.equal(folded.layers.filter((l) => l instanceof keel.layers.BatchNormalization).length, 0);
  assert.equal(folded.layers.filter((l) => l instanceof keel.layers.Add).length, 9);
  const x = images(6, 1);
  const p = model.predict(x).dataSync();
  const q = folded.predict(x).dataSync();
  const diff = maxAbsDiff(p, q);
  assert.ok(diff < 1e-5, `max |Δp| = ${diff}`);
  assert.ok(maxAbsDiff(p, new Float32Array(p.length).fill(0.1)) > 1e-2, 'the predictions are not uniform (the test has signal)');
  // The folded model saves and loads as a functional model.
  let saved: keel.io.ModelArtifacts | undefined;
  await folded.save(keel.io.withSaveHandler(async (a) => { saved = a; }));
  const again = await keel.loadLayersModel(keel.io.fromMemory(saved!));
  assert.deepEqual(Array.from(again.predict(x).dataSync()), Array.from(q));
});

test('a BN whose input fans out folds forward where exact, and otherwise says which reader blocks it', () => {
  keel.setRandomSeed(8);
  const L = keel.layers;
  const x = keel.input({ shape: [5, 5, 3] });
  const t = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'fan_conv' }).apply(x); // read by two BNs and the add
  const bnA = L.batchNormalization({ name: 'bn_forward' }).apply(t);
  const a = L.conv2d({ filters: 3, kernelSize: 1, name: 'next_1x1' }).apply(bnA); // 1×1 'valid': BN folds into it exactly
  const bnB = L.batchNormalization({ name: 'bn_stuck' }).apply(t);
  const b = L.activation({ activation: 'relu', name: 'relu_b' }).apply(bnB);
  const sum = L.add().apply([a, b, t]);
  const out = L.dense({ units: 2, activation: 'softmax' }).apply(L.globalAveragePooling2d().apply(sum));
  const model = keel.model({ inputs: x, outputs: out });
  perturbBatchNorm(model, 9);
  const { model: folded, folded: report, notFolded } = keel.foldBatchNorm(model);
  assert.deepEqual(report, [{ layer: 'bn_forward', into: 'next_1x1', direction: 'intoNext' }]);
  assert.equal(notFolded.length, 1);
  assert.equal(notFolded[0].layer, 'bn_stuck');
  assert.match(notFolded[0].reason, /the output of 'fan_conv' before it is also read by 'next_1x1', 'add[_0-9]*', and folding into 'fan_conv' would change what those read/);
  assert.match(notFolded[0].reason, /the next layer 'relu_b' is a Activation \('relu', nonlinear\)/);
  const random = new Random(2);
  const xs = keel.tensor(Float32Array.from({ length: 4 * 75 }, () => random.normal()), [4, 5, 5, 3]);
  const diff = maxAbsDiff(model.predict(xs).dataSync(), folded.predict(xs).dataSync());
  assert.ok(diff < 1e-6, `max |Δp| = ${diff}`);
});

test('a BN whose output is read twice folds back, and both readers read the folded layer', () => {
  keel.setRandomSeed(10);
  const L = keel.layers;
  const x = keel.input({ shape: [4] });
  const d = L.dense({ units: 3, name: 'lin' }).apply(x);
  const bn = L.batchNormalization({ name: 'bn_twice' }).apply(d);
  const out = L.dense({ units: 2, activation: 'softmax' }).apply(L.concatenate().apply([bn, L.activation({ activation: 'tanh' }).apply(bn)]));
  const model = keel.model({ inputs: x, outputs: out });
  perturbBatchNorm(model, 11);
  const { model: folded, folded: report } = keel.foldBatchNorm(model);
  assert.deepEqual(report, [{ layer: 'bn_twice', into: 'lin', direction: 'intoPrevious' }]);
  const xs = keel.tensor([[1, -2, 0.5, 3], [0, 1, -1, 2]]);
  assert.ok(maxAbsDiff(model.predict(xs).dataSync(), folded.predict(xs).dataSync()) < 1e-6);
});

test('recomputeBatchNormStatistics in graph order: each BN gets the statistics of what it sees with the BNs before it updated', async () => {
  keel.setRandomSeed(12);
  const L = keel.layers;
  const x = keel.input({ shape: [6] });
  const h = L.dense({ units: 5, activation: 'relu', name: 'd1' }).apply(x);
  const b1 = L.batchNormalization({ name: 'bn1' }).apply(h);
  const branch = L.dense({ units: 5, name: 'd2' }).apply(b1);
  const sum = L.add().apply([branch, b1]); // bn2 reads through bn1 twice: on the branch and on the shortcut
  const b2 = L.batchNormalization({ name: 'bn2' }).apply(sum);
  const b3 = L.batchNormalization({ name: 'bn3' }).apply(L.concatenate().apply([b2, h]));
  const out = L.dense({ units: 2, activation: 'softmax' }).apply(b3);
  const model = keel.model({ inputs: x, outputs: out });
  perturbBatchNorm(model, 13);
  const random = new Random(14);
  const data = keel.tensor(Float32Array.from({ length: 40 * 6 }, () => 2 + random.normal()), [40, 6]);
  const stats = await keel.recomputeBatchNormStatistics(model, data, { batchSize: 7 });
  assert.deepEqual(stats.map((s) => s.layer), ['bn1', 'bn2', 'bn3']);
  // What each BN sees, from a model that ends at its input (the same layers, so the updated BNs upstream).
  for (const [name, seen] of [['bn1', h], ['bn2', sum]] as const) {
    const inputs = keel.model({ inputs: x, outputs: seen }).predict(data).dataSync();
    const f = 5;
    const bn = model.getLayer(name) as keel.layers.BatchNormalization;
    const mean = bn.movingMean.value.values;
    const variance = bn.movingVariance.value.values;
    for (let j = 0; j < f; j++) {
      let m = 0;
      for (let r = 0; r < 40; r++) m += inputs[r * f + j];
      m /= 40;
      let v = 0;
      for (let r = 0; r < 40; r++) v += (inputs[r * f + j] - m) ** 2;
      v /= 40;
      assert.ok(Math.abs(mean[j] - m) < 1e-5 * Math.max(1, Math.abs(m)), `${name} mean[${j}]: ${mean[j]} vs ${m}`);
      assert.ok(Math.abs(variance[j] - v) < 1e-4 * Math.max(1, v), `${name} variance[${j}]: ${variance[j]} vs ${v}`);
    }
  }
});
