/**
 * LayerNormalization and GroupNormalization in the TF.js Layers format (model.json + weights):
 * TF.js loads a Keel model with LayerNormalization layers and predicts the same; Keel loads one
 * TF.js saved (axes as TF.js writes them, resolved to lists) and predicts the same; a model with
 * GroupNormalization round-trips Keel → Keel bit-exactly under Keras's class name and keys, while
 * TF.js, which has no GroupNormalization, refuses it; hostile configs are refused before any layer
 * is built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { maxAbsDiff, randomInputs } from '../io/helpers.js';

await tf.setBackend('cpu');
tf.env().set('IS_TEST', true);

/** Every weight perturbed, so that γ and β are not their initial 1 and 0. */
function perturb(model: keel.Sequential, seed: number): void {
  const random = new Random(seed);
  model.setWeights(model.getWeights().map((w) => keel.tensor(Float32Array.from(w.dataSync(), (v) => v + 0.3 * random.normal()), w.shape)));
}

async function saveToDir<T>(model: keel.Sequential, use: (dir: string, json: any, weights: Buffer) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-norm-'));
  try {
    await model.save(`file://${dir}`);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    return await use(dir, json, await readFile(join(dir, 'weights.bin')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const fromFiles = (json: any, weights: Buffer) => tf.io.fromMemory({
  modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
  weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
});

test('TF.js loads Keel models with LayerNormalization (Dense and image, every axis form) and predicts the same', async () => {
  keel.setRandomSeed(3);
  const models: [keel.Sequential, number[]][] = [
    [keel.sequential({ layers: [
      keel.layers.dense({ units: 8, inputShape: [6], activation: 'relu' }),
      keel.layers.layerNormalization(),
      keel.layers.dense({ units: 5 }),
      keel.layers.layerNormalization({ axis: 1, epsilon: 1e-5, center: false }),
      keel.layers.dense({ units: 3, activation: 'softmax' }),
    ] }), [6]],
    [keel.sequential({ layers: [
      keel.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', inputShape: [5, 5, 2] }),
      keel.layers.layerNormalization({ axis: [1, 2, 3] }),
      keel.layers.activation({ activation: 'relu' }),
      keel.layers.conv2d({ filters: 3, kernelSize: 3 }),
      keel.layers.layerNormalization({ axis: -1, scale: false }),
      keel.layers.layerNormalization({ axis: [-2, -1] }),
      keel.layers.flatten(),
      keel.layers.dense({ units: 2 }),
    ] }), [5, 5, 2]],
  ];
  for (const [model, inputShape] of models) {
    perturb(model, 4);
    await saveToDir(model, async (_dir, json, weights) => {
      const classes = json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name);
      assert.ok(classes.includes('LayerNormalization'));
      const tfModel = await tf.loadLayersModel(fromFiles(json, weights));
      assert.deepEqual(tfModel.layers.map((l) => l.getClassName()), model.layers.map((l) => l.getClassName()));
      assert.equal(tfModel.countParams(), model.countParams());
      const x = randomInputs(7, inputShape, 5);
      const expected = model.predict(x).dataSync();
      const actual = (tfModel.predict(tf.tensor(x.dataSync(), [7, ...inputShape])) as tf.Tensor).dataSync();
      assert.ok(maxAbsDiff(actual, expected) < 1e-5, `max |diff| ${maxAbsDiff(actual, expected)}`);
      const size = inputShape.reduce((a, b) => a * b, 1);
      const one = (tfModel.predict(tf.tensor(x.dataSync().subarray(0, size), [1, ...inputShape])) as tf.Tensor).dataSync();
      assert.ok(maxAbsDiff(one, expected.subarray(0, one.length)) < 1e-5, 'one sample');
    });
  }
});

test('Keel loads models with LayerNormalization that TF.js saved and predicts the same', async () => {
  const tfModels: [tf.Sequential, number[]][] = [
    [tf.sequential({ layers: [
      tf.layers.dense({ units: 7, inputShape: [4], activation: 'tanh' }),
      tf.layers.layerNormalization({}),
      tf.layers.dense({ units: 6 }),
      tf.layers.layerNormalization({ axis: 1, epsilon: 1e-4, scale: false }),
      tf.layers.dense({ units: 2 }),
    ] }), [4]],
    [tf.sequential({ layers: [
      tf.layers.conv2d({ filters: 3, kernelSize: 2, inputShape: [4, 5, 2] }),
      tf.layers.layerNormalization({ axis: [1, 2, 3] }),
      tf.layers.layerNormalization({ axis: -1, center: false }),
      tf.layers.layerNormalization({ axis: [2, 3] }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 3 }),
    ] }), [4, 5, 2]],
  ];
  for (const [tfModel, inputShape] of tfModels) {
    tfModel.setWeights(tfModel.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.3, 1.4, 'float32', i + 1)));
    let saved: tf.io.ModelArtifacts | undefined;
    await tfModel.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const topology = saved!.modelTopology as { config: { layers: { class_name: string; config: { axis?: unknown } }[] } };
    // TF.js writes the axes it resolved at build time: lists of non-negative axes.
    assert.ok(topology.config.layers.some((l) => l.class_name === 'LayerNormalization' && Array.isArray(l.config.axis)));
    const model = await keel.loadLayersModel(keel.io.fromMemory(saved as unknown as keel.io.ModelArtifacts));
    assert.deepEqual(model.layers.map((l) => l.getClassName()), tfModel.layers.map((l) => l.getClassName()));
    assert.equal(model.countParams(), tfModel.countParams());
    const x = randomInputs(5, inputShape, 6);
    const expected = (tfModel.predict(tf.tensor(x.dataSync(), [5, ...inputShape])) as tf.Tensor).dataSync();
    const actual = model.predict(x).dataSync();
    assert.ok(maxAbsDiff(actual, expected) < 1e-5, `max |diff| ${maxAbsDiff(actual, expected)}`);
  }
});

