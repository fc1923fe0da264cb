/**
 * Keel → .keras → Keel gives back the same model bit for bit, through bytes and through keras://
 * URLs; saves are atomic; what Keras 3 cannot hold is refused on export. (Agreement with Keras
 * itself is checked in keelToKeras.test.ts and kerasToKeel.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as keel from 'keel';
import { unzipSync } from 'fflate';
import { kerasPath, loadKerasModel, registerKerasIO, toKeras } from 'keel-keras';
import { scratch } from './python.js';
import { sameModel } from './models.js';

function trainedCnn(): keel.Sequential {
  keel.setRandomSeed(31);
  const model = keel.zoo.buildModel('cnn', { inputShape: [12, 12] });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
  const random = new keel.Random(4);
  const xs = keel.tensor(new Float32Array(8 * 144).map(() => random.uniform(0, 1)), [8, 12, 12]);
  model.trainOnBatch(xs, keel.tensor(new Float32Array(8).map((_, i) => i % 10), [8]));
  model.layers[2].trainable = false;
  return model;
}

test('toKeras then loadKerasModel gives the same layers, flags and weights, bit for bit', async () => {
  const model = trainedCnn();
  const bytes = await toKeras(model);
  const again = await loadKerasModel(bytes);
  sameModel(model, again);
  const files = unzipSync(bytes);
  assert.deepEqual(Object.keys(files), ['metadata.json', 'config.json', 'model.weights.h5']);
  const metadata = JSON.parse(new TextDecoder().decode(files['metadata.json']));
  assert.match(metadata.keras_version, /^3\./);
  const bn = JSON.parse(new TextDecoder().decode(files['config.json'])).config.layers[3];
  assert.equal(bn.class_name, 'BatchNormalization');
  assert.equal(bn.config.trainable, false);
  assert.equal(bn.config.momentum, 0.99);
  assert.deepEqual(bn.build_config, { input_shape: [null, 12, 12, 32] });
});

test('model.save and keel.loadLayersModel with keras:// URLs; the save is atomic and leaves no temporary file', async () => {
  registerKerasIO();
  registerKerasIO(); // harmless twice
  const { dir, done } = scratch();
  try {
    const model = trainedCnn();
    const url = `keras://${join(dir, 'model.keras')}`;
    await model.save(url);
    sameModel(model, await keel.loadLayersModel(url));
    // A second save replaces the first whole, through a temporary file renamed over it.
    const other = keel.zoo.buildModel('cnn', { inputShape: [12, 12] });
    await other.save(url);
    sameModel(other, await keel.loadLayersModel(url));
    assert.deepEqual(readdirSync(dir), ['model.keras']);
    // A save that cannot be written throws a SaveError and leaves the previous file as it was.
    const before = readFileSync(join(dir, 'model.keras'));
    await assert.rejects(model.save(`keras://${join(dir, 'missing-folder', 'model.keras')}`), (e: unknown) =>
      e instanceof keel.SaveError && /cannot save '.*missing-folder\/model\.keras': ENOENT.*To fix: create the folder first/.test(e.message));
    writeFileSync(join(dir, 'blocker'), 'a file, not a folder');
    await assert.rejects(model.save(`keras://${join(dir, 'blocker', 'model.keras')}`), keel.SaveError);
    assert.deepEqual(readFileSync(join(dir, 'model.keras')), before);
    assert.ok(!readdirSync(dir).some((n) => n.endsWith('.tmp')));
  } finally {
    done();
  }
});

test('keras:// paths must end in .keras, and a missing file is a ModelFormatError naming it', async () => {
  assert.throws(() => kerasPath('keras://./model.h5'), (e: unknown) => e instanceof keel.ValueError && /expected a path ending in \.keras .* received 'keras:\/\/\.\/model\.h5'/.test(e.message));
  assert.equal(kerasPath('keras:///tmp/m.keras'), '/tmp/m.keras');
  assert.equal(kerasPath('keras://./out/m.keras'), './out/m.keras');
  const missing = join(scratch().dir, 'nothing.keras');
  assert.ok(!existsSync(missing));
  await assert.rejects(loadKerasModel(missing), (e: unknown) => e instanceof keel.ModelFormatError && /cannot read '.*nothing\.keras' \(ENOENT\)/.test(e.message));
});

test('export refuses what Keras 3 cannot hold: Ghost BN, and what is not a Keel model', async () => {
  const ghost = keel.sequential({ layers: [keel.layers.dense({ units: 4, inputShape: [3] }), keel.layers.batchNormalization({ virtualBatchSize: 8, name: 'ghost' })] });
  await assert.rejects(toKeras(ghost), (e: unknown) =>
    e instanceof keel.ModelFormatError && /layer 'ghost' is a Ghost BatchNormalization \(virtualBatchSize 8\), which Keras 3 does not have/.test(e.message));
  await assert.rejects(toKeras({} as keel.Sequential), (e: unknown) => e instanceof keel.ValueError && /expected a Keel model \(keel.sequential or keel.model\), received object/.test(e.message));
});
