/**
 * Finite-difference gradient checks in float64 for every layer, activation and loss, and for a
 * whole batch-normalized model. Central differences with h = 1e-6 agree with an exact float64
 * gradient to about 1e-8 relative; the tolerance below leaves room for that and nothing more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { Random } from '../packages/keel/src/core/random.js';
import { empty } from '../packages/keel/src/ops/tensor.js';
import { getLoss, LOSSES } from '../packages/keel/src/losses/index.js';
import { activate } from '../packages/keel/src/ops/activations.js';
import { assertGradClose, checkLayerGradients, checkModelGradients, randomTensor } from './gradcheck.js';

const H = 1e-6;

const checkLayer = checkLayerGradients;
const assertClose = assertGradClose;

for (const activation of keel.ACTIVATIONS) {
  test(`gradient: Dense with ${activation}`, () => {
    checkLayer(keel.layers.dense({ units: 5, activation, dtype: 'float64', kernelInitializer: 'glorotNormal', biasInitializer: keel.initializers.randomNormal({ stddev: 0.5, seed: 3 }) }), [4, 7], `dense(${activation})`);
  });
  test(`gradient: Activation layer ${activation}`, () => {
    checkLayer(keel.layers.activation({ activation, dtype: 'float64' }), [3, 6], `activation(${activation})`);
  });
}

test('gradient: Dense without bias, rank-3 input (multiplied along the last axis)', () => {
  checkLayer(keel.layers.dense({ units: 3, useBias: false, dtype: 'float64' }), [2, 3, 4], 'dense(rank 3)');
});

test('gradient: BatchNormalization in training mode (gamma, beta and the input)', () => {
  const bn = keel.layers.batchNormalization({
    dtype: 'float64',
    gammaInitializer: keel.initializers.randomNormal({ mean: 1, stddev: 0.3, seed: 5 }),
    betaInitializer: keel.initializers.randomNormal({ stddev: 0.3, seed: 6 }),
  });
  checkLayer(bn, [8, 5], 'batchNormalization');
});

test('gradient: BatchNormalization without scale and center', () => {
  checkLayer(keel.layers.batchNormalization({ dtype: 'float64', scale: false, center: false }), [6, 4], 'batchNormalization(no γ, β)');
});

test('gradient: BatchNormalization with a batch of 2 and a large mean', () => {
  const bn = () => keel.layers.batchNormalization({
    dtype: 'float64',
    gammaInitializer: keel.initializers.randomNormal({ mean: 1, stddev: 0.3, seed: 5 }),
    betaInitializer: keel.initializers.randomNormal({ stddev: 0.3, seed: 6 }),
  });
  // Two values per feature, the fewest BN trains on (σ² = d², where d is half their difference).
  const shifted = checkLayer(bn(), [2, 3], 'batchNormalization(batch 2, mean 100)', 9, 100);
  // Training-mode BN subtracts the batch mean, so shifting every input by 100 changes neither the
  // output nor any gradient: a backward that uses x where it needs x − μ would show here.
  const centered = checkLayer(bn(), [2, 3], 'batchNormalization(batch 2, mean 0)', 9, 0);
  shifted.forEach((g, k) => g.forEach((v, i) =>
    assert.ok(Math.abs(v - centered[k][i]) < 1e-9, `gradient ${k}[${i}]: mean 100 gives ${v}, mean 0 gives ${centered[k][i]}`)));
});

test('gradient: frozen BatchNormalization (inference mode) passes dL/dx through its affine map', () => {
  const bn = keel.layers.batchNormalization({
    dtype: 'float64',
    movingVarianceInitializer: keel.initializers.constant({ value: 2.5 }),
    gammaInitializer: keel.initializers.constant({ value: 1.7 }),
  });
  bn.trainable = false;
  checkLayer(bn, [4, 3], 'frozen batchNormalization');
});

test('gradient: Flatten', () => {
  checkLayer(keel.layers.flatten({ dtype: 'float64' }), [2, 3, 4], 'flatten');
});

/** Loss gradients, both from outputs and (for the fused ones) from logits. */
for (const name of LOSSES) {
  test(`gradient: loss ${name}`, () => {
    const loss = getLoss(name);
    const random = new Random(21);
    const rows = 4;
    const cols = name === 'binaryCrossentropy' ? 3 : 5;
    const labels = empty(name === 'sparseCategoricalCrossentropy' ? [rows] : [rows, cols], 'float64');
    for (let i = 0; i < labels.size; i++) {
      labels.values[i] = name === 'sparseCategoricalCrossentropy' ? random.int(cols)
        : name === 'meanSquaredError' ? random.normal() : name === 'binaryCrossentropy' ? random.next() : 0;
    }
    if (name === 'categoricalCrossentropy') for (let r = 0; r < rows; r++) labels.values[r * cols + random.int(cols)] = 1;
    const z = randomTensor([rows, cols], random);
    const p = empty([rows, cols], 'float64');
    const squash = () => {
      if (loss.fusesWith) activate(loss.fusesWith, z, p);
      else p.values.set(z.values);
    };
    // From outputs: perturb p directly (keeping it a valid probability for the cross-entropies).
    squash();
    const grad = empty([rows, cols], 'float64');
    loss.fromOutputs(p, labels, grad);
    for (let i = 0; i < p.size; i++) {
      const keep = p.values[i];
      p.values[i] = keep + H;
      const up = loss.fromOutputs(p, labels, null);
      p.values[i] = keep - H;
      const down = loss.fromOutputs(p, labels, null);
      p.values[i] = keep;
      assertClose(grad.values[i], (up - down) / (2 * H), `${name} dL/dp[${i}]`);
    }
    if (!loss.fusesWith) return;
    // From logits: L(z) = loss(activation(z)); the fused gradient must be its exact derivative.
    loss.fromLogits(z, p, labels, grad);
    for (let i = 0; i < z.size; i++) {
      const keep = z.values[i];
      z.values[i] = keep + H;
      squash();
      const up = loss.fromLogits(z, p, labels, null);
      z.values[i] = keep - H;
      squash();
      const down = loss.fromLogits(z, p, labels, null);
      z.values[i] = keep;
      squash();
      assertClose(grad.values[i], (up - down) / (2 * H), `${name} dL/dz[${i}]`);
      // The fused loss equals the loss computed from probabilities.
      assert.ok(Math.abs(loss.fromLogits(z, p, labels, null) - loss.fromOutputs(p, labels, null)) < 1e-9);
    }
  });
}

test('gradient: the whole seed model (BN on the input, after each activation) in float64', () => {
  keel.setRandomSeed(4);
  const model = keel.sequential({ layers: [
    keel.layers.flatten({ inputShape: [3, 4], dtype: 'float64' }),
    keel.layers.batchNormalization({ dtype: 'float64' }),
    keel.layers.dense({ units: 6, activation: 'elu', kernelInitializer: 'heNormal', dtype: 'float64' }),
    keel.layers.batchNormalization({ dtype: 'float64' }),
    keel.layers.dense({ units: 5, useBias: false, dtype: 'float64' }),
    keel.layers.batchNormalization({ dtype: 'float64' }),
    keel.layers.activation({ activation: 'tanh', dtype: 'float64' }),
    keel.layers.dropout({ rate: 0, dtype: 'float64' }),
    keel.layers.dense({ units: 4, activation: 'softmax', dtype: 'float64' }),
  ] });
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  const random = new Random(8);
  const x = randomTensor([6, 3, 4], random);
  const y = keel.tensor([0, 1, 2, 3, 1, 2]);
  checkModelGradients(model, x, y, 7);
});
