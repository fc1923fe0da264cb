/**
 * model.save('file://DIR') and keel.loadLayersModel('file://DIR/model.json'): the files TF.js's
 * format prescribes, a bit-exact round trip, and atomic saves (a failed or interrupted save leaves
 * the previous model loadable).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import { randomInputs, randomizeBatchNorm, seedModel, type Variant } from './helpers.js';
import { testOnEveryBackend } from '../helpers.js';

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-io-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const variant of ['seed', 'seed-before'] as Variant[]) {
  testOnEveryBackend(`the ${variant} model round-trips bit-exact through model.json + weights.bin`, () =>
    withTempDir(async (dir) => {
      const model = seedModel(variant);
      randomizeBatchNorm(model, 4);
      (model.layers[1] as keel.layers.BatchNormalization).trainable = false; // a frozen layer stays frozen
      const result = await model.save(`file://${dir}`);
      assert.equal(result.modelArtifactsInfo.weightDataBytes, 4 * model.countParams());
      assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin']);
      const loaded = await keel.loadLayersModel(`file://${dir}/model.json`);
      assert.equal(loaded.name, model.name);
      assert.deepEqual(loaded.layers.map((l) => l.name), model.layers.map((l) => l.name));
      assert.deepEqual(loaded.layers.map((l) => l.getConfig()), model.layers.map((l) => l.getConfig()));
      assert.deepEqual(loaded.weights.map((v) => v.name), model.weights.map((v) => v.name));
      const [a, b] = [model.getWeights(), loaded.getWeights()];
      a.forEach((w, i) => assert.deepEqual(b[i].dataSync(), w.dataSync(), `weight ${model.weights[i].name}`));
      const x = randomInputs(8, [28, 28], 5);
      assert.deepEqual(loaded.predict(x).dataSync(), model.predict(x).dataSync());
      // A loaded model trains (optimizer state is not saved: compile again).
      loaded.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
      await loaded.fit(x, keel.tensor([0, 1, 2, 3, 4, 5, 6, 7], [8]), { epochs: 1, verbose: 0 });
    }));
}

test('model.json is what TF.js writes: format, generator, Keras class names, snake_case configs, manifest', () =>
  withTempDir(async (dir) => {
    const model = seedModel('seed-before', [28, 28], [30, 20]);
    await model.save(`file://${dir}`);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.match(json.generatedBy, /^Keel /);
    assert.equal(json.convertedBy, null);
    assert.equal(json.modelTopology.class_name, 'Sequential');
    assert.equal(json.modelTopology.keras_version, 'tfjs-layers 4.22.0');
    assert.equal(json.modelTopology.backend, 'tensor_flow.js');
    const layers = json.modelTopology.config.layers;
    assert.deepEqual(layers.map((l: { class_name: string }) => l.class_name), [
      'Flatten', 'BatchNormalization', 'Dense', 'BatchNormalization', 'Activation', 'Dense', 'BatchNormalization', 'Activation', 'Dense',
    ]);
    assert.deepEqual(layers[0].config.batch_input_shape, [null, 28, 28]);
    assert.equal(layers[2].config.use_bias, false);
    assert.deepEqual(layers[2].config.kernel_initializer, {
      class_name: 'VarianceScaling', config: { scale: 2, mode: 'fan_in', distribution: 'truncated_normal', seed: null },
    });
    assert.deepEqual(Object.keys(layers[1].config).sort(), [
      'axis', 'beta_constraint', 'beta_initializer', 'beta_regularizer', 'center', 'dtype', 'epsilon', 'gamma_constraint',
      'gamma_initializer', 'gamma_regularizer', 'momentum', 'moving_mean_initializer', 'moving_variance_initializer',
      'name', 'scale', 'trainable',
    ]);
    assert.equal(json.weightsManifest.length, 1);
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    const specs = json.weightsManifest[0].weights;
    assert.deepEqual(specs.map((s: { name: string }) => s.name), model.weights.map((v) => v.name));
    assert.deepEqual(specs[2], { name: model.layers[2].name + '/kernel', shape: [784, 30], dtype: 'float32' });
    const bytes = (await readFile(join(dir, 'weights.bin'))).byteLength;
    assert.equal(bytes, 4 * model.countParams());
  }));

test('saving again replaces the model atomically and leaves no temporary file behind', () =>
  withTempDir(async (dir) => {
    const first = seedModel('seed', [4, 4], [6, 5]);
    const second = seedModel('seed-before', [4, 4], [7, 3]);
    await first.save(`file://${dir}`);
    await second.save(`file://${dir}`);
    assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin']);
    const loaded = await keel.loadLayersModel(`file://${dir}`);
    assert.equal(loaded.countParams(), second.countParams());
  }));

test('a save interrupted between its two renames: loading falls back to the intact previous model', () =>
  withTempDir(async (dir) => {
    const previous = seedModel('seed', [4, 4], [6, 5]);
    randomizeBatchNorm(previous, 1);
    await previous.save(`file://${dir}`);
    const other = join(dir, 'other');
    await seedModel('seed', [4, 4], [6, 5]).save(`file://${other}`); // same shapes, other weights
    // The state a crash leaves after the weights were renamed into place but before model.json was.
    await link(join(dir, 'model.json'), join(dir, 'model.json.prev'));
    await link(join(dir, 'weights.bin'), join(dir, 'weights.bin.prev'));
    await rename(join(other, 'weights.bin'), join(dir, 'weights.bin'));
    await writeFile(join(dir, '.model.json.123-abcd.tmp'), '{"half": ');
    const loaded = await keel.loadLayersModel(`file://${dir}/model.json`);
    const x = randomInputs(3, [4, 4], 2);
    assert.deepEqual(loaded.predict(x).dataSync(), previous.predict(x).dataSync());
    // Without the previous pair, the mismatch is an error, never a model with the wrong weights.
    await rm(join(dir, 'model.json.prev'));
    await assert.rejects(keel.loadLayersModel(`file://${dir}`), { name: 'ModelFormatError', message: /does not match the CRC-32/ });
  }));

test('a save that fails midway leaves the previous model loadable', () =>
  withTempDir(async (dir) => {
    const previous = seedModel('seed', [4, 4], [6, 5]);
    await previous.save(`file://${dir}/m`);
    // model.json cannot be replaced (a folder is in the way of the target name).
    await rm(join(dir, 'm', 'model.json'));
    await mkdir(join(dir, 'm', 'model.json'));
    await writeFile(join(dir, 'm', 'model.json', 'x'), 'x');
    await assert.rejects(seedModel('seed', [4, 4], [6, 5]).save(`file://${dir}/m`));
    const names = (await readdir(join(dir, 'm'))).filter((n) => n.endsWith('.tmp'));
    assert.deepEqual(names, []);
  }));

test('bad destinations and sources say what was expected', async () => {
  const model = seedModel('seed', [4, 4], [6, 5]);
  await assert.rejects(model.save('ftp://host/x'), { name: 'ValueError', message: /known scheme \(file:\/\/\).*Example: 'file:\/\/\.\/my-model'/ });
  await assert.rejects(model.save({} as keel.io.IOHandler), { name: 'ValueError', message: /IOHandler with a save\(\) method/ });
  await assert.rejects(keel.loadLayersModel('file:///nonexistent-keel-dir/model.json'), { name: 'ValueError', message: /no model file at/ });
});

test('reads the layout of tensorflowjs_converter output for Keras 2 (model_config, InputLayer, named initializers)', async () => {
  const topology = {
    keras_version: '2.15.0', backend: 'tensorflow',
    model_config: { class_name: 'Sequential', config: { name: 'sequential', layers: [
      { class_name: 'InputLayer', config: { batch_input_shape: [null, 2, 2], dtype: 'float32', sparse: false, ragged: false, name: 'flatten_input' } },
      { class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: 'float32', data_format: 'channels_last' } },
      { class_name: 'BatchNormalization', config: { name: 'bn', trainable: true, dtype: 'float32', axis: [1], momentum: 0.99, epsilon: 0.001,
        center: true, scale: true, beta_initializer: { class_name: 'Zeros', config: {} }, gamma_initializer: { class_name: 'Ones', config: {} },
        moving_mean_initializer: { class_name: 'Zeros', config: {} }, moving_variance_initializer: { class_name: 'Ones', config: {} },
        beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null } },
      { class_name: 'Dense', config: { name: 'dense', trainable: true, dtype: 'float32', units: 2, activation: 'softmax', use_bias: true,
        kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } }, bias_initializer: { class_name: 'Zeros', config: {} },
        kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null } },
    ] } },
    training_config: { loss: 'sparse_categorical_crossentropy' },
  };
  const specs: keel.io.WeightSpec[] = [
    { name: 'bn/gamma', shape: [4], dtype: 'float32' }, { name: 'bn/beta', shape: [4], dtype: 'float32' },
    { name: 'bn/moving_mean', shape: [4], dtype: 'float32' }, { name: 'bn/moving_variance', shape: [4], dtype: 'float32' },
    { name: 'dense/kernel', shape: [4, 2], dtype: 'float32' }, { name: 'dense/bias', shape: [2], dtype: 'float32' },
  ];
  const values = Float32Array.from({ length: 26 }, (_, i) => 0.5 + i / 10);
  const model = await keel.loadLayersModel(keel.io.fromMemory({ modelTopology: topology, weightSpecs: specs, weightData: values.buffer }));
  assert.deepEqual(model.layers.map((l) => l.getClassName()), ['Flatten', 'BatchNormalization', 'Dense']);
  assert.deepEqual(model.inputShape, [2, 2]);
  const dense = model.layers[2] as keel.layers.Dense;
  assert.deepEqual(dense.getWeights()[1].dataSync(), values.subarray(24));
  assert.equal((dense.getConfig().kernel_initializer as { class_name: string }).class_name, 'GlorotUniform');
});

test('saving under a folder that cannot be made ends with a clear error instead of hanging (Node 20 spins on /proc)', { timeout: 20_000 }, async () => {
  const model = keel.sequential({ layers: [keel.layers.dense({ units: 2, inputShape: [3] })] });
  await assert.rejects(model.save('file:///proc/keel-cannot-exist/model'), {
    name: 'ValueError', message: /save: cannot create the folder '\/proc\/keel-cannot-exist' \(ENOENT\); choose a destination you can write to\./,
  });
});
