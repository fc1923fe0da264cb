/**
 * Optimizers against golden values: Keras's documented examples (minimizing var²/2), Keras 3's own
 * Adam and Nadam over 5 steps of the same (Nadam has no TF.js counterpart), and TensorFlow.js's
 * optimizers over several steps with the same gradients, on every backend; RMSprop and Nadam also
 * against the JavaScript rules they ran before they had backend kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { LayerVariable } from '../packages/keel/src/layers/variable.js';
import { Random } from '../packages/keel/src/core/random.js';
import type { Optimizer } from '../packages/keel/src/optimizers/index.js';
import type { DType } from '../packages/keel/src/core/tensor.js';
import { testOnEveryBackend } from './helpers.js';
import { previousNadamStep, previousRmspropStep } from './previousOptimizers.js';

await tf.setBackend('cpu');

/** Minimizes var²/2 (gradient = var) from `start` for `steps` steps; returns the values after each. */
function minimizeSquare(optimizer: Optimizer, start: number, steps: number, dtype: DType = 'float64'): number[] {
  const v = new LayerVariable('var', keel.tensor([start], [1], dtype), 'parameter');
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
});

testOnEveryBackend('Keras documentation examples in float32', (backendName) => {
  const run = (optimizer: Optimizer, start: number) => minimizeSquare(optimizer, start, 1, 'float32')[0];
  // float32 represents values near 10 to 5e-7.
  const near = (got: number, expected: number, what: string) =>
    assert.ok(Math.abs(got - expected) < 2e-6, `${what} (${backendName}): ${got} vs ${expected}`);
  near(run(keel.optimizers.sgd({ learningRate: 0.1 }), 1), 0.9, 'sgd');
  near(run(keel.optimizers.adam({ learningRate: 0.1 }), 10), 9.9, 'adam');
  near(run(keel.optimizers.rmsprop({ learningRate: 0.1 }), 10), 9.683772, 'rmsprop');
});

/**
 * Keras 3.15.1's own optimizers (JAX backend, float64) minimizing var²/2 from 10 with learning rate
 * 0.2, the value after each of 5 steps; a plain numpy transcription of keras/src/optimizers/nadam.py
 * gives the same digits:
 *
 *   jax.config.update('jax_enable_x64', True); keras.config.set_floatx('float64')
 *   v = keras.Variable(np.array([10.0])); opt = keras.optimizers.Nadam(learning_rate=0.2)
 *   for _ in range(5): opt.apply_gradients([(keras.ops.convert_to_tensor(v.numpy()), v)]); print(v.numpy())
 *
 * Adam's row shows how far apart the two are: 1.3e-2 after one step, far beyond the tolerances.
 */
const KERAS3 = {
  nadam: [9.787442441463822, 9.634175267563808, 9.493945605781555, 9.356181988997418, 9.217282515205836],
  adam: [9.800000063245534, 9.600115621697533, 9.400426727545558, 9.201015524961935, 9.001966101570437],
};
// float64: the same arithmetic up to reordering. float32: w, m and v rounded to float32 at each of
// the 5 steps (half an ulp of 10 is 4.8e-7; Keras 3's rule in Keel's kernels lands within that).
const KERAS3_TOLERANCE = { float64: 1e-12, float32: 2e-6 };

function assertFollowsKeras3(got: number[], expected: number[], tolerance: number, what: string): void {
  got.forEach((value, step) =>
    assert.ok(Math.abs(value - expected[step]) <= tolerance, `${what} step ${step + 1}: ${value} vs Keras 3 ${expected[step]}`));
}

test('the Keras 3 golden values tell Nadam from Adam at every step, by far more than the tolerances', () => {
  KERAS3.nadam.forEach((value, step) => assert.ok(Math.abs(value - KERAS3.adam[step]) > 1000 * KERAS3_TOLERANCE.float32));
});

test('Adam follows Keras 3 for 5 steps of var²/2 (float64)', () => {
  assertFollowsKeras3(minimizeSquare(keel.optimizers.adam({ learningRate: 0.2 }), 10, 5), KERAS3.adam, KERAS3_TOLERANCE.float64, 'adam');
});

test('Nadam follows Keras 3 for 5 steps of var²/2 (float64)', () => {
  assertFollowsKeras3(minimizeSquare(keel.optimizers.nadam({ learningRate: 0.2 }), 10, 5), KERAS3.nadam, KERAS3_TOLERANCE.float64, 'nadam');
});

testOnEveryBackend('Adam follows Keras 3 for 5 steps of var²/2 (float32)', () => {
  const got = minimizeSquare(keel.optimizers.adam({ learningRate: 0.2 }), 10, 5, 'float32');
  assertFollowsKeras3(got, KERAS3.adam, KERAS3_TOLERANCE.float32, 'adam');
});

