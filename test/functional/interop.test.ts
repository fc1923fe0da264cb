/**
 * The TF.js Layers format for functional models, both ways, against TF.js itself (CPU backend,
 * in memory): TF.js loads Keel's ResNet-20 and predicts what Keel predicts, listing the weights in
 * the same order; Keel loads a functional model that TF.js saved (two inputs, every merge layer,
 * conv, BN, Dense) and predicts what TF.js predicts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { relErr } from '../helpers.js';

await tf.setBackend('cpu');

async function keelArtifacts(model: keel.LayersModel): Promise<keel.io.ModelArtifacts> {
  let saved: keel.io.ModelArtifacts | undefined;
  await model.save(keel.io.withSaveHandler(async (a) => { saved = a; }));
  return saved!;
}

/** Gives every BN non-trivial γ, β and moving statistics, so that a BN read wrong shows. */
function perturbBatchNorm(model: keel.LayersModel, seed: number): void {
  const random = new Random(seed);
  model.setWeights(model.weights.map((v) => {
    const values = Float32Array.from(v.value.values);
    if (v.shortName === 'gamma') values.forEach((_, j) => (values[j] = 1 + 0.2 * random.normal()));
    if (v.shortName === 'beta') values.forEach((_, j) => (values[j] = 0.1 * random.normal()));
    if (v.shortName === 'moving_mean') values.forEach((_, j) => (values[j] = 0.1 * random.normal()));
    if (v.shortName === 'moving_variance') values.forEach((_, j) => (values[j] = 0.5 + random.next()));
    return keel.tensor(values, v.shape);
  }));
}

test("TF.js loads Keel's ResNet-20 and predicts the same, with the weights in the same order", async () => {
  keel.setRandomSeed(3);
  const model = keel.zoo.buildModel('resnet');
  perturbBatchNorm(model, 4);
  const artifacts = await keelArtifacts(model);
  const topology = artifacts.modelTopology as { class_name: string; config: { input_layers: unknown; output_layers: unknown } };
  assert.equal(topology.class_name, 'Model');
  const reference = await tf.loadLayersModel(tf.io.fromMemory(artifacts as unknown as tf.io.ModelArtifacts));
  assert.deepEqual(reference.layers.map((l) => l.name), model.layers.map((l) => l.name));
  assert.deepEqual(reference.weights.map((w) => w.originalName), model.weights.map((w) => w.name));
  const x = Float32Array.from({ length: 3 * 784 }, (_, i) => (Math.sin(i * 0.37) + 1) / 2);
  const got = model.predict(keel.tensor(x, [3, 28, 28])).dataSync();
  const expected = (reference.predict(tf.tensor(x, [3, 28, 28])) as tf.Tensor).dataSync();
  assert.ok(relErr(got, expected) < 1e-5, `relative error ${relErr(got, expected)}`);
  // And Keel reads its own file back to the same model.
  const again = await keel.loadLayersModel(keel.io.fromMemory(artifacts));
  assert.deepEqual(Array.from(again.predict(keel.tensor(x, [3, 28, 28])).dataSync()), Array.from(got));
});

test('Keel loads a functional model TF.js saved (two inputs, every merge layer) and predicts the same', async () => {
  const L = tf.layers;
  const image = tf.input({ shape: [5, 5, 2], name: 'image' });
  const extra = tf.input({ shape: [4], name: 'extra' });
  const c = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }).apply(image) as tf.SymbolicTensor;
  const b = L.batchNormalization().apply(c) as tf.SymbolicTensor;
  const r = L.activation({ activation: 'relu' }).apply(b) as tf.SymbolicTensor;
  const g = L.globalAveragePooling2d({}).apply(L.add().apply([r, c]) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const e = L.dense({ units: 4, activation: 'tanh' }).apply(extra) as tf.SymbolicTensor;
  const merged = L.concatenate().apply([
    L.multiply().apply([g, e]) as tf.SymbolicTensor, L.average().apply([g, e]) as tf.SymbolicTensor, extra,
  ]) as tf.SymbolicTensor;
  const out = L.dense({ units: 3, activation: 'softmax' }).apply(merged) as tf.SymbolicTensor;
  const reference = tf.model({ inputs: [image, extra], outputs: out });
  const random = new Random(8);
  reference.setWeights(reference.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () =>
    w.shape.length === 1 && (w.size === 4) ? 0.6 + random.next() : 0.5 * random.normal()), w.shape)));
  let saved: tf.io.ModelArtifacts | undefined;
  await reference.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const model = await keel.loadLayersModel(keel.io.fromMemory(saved as unknown as keel.io.ModelArtifacts));
  assert.deepEqual(model.inputShapes, [[5, 5, 2], [4]]);
  assert.deepEqual(model.layers.map((l) => l.getClassName()), reference.layers.map((l) => l.getClassName()));
  const xi = Float32Array.from({ length: 2 * 50 }, () => random.normal());
  const xe = Float32Array.from({ length: 2 * 4 }, () => random.normal());
  const got = model.predict([keel.tensor(xi, [2, 5, 5, 2]), keel.tensor(xe, [2, 4])]).dataSync();
  const expected = (reference.predict([tf.tensor(xi, [2, 5, 5, 2]), tf.tensor(xe, [2, 4])]) as tf.Tensor).dataSync();
  assert.ok(relErr(got, expected) < 1e-5, `relative error ${relErr(got, expected)}`);
});