function groupNormModel(): keel.Sequential {
  keel.setRandomSeed(6);
  const model = keel.sequential({ layers: [
    keel.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', inputShape: [6, 6, 1] }),
    keel.layers.groupNormalization({ groups: 3 }),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.groupNormalization({ groups: -1, epsilon: 1e-5, center: false }),
    keel.layers.groupNormalization({ groups: 1, scale: false }),
    keel.layers.globalAveragePooling2d(),
    keel.layers.dense({ units: 4 }),
    keel.layers.groupNormalization({ groups: 2, gammaInitializer: keel.initializers.constant({ value: 0.5 }) }),
  ] });
  perturb(model, 7);
  return model;
}

test('a model with GroupNormalization round-trips Keel → Keel bit-exactly, under Keras\'s class name and keys', async () => {
  const model = groupNormModel();
  await saveToDir(model, async (dir, json) => {
    const layers = json.modelTopology.config.layers as { class_name: string; config: Record<string, unknown> }[];
    const gn = layers.filter((l) => l.class_name === 'GroupNormalization');
    assert.equal(gn.length, 4);
    assert.deepEqual(gn.map((l) => l.config.groups), [3, -1, 1, 2]);
    for (const key of ['groups', 'axis', 'epsilon', 'center', 'scale', 'beta_initializer', 'gamma_initializer',
      'beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint']) {
      assert.ok(key in gn[0].config, `config key ${key}`);
    }
    assert.deepEqual(gn[3].config.gamma_initializer, { class_name: 'Constant', config: { value: 0.5 } });
    const names = json.weightsManifest[0].weights.map((w: { name: string }) => w.name);
    assert.ok(names.includes(`${model.layers[1].name}/gamma`) && names.includes(`${model.layers[1].name}/beta`));
    assert.ok(!names.includes(`${model.layers[3].name}/beta`), 'center: false saves no β');
    const again = await keel.loadLayersModel(`file://${dir}/model.json`);
    assert.deepEqual(again.layers.map((l) => l.getClassName()), model.layers.map((l) => l.getClassName()));
    assert.deepEqual(again.getWeights().map((w) => [...w.dataSync()]), model.getWeights().map((w) => [...w.dataSync()]));
    const x = randomInputs(3, [6, 6, 1], 8);
    assert.deepEqual(again.predict(x).dataSync(), model.predict(x).dataSync(), 'bit-exact');
  });
});