testOnEveryBackend('Nadam follows Keras 3 for 5 steps of var²/2 (float32)', () => {
  const got = minimizeSquare(keel.optimizers.nadam({ learningRate: 0.2 }), 10, 5, 'float32');
  assertFollowsKeras3(got, KERAS3.nadam, KERAS3_TOLERANCE.float32, 'nadam');
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

testOnEveryBackend('Adam, RMSprop and SGD with (Nesterov) momentum agree with TF.js over 6 steps', (backendName) => {
  const compare = (keelOpt: Optimizer, tfOpt: tf.Optimizer, what: string, tolerance?: number) =>
    compareWithTfjs(keelOpt, tfOpt, `${what} (${backendName})`, tolerance);
  compare(keel.optimizers.adam({ learningRate: 0.01 }), tf.train.adam(0.01, 0.9, 0.999, 1e-7), 'adam');
  compare(keel.optimizers.rmsprop({ learningRate: 0.01 }), tf.train.rmsprop(0.01, 0.9, 0, 1e-7), 'rmsprop');
  compare(keel.optimizers.rmsprop({ learningRate: 0.01, momentum: 0.5, centered: true }), tf.train.rmsprop(0.01, 0.9, 0.5, 1e-7, true), 'rmsprop centered', 1e-4);
  // (centered: s − ḡ² cancels, and Keel and TF.js round it differently in float32, hence 1e-4.)
  // TF.js's momentum optimizer keeps accum = m·accum + g and steps −lr·accum: Keras's v = −lr·accum.
  compare(keel.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }), tf.train.momentum(0.05, 0.9), 'momentum');
  compare(keel.optimizers.sgd({ learningRate: 0.05, momentum: 0.9, nesterov: true }), tf.train.momentum(0.05, 0.9, true), 'nesterov');
  compare(keel.optimizers.sgd({ learningRate: 0.05 }), tf.train.sgd(0.05), 'sgd');
});

/**
 * Runs an optimizer on `n` values for 8 steps of random gradients, in float32 on the active backend
 * and in float64 (which runs on the reference kernels), and `previous` (the JavaScript rule the
 * optimizer ran before it had kernels) in float64 on the same gradients.
 */
function compareWithPrevious(
  make: () => Optimizer, previous: (w: Float64Array, g: Float32Array, t: number) => void, n: number, what: string,
): void {
  const random = new Random(11);
  const init = Float32Array.from({ length: n }, () => random.normal());
  const v32 = new LayerVariable('w', keel.tensor(init, [n]), 'parameter');
  const v64 = new LayerVariable('w', keel.tensor(Float64Array.from(init), [n], 'float64'), 'parameter');
  const [opt32, opt64] = [make(), make()];
  const expected = Float64Array.from(init);
  const steps = 8;
  for (let t = 1; t <= steps; t++) {
    // Gradients of varied scale, some far below 1, as late in training.
    const g = Float32Array.from({ length: n }, () => random.normal() * 10 ** (2 * random.next() - 1.5));
    v32.grad!.values.set(g);
    v64.grad!.values.set(g);
    opt32.applyGradients([v32]);
    opt64.applyGradients([v64]);
    previous(expected, g, t);
  }
  const [got32, got64] = [v32.value.values, v64.value.values];
  for (let i = 0; i < n; i++) {
    const moved = Math.abs(expected[i] - init[i]);
    const scale = Math.max(1, Math.abs(expected[i]));
    // float64: the same arithmetic up to reordering, a few ulps. float32: the state and each step
    // rounded to float32 (a few 1e-7 relative of the distance moved), plus w itself rounded to
    // float32 at every step (at most half an ulp, 2⁻²⁴·|w|, each time).
    assert.ok(Math.abs(got64[i] - expected[i]) <= 1e-13 * scale, `${what} float64 [${i}]: ${got64[i]} vs ${expected[i]}`);
    assert.ok(
      Math.abs(got32[i] - expected[i]) <= 1e-5 * moved + steps * 2 ** -24 * scale,
      `${what} float32 [${i}]: ${got32[i]} vs ${expected[i]} (moved ${moved})`,
    );
  }
}

testOnEveryBackend('RMSprop and Nadam step as their previous JavaScript rules did (lengths with SIMD tails)', (backendName) => {
  for (const n of [1, 19, 1003]) {
    for (const [momentum, centered] of [[0, false], [0.9, false], [0, true], [0.5, true]] as const) {
      const h = { lr: 0.01, rho: 0.9, momentum, epsilon: 1e-7, centered };
      const state = { s: new Float64Array(n), mom: new Float64Array(n), avg: new Float64Array(n) };
      compareWithPrevious(
        () => keel.optimizers.rmsprop({ learningRate: h.lr, rho: h.rho, momentum, epsilon: h.epsilon, centered }),
        (w, g) => previousRmspropStep(w, g, state, h), n, `rmsprop n=${n} momentum=${momentum} centered=${centered} (${backendName})`,
      );
    }
    const h = { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };
    const state = { m: new Float64Array(n), v: new Float64Array(n), uProduct: 1 };
    compareWithPrevious(
      () => keel.optimizers.nadam({ learningRate: h.lr, beta1: h.beta1, beta2: h.beta2, epsilon: h.epsilon }),
      (w, g, t) => previousNadamStep(w, g, state, t, h), n, `nadam n=${n} (${backendName})`,
    );
  }
});

testOnEveryBackend('optimizers never touch BN moving statistics', async () => {
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
