/**
 * Keras 3 loads the .keras files Keel writes and computes what Keel computes: predictions (the
 * moving statistics) within 1e-5, and one training-mode forward (the batch statistics, then the
 * moving averages updated with Keras's momentum) within 1e-5, for the `cnn` zoo model, the seed
 * MLP and a model of every other layer class; and it sees the same momentum, epsilon and frozen layers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as keel from 'keel';
import { toKeras } from 'keel-keras';
import { maxAbsDiff, needKeras, readFloats, runPython, scratch, writeFloats } from './python.js';
import { inputs, randomizeNormalization } from './models.js';

interface KerasInfo { layers: { name: string; class: string; trainable: boolean; momentum?: number; epsilon?: number; renorm?: boolean; weights: number[][] }[] }

type KerasResult = {
  predicted: Float32Array; trained: Float32Array; info: KerasInfo;
  stats: Record<string, { moving_mean: number[]; moving_variance: number[] }>;
};

/**
 * Saves each model with toKeras and runs them all in one Keras process (inference, then one
 * training forward); returns what Keras computed for each.
 */
async function throughKeras(cases: { model: keel.Sequential; x: keel.Tensor }[]): Promise<KerasResult[]> {
  const { dir, done } = scratch();
  try {
    const jobs = await Promise.all(cases.map(async ({ model, x }, i) => {
      const file = (name: string) => join(dir, `${i}-${name}`);
      writeFileSync(file('model.keras'), await toKeras(model));
      writeFloats(file('x.bin'), x.dataSync() as Float32Array);
      return { model: file('model.keras'), inputs: file('x.bin'), shape: x.shape, out: file('y.bin'), info: file('info.json'), train_out: file('train.bin'), stats: file('stats.json') };
    }));
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    await runPython('keras_side.py', ['run', join(dir, 'jobs.json')], 150_000);
    return jobs.map((job) => ({
      predicted: readFloats(job.out),
      trained: readFloats(job.train_out),
      info: JSON.parse(readFileSync(job.info, 'utf8')) as KerasInfo,
      stats: JSON.parse(readFileSync(job.stats, 'utf8')),
    }));
  } finally {
    done();
  }
}

/** Keel's own training-mode forward, layer by layer (each BN commits its moving statistics, as Keras's call does). */
function trainingForward(model: keel.Sequential, x: keel.Tensor): Float32Array {
  let y = x;
  for (const layer of model.layers) y = layer.apply(y, { training: true });
  return y.dataSync() as Float32Array;
}

function checkAgainstKeras(model: keel.Sequential, x: keel.Tensor, keras: KerasResult): KerasInfo {
  const predicted = model.predict(x).dataSync();
  assert.ok(maxAbsDiff(keras.predicted, predicted) <= 1e-5, `predictions differ by ${maxAbsDiff(keras.predicted, predicted)}`);
  const trained = trainingForward(model, x);
  assert.ok(maxAbsDiff(keras.trained, trained) <= 1e-5, `training forwards differ by ${maxAbsDiff(keras.trained, trained)}`);
  const bns = model.layers.filter((l) => l instanceof keel.layers.BatchNormalization);
  assert.equal(Object.keys(keras.stats).length, bns.length);
  for (const bn of bns) {
    const [mean, variance] = bn.weights.filter((w) => w.shortName === 'moving_mean' || w.shortName === 'moving_variance').map((w) => w.read().dataSync());
    const theirs = keras.stats[bn.name];
    assert.ok(maxAbsDiff(theirs.moving_mean, mean) <= 1e-5, `${bn.name} moving_mean differs by ${maxAbsDiff(theirs.moving_mean, mean)}`);
    assert.ok(maxAbsDiff(theirs.moving_variance, variance) <= 1e-5, `${bn.name} moving_variance differs`);
  }
  // Keras sees every layer under its name, class, trainability and weight shapes.
  assert.deepEqual(keras.info.layers.map((l) => [l.name, l.class, l.trainable]), model.layers.map((l) => [l.name, l.getClassName(), l.trainable]));
  keras.info.layers.forEach((l, i) => assert.deepEqual(l.weights.slice().sort(), model.layers[i].weights.map((w) => [...w.shape]).sort()));
  return keras.info;
}