test('TF.js itself cannot load a model with GroupNormalization: it has no such class', async () => {
  const model = groupNormModel();
  await saveToDir(model, async (_dir, json, weights) => {
    await assert.rejects(tf.loadLayersModel(fromFiles(json, weights)), /Unknown layer: GroupNormalization/);
  });
});

async function artifactsOf(model: keel.Sequential): Promise<keel.io.ModelArtifacts> {
  let saved: keel.io.ModelArtifacts | undefined;
  await model.save(keel.io.withSaveHandler(async (a) => { saved = a; }));
  return saved!;
}

test('hostile normalization configs are ModelFormatErrors, raised before any layer is built', async () => {
  const base = await artifactsOf(keel.sequential({ layers: [
    keel.layers.dense({ units: 8, inputShape: [3] }),
    keel.layers.layerNormalization(),
    keel.layers.groupNormalization({ groups: 4 }),
  ] }));
  type Layers = { class_name: string; config: Record<string, unknown> }[];
  const cases: [string, (l: Layers) => void, RegExp][] = [
    ['groups that do not divide the channels', (l) => { l[2].config.groups = 3; }, /GroupNormalization 'group_normalization(_\d+)?': expected the 8 channels of input \[null,8\] to split into 3 equal groups.*does not divide 8.*1, 2, 4, 8/],
    ['more groups than channels', (l) => { l[2].config.groups = 16; }, /expected at most 8 groups.*received groups 16/],
    ['groups 0', (l) => { l[2].config.groups = 0; }, /config\.groups: .*positive integer.*or -1/],
    ['groups not a number', (l) => { l[2].config.groups = '4'; }, /config\.groups: expected an integer/],
    ['groups -1 on Dense features', (l) => { l[2].config.groups = -1; }, /single value/],
    ['a group-norm axis other than the channels', (l) => { l[2].config.axis = 0; }, /only the last axis can hold the channels/],
    ['the batch axis normalized', (l) => { l[1].config.axis = [0, 1]; }, /the batch axis 0 cannot be normalized/],
    ['an axis beyond the rank', (l) => { l[1].config.axis = 2; }, /expected the last axes of inputs of rank 2/],
    ['repeated axes', (l) => { l[1].config.axis = [1, 1]; }, /distinct axes/],
    ['an axis that is not an integer', (l) => { l[1].config.axis = 0.5; }, /config\.axis: expected an integer/],
    ['epsilon 0', (l) => { l[1].config.epsilon = 0; }, /config\.epsilon: expected a number > 0/],
    ['center not a boolean', (l) => { l[2].config.center = 'yes'; }, /config\.center: expected true or false/],
    ['a regularizer', (l) => { l[2].config.gamma_regularizer = { class_name: 'L2', config: { l2: 0.01 } }; }, /gamma_regularizer/],
  ];
  for (const [what, damage, message] of cases) {
    const artifacts = structuredClone(base);
    damage((artifacts.modelTopology as { config: { layers: Layers } }).config.layers);
    await assert.rejects(keel.loadLayersModel(keel.io.fromMemory(artifacts)), { name: 'ModelFormatError', message }, what);
  }
  // A manifest that disagrees with the layers (γ of the wrong size) is refused too.
  const artifacts = structuredClone(base);
  const spec = artifacts.weightSpecs!.find((w) => w.name.endsWith('layer_normalization/gamma') || /layer_normalization(_\d+)?\/gamma$/.test(w.name))!;
  spec.shape = [7];
  await assert.rejects(keel.loadLayersModel(keel.io.fromMemory(artifacts)), { name: 'ModelFormatError' });
});
