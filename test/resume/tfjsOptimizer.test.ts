/**
 * Optimizer state between Keel and TensorFlow.js 4.22 (CPU backend), both ways, for Adam (the
 * optimizer whose state means the same in both): TF.js loads the model Keel saved with
 * includeOptimizer as a compiled model with Keel's step count and moments, and the other way round;
 * one more step on the same batch then moves the weights the same in both.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { relErr } from '../helpers.js';

await tf.setBackend('cpu');
tf.env().set('IS_TEST', true);

// Keras (and Keel) add epsilon after folding Adam's bias correction into the rate, TF.js before:
// a tiny epsilon makes that difference vanish, so that the comparison sees the state only.
const EPSILON = 1e-12;
const r = new Random(9);
const xs = Float32Array.from({ length: 16 * 5 }, () => r.normal());
const ys = Float32Array.from({ length: 16 }, () => r.int(3));

function keelModel(): keel.Sequential {
  keel.setRandomSeed(4);
  const m = keel.sequential({ layers: [
    keel.layers.dense({ units: 6, inputShape: [5], activation: 'relu', name: 'hidden' }),
    keel.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
  ] });
  m.compile({ optimizer: keel.optimizers.adam({ learningRate: 0.02, epsilon: EPSILON }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const stateOf = async (weights: { name: string; tensor: { dataSync(): ArrayLike<number> } }[]) =>
  weights.map((w) => [w.name, Array.from(w.tensor.dataSync())] as const);

test('TF.js loads the Adam state Keel saved, and its next step matches Keel\'s', async () => {
  const model = keelModel();
  for (let i = 0; i < 3; i++) await model.trainOnBatch(keel.tensor(xs, [16, 5]), keel.tensor(ys, [16]));
  let saved: keel.io.ModelArtifacts | undefined;
  await model.save(keel.io.withSaveHandler(async (a) => { saved = a; }), { includeOptimizer: true });
  const tfModel = await tf.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
  const tfOptimizer = tfModel.optimizer as tf.AdamOptimizer;
  assert.equal(tfOptimizer.getClassName(), 'Adam');
  assert.equal(tfOptimizer.iterations, 3);
  const tfState = await stateOf(await tfOptimizer.getWeights());
  const keelState = await stateOf(await model.optimizer!.getWeights());
  assert.deepEqual(tfState.map(([n]) => n), keelState.map(([n]) => n));
  tfState.forEach(([, v], i) => assert.deepEqual(Float32Array.from(v), Float32Array.from(keelState[i][1]), tfState[i][0]));

  await model.trainOnBatch(keel.tensor(xs, [16, 5]), keel.tensor(ys, [16]));
  await tfModel.trainOnBatch(tf.tensor(xs, [16, 5]), tf.tensor(ys, [16]));
  const keelWeights = model.getWeights().map((w) => w.dataSync());
  tfModel.getWeights().forEach((w, i) => assert.ok(relErr(w.dataSync(), keelWeights[i]) < 1e-5, `weight ${i}: ${relErr(w.dataSync(), keelWeights[i])}`));
});

test('Keel loads the Adam state TF.js saved with includeOptimizer, and its next step matches TF.js\'s', async () => {
  const tfModel = tf.sequential({ layers: [
    tf.layers.dense({ units: 6, inputShape: [5], activation: 'relu' }),
    tf.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  tfModel.compile({ optimizer: tf.train.adam(0.02, 0.9, 0.999, EPSILON), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  for (let i = 0; i < 3; i++) await tfModel.trainOnBatch(tf.tensor(xs, [16, 5]), tf.tensor(ys, [16]));
  let saved: tf.io.ModelArtifacts | undefined;
  await tfModel.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }), { includeOptimizer: true });
  const model = await keel.loadLayersModel(keel.io.fromMemory(saved as unknown as keel.io.ModelArtifacts));
  assert.ok(model.optimizer instanceof keel.optimizers.Adam);
  assert.equal(model.optimizer.learningRate, 0.02);
  assert.equal(model.optimizer.iterations, 3);
  const tfState = await stateOf(await (tfModel.optimizer as tf.AdamOptimizer).getWeights());
  const keelState = await stateOf(await model.optimizer.getWeights());
  assert.deepEqual(keelState.map(([n]) => n), tfState.map(([n]) => n));
  keelState.forEach(([, v], i) => assert.deepEqual(Float32Array.from(v), Float32Array.from(tfState[i][1]), keelState[i][0]));

  await model.trainOnBatch(keel.tensor(xs, [16, 5]), keel.tensor(ys, [16]));
  await tfModel.trainOnBatch(tf.tensor(xs, [16, 5]), tf.tensor(ys, [16]));
  const tfWeights = tfModel.getWeights().map((w) => w.dataSync());
  model.getWeights().forEach((w, i) => assert.ok(relErr(w.dataSync(), tfWeights[i]) < 1e-5, `weight ${i}: ${relErr(w.dataSync(), tfWeights[i])}`));
});