function cnnModel(): keel.Sequential {
  keel.setRandomSeed(11);
  const model = keel.zoo.buildModel('cnn');
  randomizeNormalization(model, 5);
  // The second BN is frozen: Keras must see it frozen, run it in inference mode and keep its statistics.
  model.layers.filter((l) => l instanceof keel.layers.BatchNormalization)[1].trainable = false;
  return model;
}

function seedModel(): keel.Sequential {
  keel.setRandomSeed(12);
  const model = keel.sequential({ layers: [
    keel.layers.flatten({ inputShape: [28, 28] }),
    keel.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-2 }),
    keel.layers.dense({ units: 300, activation: 'relu', kernelInitializer: 'heNormal' }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
  randomizeNormalization(model, 6);
  return model;
}

function everyLayerModel(): keel.Sequential {
  keel.setRandomSeed(13);
  const model = keel.sequential({ layers: [
    keel.layers.reshape({ targetShape: [10, 10, 1], inputShape: [100] }),
    keel.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'elu' }),
    keel.layers.batchNormalization({ renorm: true, renormClipping: { rmax: 3, rmin: 1 / 3, dmax: 5 }, renormMomentum: 0.9 }),
    keel.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 1 }),
    keel.layers.batchNormalization({ center: false, momentum: 0.8 }),
    keel.layers.groupNormalization({ groups: 4, epsilon: 1e-4 }),
    keel.layers.averagePooling2d({ poolSize: 2 }),
    keel.layers.activation({ activation: 'swish' }),
    keel.layers.layerNormalization({ epsilon: 1e-5 }),
    keel.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
    keel.layers.globalMaxPooling2d(),
    keel.layers.dense({ units: 6, activation: 'leakyRelu' }),
    keel.layers.batchNormalization({ scale: false }),
    keel.layers.dense({ units: 3, activation: 'sigmoid' }),
  ] });
  randomizeNormalization(model, 7);
  return model;
}

const cases = [
  { model: cnnModel(), x: inputs([4, 28, 28], 1) },
  { model: seedModel(), x: inputs([8, 28, 28], 2) },
  { model: everyLayerModel(), x: inputs([6, 100], 3) },
];
let results: Promise<KerasResult[]> | undefined;
/** Keras's results for all three models, from one Python process started by the first test that asks. */
const kerasResults = () => (results ??= throughKeras(cases));

test('Keras 3 loads the cnn zoo model Keel wrote (one BN frozen) and predicts and trains a forward within 1e-5', { timeout: 180_000 }, async (t) => {
  if (!needKeras(t)) return;
  const info = checkAgainstKeras(cases[0].model, cases[0].x, (await kerasResults())[0]);
  assert.deepEqual(info.layers.filter((l) => !l.trainable).map((l) => l.name), [cases[0].model.layers.filter((l) => !l.trainable)[0].name]);
});

test('Keras 3 loads the seed MLP Keel wrote, with BN momentum 0.9 and epsilon 1e-2 kept exactly', { timeout: 180_000 }, async (t) => {
  if (!needKeras(t)) return;
  const info = checkAgainstKeras(cases[1].model, cases[1].x, (await kerasResults())[1]);
  const bn = info.layers.filter((l) => l.class === 'BatchNormalization');
  assert.deepEqual(bn.map((l) => [l.momentum, l.epsilon]), [[0.9, 1e-2], [0.99, 1e-3], [0.99, 1e-3]]);
});

test('Keras 3 loads every other layer class Keel writes: renorm, BN without centre, Group and Layer Normalization, depthwise, pooling', { timeout: 180_000 }, async (t) => {
  if (!needKeras(t)) return;
  const info = checkAgainstKeras(cases[2].model, cases[2].x, (await kerasResults())[2]);
  assert.equal(info.layers.find((l) => l.class === 'BatchNormalization')!.renorm, true);
});
