/**
 * The summary of the book's models, character for character. This file builds nothing before them,
 * so the default Keras names (`dense`, `dense_1`...) are the ones the book prints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';

test('summary of the seed model matches Keras layout and counts', () => {
  const model = keel.sequential({ layers: [
    keel.layers.flatten({ inputShape: [28, 28] }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 300, activation: 'relu', kernelInitializer: 'heNormal' }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
  const lines: string[] = [];
  model.summary(undefined, undefined, (l) => lines.push(l));
  const rule = '_'.repeat(65);
  const expected = [
    'Model: "sequential"',
    rule,
    'Layer (type)                 Output Shape              Param #   ',
    '='.repeat(65),
    'flatten (Flatten)            (None, 784)               0         ', rule,
    'batch_normalization (BatchNo (None, 784)               3136      ', rule,
    'dense (Dense)                (None, 300)               235500    ', rule,
    'batch_normalization_1 (Batch (None, 300)               1200      ', rule,
    'dense_1 (Dense)              (None, 100)               30100     ', rule,
    'batch_normalization_2 (Batch (None, 100)               400       ', rule,
    'dense_2 (Dense)              (None, 10)                1010      ',
    '='.repeat(65),
    'Total params: 271,346',
    'Trainable params: 268,978',
    'Non-trainable params: 2,368',
    rule,
  ];
  assert.deepEqual(lines, expected);
  assert.equal(model.countParams(), 271346);
});

test('BN-before-activation variant: Dense without bias, BN, then activation', () => {
  const model = keel.sequential({ layers: [
    keel.layers.flatten({ inputShape: [28, 28] }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 300, useBias: false, kernelInitializer: 'heNormal' }),
    keel.layers.batchNormalization(),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.dense({ units: 100, useBias: false, kernelInitializer: 'heNormal' }),
    keel.layers.batchNormalization(),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
  const lines: string[] = [];
  model.summary(undefined, undefined, (l) => lines.push(l));
  assert.deepEqual(lines.slice(-4, -1), ['Total params: 270,946', 'Trainable params: 268,578', 'Non-trainable params: 2,368']);
  assert.ok(lines.includes('activation (Activation)      (None, 300)               0         '));
  const count = (ws: keel.layers.LayerVariable[]) => ws.reduce((n, w) => n + w.value.size, 0);
  assert.equal(count(model.trainableWeights), 268578);
  assert.equal(count(model.nonTrainableWeights), 2368);
});

test('a frozen BN layer counts all its weights as non-trainable, as Keras does', () => {
  const bn = keel.layers.batchNormalization({ inputShape: [10] });
  const model = keel.sequential({ layers: [bn] });
  assert.equal(bn.trainableWeights.length, 2);
  bn.trainable = false;
  assert.equal(bn.trainableWeights.length, 0);
  assert.deepEqual(bn.nonTrainableWeights.map((w) => w.shortName), ['gamma', 'beta', 'moving_mean', 'moving_variance']);
  const lines: string[] = [];
  model.summary(undefined, undefined, (l) => lines.push(l));
  assert.ok(lines.includes('Trainable params: 0') && lines.includes('Non-trainable params: 40'));
});
