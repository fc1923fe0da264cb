/**
 * foldBatchNorm in CNNs: the cnn model folds completely and predicts as before within 1e-5 (one
 * image too); BN folds back into a Conv2D or DepthwiseConv2D, forward into a convolution that sees
 * no padding, and is refused, with the reason, before a padded one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { maxAbsDiff, randomInputs } from '../io/helpers.js';
import { testOnEveryBackend } from '../helpers.js';

/** Random γ, β and moving statistics, so that folding has something to fold. */
function randomizeAllBatchNorm(model: keel.Sequential, seed: number): void {
  const random = new keel.Random(seed);
  for (const layer of model.layers) {
    if (!(layer instanceof keel.layers.BatchNormalization)) continue;
    layer.setWeights(layer.getWeights().map((w, i) => {
      const values = Float32Array.from({ length: w.size }, () =>
        i === 3 ? 0.3 + 2 * random.next() : i === 0 ? 0.5 + random.next() : random.normal());
      return keel.tensor(values, w.shape);
    }));
  }
}

function assertFoldsExactly(model: keel.Sequential, inputShape: number[], expectFolded: number, seed: number): keel.FoldResult {
  randomizeAllBatchNorm(model, seed);
  const result = keel.foldBatchNorm(model);
  assert.equal(result.folded.length, expectFolded, JSON.stringify(result.notFolded));
  const x = randomInputs(4, inputShape, seed + 1);
  const expected = model.predict(x).dataSync();
  const actual = result.model.predict(x).dataSync();
  assert.ok(maxAbsDiff(actual, expected) < 1e-5, `max |diff| ${maxAbsDiff(actual, expected)}`);
  const size = inputShape.reduce((a, b) => a * b, 1);
  const one = result.model.predict(keel.tensor(x.dataSync().subarray(0, size), [1, ...inputShape])).dataSync();
  assert.ok(maxAbsDiff(one, expected.subarray(0, one.length)) < 1e-5, 'one image');
  return result;
}

testOnEveryBackend('the cnn model folds completely and predicts the same within 1e-5', () => {
  keel.setRandomSeed(3);
  const model = keel.zoo.buildModel('cnn');
  const result = assertFoldsExactly(model, [28, 28], 5, 11);
  assert.deepEqual(result.notFolded, []);
  assert.deepEqual(result.folded.map((f) => f.direction), Array(5).fill('intoPrevious'));
  assert.equal(result.model.layers.filter((l) => l instanceof keel.layers.BatchNormalization).length, 0);
  // Each conv gains a bias of its filters; each BN loses 4 vectors.
  assert.equal(result.model.countParams(), 468_778 - 4 * (32 + 32 + 64 + 64 + 128) + (32 + 32 + 64 + 64 + 128));
});

test('BN folds into a DepthwiseConv2D before it, and forward into convolutions that see no padding', () => {
  keel.setRandomSeed(4);
  const model = keel.sequential({ layers: [
    keel.layers.batchNormalization({ inputShape: [7, 6, 3] }),          // → valid Conv2D: forward
    keel.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
    keel.layers.batchNormalization(),                                   // → valid depthwise: forward
    keel.layers.depthwiseConv2d({ kernelSize: [2, 3], depthMultiplier: 2, biasInitializer: keel.initializers.randomNormal({ seed: 2 }) }),
    keel.layers.batchNormalization(),                                   // ← the depthwise: backward
    keel.layers.activation({ activation: 'tanh' }),
    keel.layers.batchNormalization(),                                   // → 1×1 'same' Conv2D: no padding, forward
    keel.layers.conv2d({ filters: 2, kernelSize: 1, padding: 'same' }),
    keel.layers.flatten(),
    keel.layers.dense({ units: 3 }),
  ] });
  const result = assertFoldsExactly(model, [7, 6, 3], 4, 21);
  assert.deepEqual(result.folded.map((f) => f.direction), ['intoNext', 'intoNext', 'intoPrevious', 'intoNext']);
});

test('BN before a padded convolution, or after a nonlinear one, stays, with the reason', () => {
  const model = keel.sequential({ layers: [
    keel.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [5, 5, 2], name: 'conv_relu' }),
    keel.layers.batchNormalization({ name: 'bn_between' }),
    keel.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'conv_same' }),
    keel.layers.maxPooling2d({ name: 'pool' }),
    keel.layers.batchNormalization({ name: 'bn_after_pool' }),
    keel.layers.flatten(),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.dense({ units: 2 }),
  ] });
  const result = assertFoldsExactly(model, [5, 5, 2], 0, 31);
  const reasons = Object.fromEntries(result.notFolded.map((n) => [n.layer, n.reason]));
  assert.match(reasons.bn_between, /previous Conv2D 'conv_relu' applies 'relu', and BN cannot fold back through a nonlinearity/);
  assert.match(reasons.bn_between, /next Conv2D 'conv_same' pads its input \('same'\), and BN before a padded convolution is not exact/);
  assert.match(reasons.bn_after_pool, /previous layer 'pool' is a MaxPooling2D/);
});
