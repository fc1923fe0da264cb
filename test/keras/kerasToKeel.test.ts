/**
 * Keel loads a .keras file Keras 3 saved (a small CNN with BN, trained one step in Keras, one BN
 * frozen, non-default momentum and epsilon) and predicts what Keras predicted within 1e-5, both
 * with loadKerasModel and with keel.loadLayersModel('keras://...'); the layers keep Keras's
 * momentum, epsilon and trainable flags.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as keel from 'keel';
import { loadKerasModel, registerKerasIO } from 'keel-keras';
import { kerasAvailable, maxAbsDiff, needKeras, readFloats, runPython, scratch, writeFloats } from './python.js';

interface KerasInfo { layers: { name: string; class: string; trainable: boolean; momentum?: number; epsilon?: number }[] }

const shape = [5, 12, 12];
let saved: { file: string; predicted: Float32Array; info: KerasInfo; x: keel.Tensor } | undefined;
const { dir, done } = scratch();
process.on('exit', done);

before(async () => {
  if (!kerasAvailable()) return;
  const random = new keel.Random(21);
  const x = keel.tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => random.uniform(0, 1)), shape);
  writeFloats(join(dir, 'x.bin'), x.dataSync() as Float32Array);
  const file = join(dir, 'keras_cnn.keras');
  await runPython('keras_side.py', ['make', file, join(dir, 'x.bin'), shape.join(','), join(dir, 'y.bin'), join(dir, 'info.json')], 150_000);
  saved = { file, x, predicted: readFloats(join(dir, 'y.bin')), info: JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8')) };
});

function checkModel(model: keel.LayersModel): void {
  const { predicted, info, x } = saved!;
  const ours = model.predict(x).dataSync();
  assert.ok(maxAbsDiff(ours, predicted) <= 1e-5, `predictions differ by ${maxAbsDiff(ours, predicted)}`);
  assert.deepEqual(model.layers.map((l) => [l.name, l.getClassName(), l.trainable]), info.layers.map((l) => [l.name, l.class, l.trainable]));
  model.layers.forEach((layer, i) => {
    if (layer instanceof keel.layers.BatchNormalization) {
      assert.deepEqual([layer.momentum, layer.epsilon], [info.layers[i].momentum, info.layers[i].epsilon], layer.name);
    }
  });
  const frozen = model.layers.filter((l) => !l.trainable);
  assert.equal(frozen.length, 1);
  assert.ok(frozen[0] instanceof keel.layers.BatchNormalization);
}

test('Keel loads a CNN Keras 3 trained one step and saved, and predicts within 1e-5 of Keras', { timeout: 180_000 }, async (t) => {
  if (!needKeras(t)) return;
  checkModel(await loadKerasModel(saved!.file));
  checkModel(await loadKerasModel(new Uint8Array(readFileSync(saved!.file))));
});

test("keel.loadLayersModel('keras://...') loads the same file once registerKerasIO() was called", { timeout: 180_000 }, async (t) => {
  if (!needKeras(t)) return;
  registerKerasIO();
  const model = await keel.loadLayersModel(`keras://${saved!.file}`);
  checkModel(model);
  // The BN statistics Keras trained one step are what Keel now holds (not the initial 0 and 1).
  const stats = model.layers[2].weights.find((w) => w.shortName === 'moving_variance')!.read().dataSync();
  assert.ok([...stats].some((v) => Math.abs(v - 1) > 1e-4));
});
