/**
 * Golden values from an independent implementation: TensorFlow.js (CPU backend) runs the same
 * models with the same weights, and Keel must agree on the loss, every updated weight, the moving
 * statistics after one training step, and predictions.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { Random } from '../packages/keel/src/core/random.js';
import { testOnEveryBackend, relErr } from './helpers.js';

await tf.setBackend('cpu');

type Variant = 'seed' | 'seed-before';

function keelModel(variant: Variant, inputShape: number[]): keel.Sequential {
  const hidden = (units: number) =>
    variant === 'seed'
      ? [keel.layers.dense({ units, activation: 'relu', kernelInitializer: 'heNormal' }), keel.layers.batchNormalization()]
      : [
          keel.layers.dense({ units, useBias: false, kernelInitializer: 'heNormal' }),
          keel.layers.batchNormalization(),
          keel.layers.activation({ activation: 'relu' }),
        ];
  return keel.sequential({ layers: [
    keel.layers.flatten({ inputShape }),
    keel.layers.batchNormalization(),
    ...hidden(300),
    ...hidden(100),
    keel.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
}

function tfModel(variant: Variant, inputShape: number[]): tf.Sequential {
  const hidden = (units: number) =>
    variant === 'seed'
      ? [tf.layers.dense({ units, activation: 'relu' }), tf.layers.batchNormalization()]
      : [tf.layers.dense({ units, useBias: false }), tf.layers.batchNormalization(), tf.layers.activation({ activation: 'relu' })];
  return tf.sequential({ layers: [
    tf.layers.flatten({ inputShape }),
    tf.layers.batchNormalization(),
    ...hidden(300),
    ...hidden(100),
    tf.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
}


function data(random: Random, n: number): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * 28 * 28);
  // Pixel-like inputs in [0, 1] with a per-feature offset, so that the input BN has work to do.
  for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(0, 0.3 + 0.3 * random.normal() + ((i % 784) / 784) * 0.4));
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = random.int(10);
  return { x, y };
}

for (const variant of ['seed', 'seed-before'] as Variant[]) {
  testOnEveryBackend(`TF.js agrees on one SGD trainOnBatch of the ${variant} model`, async () => {
    keel.setRandomSeed(123);
    const model = keelModel(variant, [28, 28]);
    const reference = tfModel(variant, [28, 28]);
    const initial = model.getWeights();
    // Non-trivial γ, β and moving statistics, so that a swapped or ignored weight shows up.
    const random = new Random(7);
    const weights = initial.map((w, i) => {
      const name = model.weights[i].shortName;
      const v = w.dataSync();
      if (name === 'gamma') v.forEach((_, j) => (v[j] = 1 + 0.2 * random.normal()));
      if (name === 'beta' || name === 'bias') v.forEach((_, j) => (v[j] = 0.1 * random.normal()));
      if (name === 'moving_mean') v.forEach((_, j) => (v[j] = 0.3 * random.normal()));
      if (name === 'moving_variance') v.forEach((_, j) => (v[j] = 0.5 + random.next()));
      return keel.tensor(v, w.shape);
    });
    model.setWeights(weights);
    reference.setWeights(weights.map((w) => tf.tensor(w.dataSync(), [...w.shape])));
    const names = model.weights.map((v) => v.name);
    assert.deepEqual(reference.getWeights().map((w) => w.shape), model.getWeights().map((w) => [...w.shape]));

    const learningRate = 0.05;
    model.compile({ optimizer: keel.optimizers.sgd({ learningRate }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    reference.compile({ optimizer: tf.train.sgd(learningRate), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

    const { x, y } = data(new Random(99), 32);
    const [keelLoss, keelAcc] = (await model.trainOnBatch(keel.tensor(x, [32, 28, 28]), keel.tensor(y))) as number[];
    const [tfLoss, tfAcc] = (await reference.trainOnBatch(tf.tensor(x, [32, 28, 28]), tf.tensor(Float32Array.from(y)))) as number[];
    assert.ok(Math.abs(keelLoss - tfLoss) / tfLoss < 1e-4, `loss: keel ${keelLoss} vs TF.js ${tfLoss}`);
    assert.equal(keelAcc, tfAcc);

    const after = model.getWeights();
    const tfAfter = reference.getWeights();
    after.forEach((w, i) => {
      const expected = tfAfter[i].dataSync();
      const got = w.dataSync();
      const before = weights[i].dataSync();
      assert.ok(relErr(got, expected) < 1e-4, `${names[i]}: relative error ${relErr(got, expected)}`);
      // The step itself (new − old) must agree too, not only the weights it barely moves.
      const stepKeel = got.map((v, j) => v - before[j]);
      const stepTf = expected.map((v, j) => v - before[j]);
      // Steps at float32 noise level carry no signal: e.g. the input BN's β in seed-before, whose
      // exact gradient is 0 because the next BN removes any shift of the Dense's output.
      if (stepTf.some((v) => Math.abs(v) > 1e-6)) {
        assert.ok(relErr(stepKeel, stepTf) < 2e-3, `${names[i]} update: relative error ${relErr(stepKeel, stepTf)}`);
      }
    });

    // Inference on one instance uses the moving statistics; both must agree.
    const one = x.subarray(0, 784);
    const p = model.predict(keel.tensor(one, [1, 28, 28])).dataSync();
    const q = (reference.predict(tf.tensor(one, [1, 28, 28])) as tf.Tensor).dataSync();
    assert.ok(relErr(p, q) < 1e-4, `predict: relative error ${relErr(p, q)}`);
  });
}

testOnEveryBackend('TF.js agrees on every activation of a Dense layer (forward)', () => {
  const random = new Random(3);
  const x = new Float32Array(4 * 6).map(() => random.normal() * 2);
  for (const activation of keel.ACTIVATIONS) {
    const tfName = activation === 'leakyRelu' ? null : activation;
    if (!tfName) continue; // TF.js has no 'leakyRelu' activation string (its LeakyReLU layer uses 0.3; Keras 3's activation 0.2)
    const layer = keel.layers.dense({ units: 5, activation, inputShape: [6] });
    const ref = tf.layers.dense({ units: 5, activation: tfName as never, inputShape: [6] });
    layer.build([6]);
    ref.apply(tf.zeros([1, 6]));
    ref.setWeights(layer.getWeights().map((w) => tf.tensor(w.dataSync(), [...w.shape])));
    const got = layer.apply(keel.tensor(x, [4, 6])).dataSync();
    const expected = (ref.apply(tf.tensor(x, [4, 6])) as tf.Tensor).dataSync();
    assert.ok(relErr(got, expected) < 1e-5, `${activation}: relative error ${relErr(got, expected)}`);
  }
});

testOnEveryBackend('leakyRelu uses slope 0.2 (Keras 3), checked against TF.js leakyRelu(alpha=0.2)', () => {
  const layer = keel.layers.activation({ activation: 'leakyRelu' });
  const x = [-3, -0.5, 0, 0.5, 3];
  const got = layer.apply(keel.tensor(x, [1, 5])).dataSync();
  const expected = tf.leakyRelu(tf.tensor([x]), 0.2).dataSync();
  assert.deepEqual(Array.from(got), Array.from(expected));
});
