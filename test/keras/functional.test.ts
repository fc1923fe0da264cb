/**
 * Functional models both ways: Keras 3 loads Keel's ResNet-20 and a two-input model of every merge
 * layer and predicts within 1e-5 of Keel; Keel loads a two-input residual CNN with BN that Keras
 * trained one step and predicts within 1e-5 of Keras; Keel → .keras → Keel is bit for bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as keel from 'keel';
import { loadKerasModel, toKeras } from 'keel-keras';
import { maxAbsDiff, needKeras, readFloats, runPython, scratch, writeFloats } from './python.js';
import { inputs, randomizeNormalization, sameModel } from './models.js';

interface KerasInfo { layers: { name: string; class: string; trainable: boolean; momentum?: number; epsilon?: number; weights: number[][] }[] }

function resnet(): keel.LayersModel {
  keel.setRandomSeed(41);
  const model = keel.zoo.buildModel('resnet');
  randomizeNormalization(model, 9);
  model.layers.filter((l) => l instanceof keel.layers.BatchNormalization)[3].trainable = false;
  return model;
}

function twoInputs(): keel.LayersModel {
  keel.setRandomSeed(42);
  const image = keel.input({ shape: [8, 8, 2], name: 'image' });
  const extra = keel.input({ shape: [3], name: 'extra' });
  const x = keel.layers.batchNormalization({ momentum: 0.9 }).apply(keel.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(image));
  const y = keel.layers.conv2d({ filters: 3, kernelSize: 1, useBias: false }).apply(image);
  const pooled = keel.layers.globalAveragePooling2d().apply(keel.layers.add().apply([x, y]));
  const e = keel.layers.dense({ units: 3, activation: 'tanh' }).apply(extra);
  const mixed = keel.layers.average().apply([pooled, keel.layers.multiply().apply([pooled, e])]);
  const joined = keel.layers.batchNormalization({ epsilon: 1e-2 }).apply(keel.layers.concatenate().apply([mixed, e]));
  const output = keel.layers.dense({ units: 4, activation: 'softmax' }).apply(joined);
  const model = keel.model({ inputs: [image, extra], outputs: output, name: 'two_inputs' });
  randomizeNormalization(model, 10);
  return model;
}

test('functional models: Keel → .keras → Keel gives the same graph, flags and weights, bit for bit', async () => {
  for (const model of [resnet(), twoInputs()]) {
    const again = await loadKerasModel(await toKeras(model));
    sameModel(model, again);
    const x = model.layers.some((l) => l.name === 'extra') ? [inputs([2, 8, 8, 2], 1), inputs([2, 3], 2)] : [inputs([2, 28, 28], 3)];
    assert.deepEqual(again.predict(x.length === 1 ? x[0] : x).dataSync(), model.predict(x.length === 1 ? x[0] : x).dataSync());
  }
});

interface Job { make?: 'functional'; model: string; inputs: unknown; shape?: readonly number[]; out: string; info: string }

const { dir, done } = scratch();
process.on('exit', done);
const toKerasCases = [
  { model: resnet(), xs: [inputs([3, 28, 28], 4)] },
  { model: twoInputs(), xs: [inputs([5, 8, 8, 2], 5), inputs([5, 3], 6)] },
];
const fromKerasInputs = [inputs([6, 10, 10, 2], 7), inputs([6, 4], 8)];
let started: Promise<Job[]> | undefined;

/**
 * One Python process for both tests (importing Keras and JAX is most of the time): it loads and
 * runs Keel's two models, and builds, trains and saves a functional model of its own.
 */
function kerasJobs(): Promise<Job[]> {
  return (started ??= (async () => {
    const jobs: Job[] = await Promise.all(toKerasCases.map(async ({ model, xs }, i) => {
      const file = (name: string) => join(dir, `${i}-${name}`);
      writeFileSync(file('model.keras'), await toKeras(model));
      xs.forEach((x, k) => writeFloats(file(`x${k}.bin`), x.dataSync() as Float32Array));
      const files = xs.map((x, k) => [file(`x${k}.bin`), x.shape]);
      return { model: file('model.keras'), inputs: files.length === 1 ? files[0][0] : files, shape: xs[0].shape, out: file('y.bin'), info: file('info.json') };
    }));
    const files = fromKerasInputs.map((x, k) => {
      writeFloats(join(dir, `f-x${k}.bin`), x.dataSync() as Float32Array);
      return [join(dir, `f-x${k}.bin`), x.shape];
    });
    jobs.push({ make: 'functional', model: join(dir, 'f.keras'), inputs: files, out: join(dir, 'f-y.bin'), info: join(dir, 'f-info.json') });
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    await runPython('keras_side.py', ['run', join(dir, 'jobs.json')], 170_000);
    return jobs;
  })());
}

test('Keras 3 loads Keel functional models (ResNet-20, and two inputs through Add, Multiply, Average, Concatenate) and predicts within 1e-5', { timeout: 180_000 }, async (t) => {
  if (!needKeras(t)) return;
  const jobs = await kerasJobs();
  toKerasCases.forEach(({ model, xs }, i) => {
    const ours = model.predict(xs.length === 1 ? xs[0] : xs).dataSync();
    const theirs = readFloats(jobs[i].out);
    assert.ok(maxAbsDiff(theirs, ours) <= 1e-5, `${model.name}: predictions differ by ${maxAbsDiff(theirs, ours)}`);
    const info = JSON.parse(readFileSync(jobs[i].info, 'utf8')) as KerasInfo;
    assert.deepEqual(info.layers.map((l) => [l.name, l.class, l.trainable]), model.layers.map((l) => [l.name, l.getClassName(), l.trainable]));
  });
});

test('Keel loads a two-input residual CNN with BN that Keras 3 trained one step, and predicts within 1e-5 of Keras', { timeout: 180_000 }, async (t) => {
  if (!needKeras(t)) return;
  const job = (await kerasJobs())[2];
  const model = await loadKerasModel(job.model);
  const theirs = readFloats(job.out);
  const ours = model.predict(fromKerasInputs).dataSync();
  assert.ok(maxAbsDiff(theirs, ours) <= 1e-5, `predictions differ by ${maxAbsDiff(theirs, ours)}`);
  const info = JSON.parse(readFileSync(job.info, 'utf8')) as KerasInfo;
  assert.deepEqual(model.layers.map((l) => [l.name, l.getClassName(), l.trainable]), info.layers.map((l) => [l.name, l.class, l.trainable]));
  const bns = model.layers.filter((l) => l instanceof keel.layers.BatchNormalization) as keel.layers.BatchNormalization[];
  assert.deepEqual(bns.map((l) => [l.momentum, l.epsilon]), info.layers.filter((l) => l.class === 'BatchNormalization').map((l) => [l.momentum, l.epsilon]));
  assert.deepEqual(model.layers.filter((l) => !l.trainable).map((l) => l.name), ['batch_normalization_1']);
});
