/**
 * Optimizers against golden values: Keras's documented examples (minimizing var²/2), and
 * TensorFlow.js's optimizers over several steps with the same gradients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from '../src/node/index.js';
import { LayerVariable } from '../src/layers/variable.js';
import { Random } from '../src/core/random.js';
import type { Optimizer } from '../src/optimizers/index.js';

await tf.setBackend('cpu');

/** Minimizes var²/2 (gradient = var) from `start` for `steps` steps; returns the values after each. */
function minimizeSquare(optimizer: Optimizer, start: number, steps: number): number[] {
  const v = new LayerVariable('var', keel.tensor([start], [1], 'float64'), 'parameter');
  const values: number[] = [];
  for (let s = 0; s < steps; s++) {
    v.grad!.values[0] = v.value.values[0];
    optimizer.applyGradients([v]);
    values.push(v.value.values[0]);
  }
  return values;
}

test('Keras documentation examples (var²/2 from a start value)', () => {
  assert.ok(Math.abs(minimizeSquare(keel.optimizers.sgd({ learningRate: 0.1 }), 1, 1)[0] - 0.9) < 1e-12);
  const [a, b] = minimizeSquare(keel.optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }), 1, 2);
  assert.ok(Math.abs(1 - a - 0.1) < 1e-12 && Math.abs(a - b - 0.18) < 1e-12, `momentum steps ${1 - a}, ${a - b}`);
  assert.ok(Math.abs(minimizeSquare(keel.optimizers.adam({ learningRate: 0.1 }), 10, 1)[0] - 9.9) < 1e-6);
  assert.ok(Math.abs(minimizeSquare(keel.optimizers.rmsprop({ learningRate: 0.1 }), 10, 1)[0] - 9.683772) < 1e-6);
  assert.equal(minimizeSquare(keel.optimizers.nadam({ learningRate: 0.2 }), 10, 1)[0].toFixed(1), '9.8');
});

test('Keras defaults', () => {
  const sgd = keel.optimizers.sgd();
  assert.deepEqual([sgd.learningRate, sgd.momentum, sgd.nesterov], [0.01, 0, false]);
  const adam = keel.optimizers.adam();
  assert.deepEqual([adam.learningRate, adam.beta1, adam.beta2, adam.epsilon], [0.001, 0.9, 0.999, 1e-7]);
  const rms = keel.optimizers.rmsprop();
  assert.deepEqual([rms.learningRate, rms.rho, rms.momentum, rms.epsilon, rms.centered], [0.001, 0.9, 0, 1e-7, false]);
  const nadam = keel.optimizers.nadam();
  assert.deepEqual([nadam.learningRate, nadam.beta1, nadam.beta2, nadam.epsilon], [0.001, 0.9, 0.999, 1e-7]);
});

/** Runs Keel's and TF.js's optimizers on the same random gradients for a few steps. */
function compareWithTfjs(keelOpt: Optimizer, tfOpt: tf.Optimizer, what: string, tolerance = 1e-5): void {
  const random = new Random(5);
  const n = 50;
  const init = Float32Array.from({ length: n }, () => random.normal());
  const v = new LayerVariable('w', keel.tensor(init, [n]), 'parameter');
  const tv = tf.variable(tf.tensor(init, [n]));
  for (let step = 0; step < 6; step++) {
    const g = Float32Array.from({ length: n }, () => random.normal() * (1 + step));
    v.grad!.values.set(g);
    keelOpt.applyGradients([v]);
    tfOpt.applyGradients({ [tv.name]: tf.tensor(g, [n]) });
  }
  const got = v.value.dataSync();
  const expected = tv.dataSync();
  const start = init;
  for (let i = 0; i < n; i++) {
    const moved = Math.abs(expected[i] - start[i]);
    assert.ok(Math.abs(got[i] - expected[i]) <= tolerance * Math.max(1, moved) + 1e-6, `${what}[${i}]: ${got[i]} vs TF.js ${expected[i]}`);
  }
}

test('Adam, RMSprop and SGD with (Nesterov) momentum agree with TF.js over 6 steps', () => {
  compareWithTfjs(keel.optimizers.adam({ learningRate: 0.01 }), tf.train.adam(0.01, 0.9, 0.999, 1e-7), 'adam');
  compareWithTfjs(keel.optimizers.rmsprop({ learningRate: 0.01 }), tf.train.rmsprop(0.01, 0.9, 0, 1e-7), 'rmsprop');
  compareWithTfjs(keel.optimizers.rmsprop({ learningRate: 0.01, momentum: 0.5, centered: true }), tf.train.rmsprop(0.01, 0.9, 0.5, 1e-7, true), 'rmsprop centered', 1e-4);
  // (centered: s − ḡ² cancels; TF.js keeps its state in float32, Keel in float64, hence 1e-4.)
  // TF.js's momentum optimizer keeps accum = m·accum + g and steps −lr·accum: Keras's v = −lr·accum.
  compareWithTfjs(keel.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }), tf.train.momentum(0.05, 0.9), 'momentum');
  compareWithTfjs(keel.optimizers.sgd({ learningRate: 0.05, momentum: 0.9, nesterov: true }), tf.train.momentum(0.05, 0.9, true), 'nesterov');
  compareWithTfjs(keel.optimizers.sgd({ learningRate: 0.05 }), tf.train.sgd(0.05), 'sgd');
});

test('optimizers never touch BN moving statistics', async () => {
  keel.setRandomSeed(3);
  const model = keel.sequential({ layers: [
    keel.layers.batchNormalization({ inputShape: [3], momentum: 0 }),
    keel.layers.dense({ units: 2, activation: 'softmax' }),
  ] });
  model.compile({ optimizer: keel.optimizers.adam({ learningRate: 0.5 }), loss: 'sparseCategoricalCrossentropy' });
  const x = keel.tensor([[1, 2, 3], [2, 4, 1], [0, 1, 5], [3, 3, 3]]);
  await model.trainOnBatch(x, keel.tensor([0, 1, 0, 1]));
  // With momentum 0 the moving mean is exactly the batch mean: no optimizer step was added to it.
  const movingMean = model.nonTrainableWeights[0].read().dataSync();
  assert.deepEqual(Array.from(movingMean), [1.5, 2.5, 3]);
  assert.equal(model.trainableWeights.length, 4);
});

test('string names give Keras defaults; bad hyper-parameters are refused', () => {
  const model = keel.sequential({ layers: [keel.layers.dense({ units: 2, inputShape: [3] })] });
  model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  assert.equal(model.optimizer!.getClassName(), 'Adam');
  assert.equal(model.optimizer!.learningRate, 0.001);
  assert.throws(() => keel.optimizers.sgd({ learningRate: -1 }), /expected learningRate > 0, received -1/);
  assert.throws(() => keel.optimizers.sgd({ momentum: 1 }), /expected momentum in \[0, 1\), received 1/);
  assert.throws(() => keel.optimizers.adam({ beta2: 1.5 }), /expected beta2 in \[0, 1\), received 1\.5/);
});
