/**
 * Freezing for fine-tuning: `trainable = false` on a BN layer (then compile) freezes γ and β and
 * runs the layer in inference mode, so its moving statistics do not move during fit, while the
 * layers around it keep training.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { randomInputs, randomizeBatchNorm, seedModel } from '../io/helpers.js';

test('a frozen BN keeps γ, β and its moving statistics through fit; an unfrozen one moves', async () => {
  const model = seedModel('seed', [8, 8], [16, 12]);
  randomizeBatchNorm(model, 21);
  const frozen = model.layers[3] as keel.layers.BatchNormalization;
  const free = model.layers[5] as keel.layers.BatchNormalization;
  frozen.trainable = false;
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
  const n = 128;
  const x = randomInputs(n, [8, 8], 22);
  const random = new Random(23);
  const y = keel.tensor(Float32Array.from({ length: n }, () => random.int(10)), [n]);
  const named = (bn: keel.layers.BatchNormalization) =>
    Object.fromEntries(bn.weights.map((v) => [v.shortName, v.read().dataSync()]));
  const frozenBefore = named(frozen);
  const freeBefore = named(free);
  const denseBefore = model.layers[2].getWeights()[0].dataSync();
  await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, seed: 1 });
  const frozenAfter = named(frozen);
  for (const key of ['gamma', 'beta', 'moving_mean', 'moving_variance']) {
    assert.deepEqual(frozenAfter[key], frozenBefore[key], `frozen ${key} moved`);
  }
  assert.equal(frozen.trainableWeights.length, 0);
  assert.equal(frozen.nonTrainableWeights.length, 4);
  const freeAfter = named(free);
  for (const key of ['gamma', 'moving_mean', 'moving_variance']) {
    assert.notDeepEqual(freeAfter[key], freeBefore[key], `unfrozen ${key} did not move`);
  }
  assert.notDeepEqual(model.layers[2].getWeights()[0].dataSync(), denseBefore, 'the Dense before the frozen BN stopped training');
});

test('a frozen BN runs in inference mode even with training: true', () => {
  const bn = keel.layers.batchNormalization({ inputShape: [3] });
  const model = keel.sequential({ layers: [bn] });
  randomizeBatchNorm(model, 2);
  bn.trainable = false;
  const x = randomInputs(4, [3], 3);
  assert.deepEqual(bn.apply(x, { training: true }).dataSync(), bn.apply(x, { training: false }).dataSync());
});
