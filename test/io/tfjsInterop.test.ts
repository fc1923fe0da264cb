/**
 * Interoperability with TensorFlow.js (CPU backend): TF.js loads what Keel saves and predicts the
 * same, and Keel loads what TF.js saves and predicts the same. Artifacts move through TF.js's own
 * in-memory handlers (tf.io.fromMemory / withSaveHandler) and through model.json files on disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { maxAbsDiff, randomInputs, randomizeBatchNorm, seedModel, type Variant } from './helpers.js';

await tf.setBackend('cpu');
tf.env().set('IS_TEST', true); // silences TF.js's "install tfjs-node" banner

for (const variant of ['seed', 'seed-before'] as Variant[]) {
  test(`TF.js loads the ${variant} model Keel saved (from the files on disk) and predicts the same`, async () => {
    const model = seedModel(variant);
    randomizeBatchNorm(model, 1);
    const dir = await mkdtemp(join(tmpdir(), 'keel-interop-'));
    try {
      await model.save(`file://${dir}`);
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
      const weights = await readFile(join(dir, 'weights.bin'));
      assert.equal(json.format, 'layers-model');
      assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
      const data = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
      const tfModel = await tf.loadLayersModel(tf.io.fromMemory({
        modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: data,
      }));
      assert.deepEqual(tfModel.layers.map((l) => l.getClassName()), model.layers.map((l) => l.getClassName()));
      assert.equal(tfModel.countParams(), model.countParams());
      const x = randomInputs(16, [28, 28], 2);
      const expected = model.predict(x).dataSync();
      const actual = (tfModel.predict(tf.tensor(x.dataSync(), [16, 28, 28])) as tf.Tensor).dataSync();
      assert.ok(maxAbsDiff(actual, expected) < 1e-5, `max |diff| ${maxAbsDiff(actual, expected)}`);
      const one = (tfModel.predict(tf.tensor(x.dataSync().subarray(0, 784), [1, 28, 28])) as tf.Tensor).dataSync();
      assert.ok(maxAbsDiff(one, expected.subarray(0, 10)) < 1e-5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test(`Keel loads the ${variant} model TF.js saved and predicts the same`, async () => {
    const hidden = (units: number) =>
      variant === 'seed'
        ? [tf.layers.dense({ units, activation: 'relu', kernelInitializer: 'heNormal' }), tf.layers.batchNormalization()]
        : [tf.layers.dense({ units, useBias: false }), tf.layers.batchNormalization(), tf.layers.activation({ activation: 'relu' })];
    const tfModel = tf.sequential({ layers: [
      tf.layers.flatten({ inputShape: [28, 28] }), tf.layers.batchNormalization(),
      ...hidden(30), ...hidden(20), tf.layers.dropout({ rate: 0.2 }), tf.layers.dense({ units: 10, activation: 'softmax' }),
    ] });
    // Non-trivial BN statistics, set through TF.js itself.
    tfModel.setWeights(tfModel.getWeights().map((w, i) =>
      w.rank === 2 ? tf.randomNormal(w.shape, 0, 0.05, 'float32', i) : tf.randomUniform(w.shape, 0.5, 1.5, 'float32', i)));
    let saved: tf.io.ModelArtifacts | undefined;
    await tfModel.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const fromMemory = await keel.loadLayersModel(keel.io.fromMemory(saved as unknown as keel.io.ModelArtifacts));
    // And from files laid out as tfjs-node's file:// handler writes them (model.json + weights.bin).
    const dir = await mkdtemp(join(tmpdir(), 'keel-interop-'));
    let model: keel.Sequential;
    try {
      const { weightData, weightSpecs, ...rest } = saved!;
      await writeFile(join(dir, 'model.json'), JSON.stringify({ ...rest, weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs }] }));
      await writeFile(join(dir, 'weights.bin'), new Uint8Array(weightData as ArrayBuffer));
      model = await keel.loadLayersModel(`file://${dir}/model.json`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.deepEqual(model.getWeights().map((w) => w.dataSync()), fromMemory.getWeights().map((w) => w.dataSync()));
    assert.equal(model.countParams(), tfModel.countParams());
    const x = randomInputs(16, [28, 28], 3);
    const expected = (tfModel.predict(tf.tensor(x.dataSync(), [16, 28, 28])) as tf.Tensor).dataSync();
    const actual = model.predict(x).dataSync();
    assert.ok(maxAbsDiff(actual, expected) < 1e-5, `max |diff| ${maxAbsDiff(actual, expected)}`);
    // And back: Keel saves what it loaded, TF.js reads it again.
    let again: keel.io.ModelArtifacts | undefined;
    await model.save(keel.io.withSaveHandler(async (a) => { again = a; }));
    const tfAgain = await tf.loadLayersModel(tf.io.fromMemory(again as unknown as tf.io.ModelArtifacts));
    const back = (tfAgain.predict(tf.tensor(x.dataSync(), [16, 28, 28])) as tf.Tensor).dataSync();
    assert.ok(maxAbsDiff(back, expected) < 1e-5);
  });
}

test('TF.js reads the initializers Keel writes (a loaded model can be trained further)', async () => {
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 4, inputShape: [3], kernelInitializer: 'heNormal', biasInitializer: 'ones' }),
    keel.layers.dense({ units: 4, kernelInitializer: 'glorotUniform' }),
    keel.layers.dense({ units: 4, kernelInitializer: 'lecunUniform' }),
    keel.layers.dense({ units: 2, kernelInitializer: keel.initializers.randomNormal({ stddev: 0.1 }) }),
  ] });
  let saved: keel.io.ModelArtifacts | undefined;
  await model.save(keel.io.withSaveHandler(async (a) => { saved = a; }));
  const tfModel = await tf.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
  let resaved: tf.io.ModelArtifacts | undefined;
  await tfModel.save(tf.io.withSaveHandler(async (a) => {
    resaved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  type Entry = { config: { kernel_initializer: { class_name: string; config: Record<string, unknown> } } };
  const configs = ((resaved!.modelTopology as { config: { layers: Entry[] } }).config.layers).map((l) => l.config.kernel_initializer);
  assert.equal(configs[0].class_name, 'VarianceScaling');
  assert.deepEqual(configs[0].config, { scale: 2, mode: 'fan_in', distribution: 'truncated_normal', seed: null });
  assert.equal(configs[1].config.distribution, 'uniform');
  assert.equal(configs[3].class_name, 'RandomNormal');
});

test('TF.js runs the folded seed-before model (Dense layers only) and predicts as the original Keel model', async () => {
  const model = seedModel('seed-before');
  randomizeBatchNorm(model, 11);
  const { model: folded } = keel.foldBatchNorm(model);
  let saved: keel.io.ModelArtifacts | undefined;
  await folded.save(keel.io.withSaveHandler(async (a) => { saved = a; }));
  const tfModel = await tf.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
  assert.deepEqual(tfModel.layers.map((l) => l.getClassName()), ['Flatten', 'Dense', 'Activation', 'Dense', 'Activation', 'Dense']);
  const x = randomInputs(16, [28, 28], 12);
  const actual = (tfModel.predict(tf.tensor(x.dataSync(), [16, 28, 28])) as tf.Tensor).dataSync();
  const expected = model.predict(x).dataSync();
  assert.ok(maxAbsDiff(actual, expected) < 1e-5, `max |diff| ${maxAbsDiff(actual, expected)}`);
});
