/**
 * CNNs in the TF.js Layers format, both ways: TF.js loads the `cnn` model Keel saved and predicts
 * the same (one image and a batch), Keel loads a CNN TF.js saved (every image layer) and predicts
 * the same, a Keel save/load round trip is bit-exact, and hostile image-layer configs are refused
 * before anything is built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { maxAbsDiff, randomInputs } from '../io/helpers.js';

await tf.setBackend('cpu');
tf.env().set('IS_TEST', true);

/** The cnn model with non-trivial BN statistics, so that inference differs from training. */
function trainedLookingCnn(): keel.Sequential {
  keel.setRandomSeed(5);
  const model = keel.zoo.buildModel('cnn');
  const random = new keel.Random(9);
  model.setWeights(model.getWeights().map((w, i, all) => {
    const nonTrainable = i >= all.length - 10; // the 5 BN layers' moving mean and variance
    const values = Float32Array.from(w.dataSync(), (v) => (nonTrainable ? 0.5 + random.next() : v + 0.01 * random.normal()));
    return keel.tensor(values, w.shape);
  }));
  return model;
}

test('TF.js loads the cnn model Keel saved and predicts the same, one image and a batch', async () => {
  const model = trainedLookingCnn();
  const dir = await mkdtemp(join(tmpdir(), 'keel-cnn-'));
  try {
    await model.save(`file://${dir}`);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const weights = await readFile(join(dir, 'weights.bin'));
    const tfModel = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }));
    assert.deepEqual(tfModel.layers.map((l) => l.getClassName()), model.layers.map((l) => l.getClassName()));
    assert.equal(tfModel.countParams(), 468_778);
    const x = randomInputs(8, [28, 28], 2);
    const expected = model.predict(x).dataSync();
    const actual = (tfModel.predict(tf.tensor(x.dataSync(), [8, 28, 28])) as tf.Tensor).dataSync();
    assert.ok(maxAbsDiff(actual, expected) < 1e-5, `batch: max |diff| ${maxAbsDiff(actual, expected)}`);
    const one = (tfModel.predict(tf.tensor(x.dataSync().subarray(0, 784), [1, 28, 28])) as tf.Tensor).dataSync();
    assert.ok(maxAbsDiff(one, expected.subarray(0, 10)) < 1e-5, 'one image');

    const again = await keel.loadLayersModel(`file://${dir}/model.json`);
    assert.deepEqual(again.predict(x).dataSync(), expected, 'Keel → Keel is bit-exact');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('Keel loads a CNN TF.js saved, with every image layer, and predicts the same', async () => {
  const tfModel = tf.sequential({ layers: [
    tf.layers.reshape({ targetShape: [12, 10, 1], inputShape: [120] }),
    tf.layers.conv2d({ filters: 4, kernelSize: [3, 2], strides: [1, 2], padding: 'same', activation: 'relu' }),
    tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-2 }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid', useBias: false }),
    tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
    tf.layers.conv2d({ filters: 3, kernelSize: 1, dilationRate: 1, useBias: true }),
    tf.layers.averagePooling2d({ poolSize: [2, 1], strides: 1 }),
    tf.layers.globalAveragePooling2d({}),
    tf.layers.dense({ units: 5, activation: 'softmax' }),
  ] });
  tfModel.setWeights(tfModel.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.3, 1.2, 'float32', i)));
  let saved: tf.io.ModelArtifacts | undefined;
  await tfModel.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const model = await keel.loadLayersModel(keel.io.fromMemory(saved as unknown as keel.io.ModelArtifacts));
  assert.deepEqual(model.layers.map((l) => l.getClassName()), tfModel.layers.map((l) => l.getClassName()));
  const x = randomInputs(6, [120], 4);
  const expected = (tfModel.predict(tf.tensor(x.dataSync(), [6, 120])) as tf.Tensor).dataSync();
  const actual = model.predict(x).dataSync();
  assert.ok(maxAbsDiff(actual, expected) < 1e-5, `max |diff| ${maxAbsDiff(actual, expected)}`);
  const globalMax = tf.sequential({ layers: [tf.layers.globalMaxPooling2d({ inputShape: [3, 4, 2] })] });
  let gm: tf.io.ModelArtifacts | undefined;
  await globalMax.save(tf.io.withSaveHandler(async (a) => { gm = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  const loaded = await keel.loadLayersModel(keel.io.fromMemory(gm as unknown as keel.io.ModelArtifacts));
  const g = randomInputs(2, [3, 4, 2], 5);
  assert.ok(maxAbsDiff(loaded.predict(g).dataSync(), (globalMax.predict(tf.tensor(g.dataSync(), [2, 3, 4, 2])) as tf.Tensor).dataSync()) < 1e-6);
});

/** The artifacts of a small saved CNN, to be damaged. */
async function smallCnnArtifacts(): Promise<keel.io.ModelArtifacts> {
  const model = keel.sequential({ layers: [
    keel.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [5, 5, 1] }),
    keel.layers.maxPooling2d(),
    keel.layers.flatten(),
    keel.layers.dense({ units: 2 }),
  ] });
  let saved: keel.io.ModelArtifacts | undefined;
  await model.save(keel.io.withSaveHandler(async (a) => { saved = a; }));
  return saved!;
}

test('hostile image-layer configs are ModelFormatErrors, raised before any layer is built', async () => {
  const cases: [string, (layers: { class_name: string; config: Record<string, unknown> }[]) => void, RegExp][] = [
    ['kernel_size of 0', (l) => { l[0].config.kernel_size = [0, 3]; }, /kernel_size\[0\]: expected a positive integer/],
    ['kernel_size not a pair', (l) => { l[0].config.kernel_size = [3, 3, 3]; }, /kernel_size: expected \[height, width\]/],
    ['strides 0', (l) => { l[0].config.strides = [0, 1]; }, /strides\[0\]: expected a positive integer/],
    ['channels first', (l) => { l[0].config.data_format = 'channels_first'; }, /data_format: expected 'channels_last'/],
    ['unknown padding', (l) => { l[1].config.padding = 'causal'; }, /padding: expected 'valid' or 'same'/],
    ['a window larger than the input', (l) => { l[0].config.kernel_size = [7, 7]; }, /larger than the input's 5×5 with padding 'valid'/],
    ['a huge filter count', (l) => { l[0].config.filters = 2 ** 40; }, /filters: expected a positive integer/],
    ['grouped convolution', (l) => { l[0].config.groups = 2; }, /no grouped convolution/],
    ['a regularizer', (l) => { l[0].config.kernel_regularizer = { class_name: 'L2', config: { l2: 0.01 } }; }, /kernel_regularizer/],
  ];
  for (const [what, damage, message] of cases) {
    const artifacts = structuredClone(await smallCnnArtifacts());
    const topology = artifacts.modelTopology as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    damage(topology.config.layers);
    await assert.rejects(keel.loadLayersModel(keel.io.fromMemory(artifacts)), { name: 'ModelFormatError', message }, what);
  }
});
