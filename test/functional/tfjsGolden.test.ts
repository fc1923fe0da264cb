/**
 * Golden values from TF.js (CPU backend) with the same weights, on every backend: the forward of
 * the merge layers, and one SGD step of a small residual CNN with BN (the loss, every weight after
 * the step, the step itself, the moving statistics) and its predictions afterwards.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { relErr, testOnEveryBackend } from '../helpers.js';

await tf.setBackend('cpu');

const randomArray = (n: number, random: Random, scale = 1) => Float32Array.from({ length: n }, () => scale * random.normal());

const mergeCases: { what: string; keel: () => keel.layers.Layer; tf: () => tf.layers.Layer; shapes: number[][] }[] = [
  { what: 'Add of 3', keel: () => keel.layers.add(), tf: () => tf.layers.add(), shapes: [[2, 3, 4], [2, 3, 4], [2, 3, 4]] },
  { what: 'Multiply of 2', keel: () => keel.layers.multiply(), tf: () => tf.layers.multiply(), shapes: [[3, 5], [3, 5]] },
  { what: 'Multiply of 3', keel: () => keel.layers.multiply(), tf: () => tf.layers.multiply(), shapes: [[2, 2, 3], [2, 2, 3], [2, 2, 3]] },
  { what: 'Average of 2', keel: () => keel.layers.average(), tf: () => tf.layers.average(), shapes: [[2, 4, 4, 3], [2, 4, 4, 3]] },
  { what: 'Concatenate (last axis)', keel: () => keel.layers.concatenate(), tf: () => tf.layers.concatenate(), shapes: [[2, 3, 2], [2, 3, 5]] },
  {
    what: 'Concatenate axis 1 of 3', keel: () => keel.layers.concatenate({ axis: 1 }), tf: () => tf.layers.concatenate({ axis: 1 }),
    shapes: [[2, 1, 3, 2], [2, 4, 3, 2], [2, 2, 3, 2]],
  },
];

// TF.js 4.22's Concatenate layer fails on a negative axis other than -1 (its op is right): the op is the golden here.
testOnEveryBackend('golden (TF.js op): Concatenate axis -2 forward', () => {
  const random = new Random(22);
  const shapes = [[3, 2, 4], [3, 3, 4]];
  const xs = shapes.map((s) => randomArray(s.reduce((a, b) => a * b, 1), random));
  const got = keel.layers.concatenate({ axis: -2 }).apply(xs.map((x, i) => keel.tensor(x, shapes[i])));
  const expected = tf.concat(xs.map((x, i) => tf.tensor(x, shapes[i])), 1);
  assert.deepEqual(got.shape, expected.shape);
  assert.deepEqual(Array.from(got.dataSync()), Array.from(expected.dataSync()));
});

for (const c of mergeCases) {
  testOnEveryBackend(`golden (TF.js): ${c.what} forward`, () => {
    const random = new Random(21);
    const xs = c.shapes.map((s) => randomArray(s.reduce((a, b) => a * b, 1), random));
    const got = c.keel().apply(xs.map((x, i) => keel.tensor(x, c.shapes[i])));
    const expected = c.tf().apply(xs.map((x, i) => tf.tensor(x, c.shapes[i]))) as tf.Tensor;
    assert.deepEqual(got.shape, expected.shape);
    assert.ok(relErr(got.dataSync(), expected.dataSync()) < 1e-6, `${c.what}: relative error ${relErr(got.dataSync(), expected.dataSync())}`);
  });
}

/**
 * The same residual CNN in both libraries: conv → BN → relu, then a block conv → BN → relu → conv →
 * BN added to its input (fan-out: the block input feeds the block and the shortcut), a projection
 * block (stride 2, 1×1 conv + BN on the shortcut), a concatenate of pooled features, then Dense softmax.
 */
function build<T>(lib: {
  input: (shape: number[]) => T; conv: (f: number, k: number, s: number, t: T) => T; bn: (t: T) => T; relu: (t: T) => T;
  add: (a: T, b: T) => T; concat: (a: T, b: T) => T; gap: (t: T) => T; gmp: (t: T) => T; dense: (t: T) => T;
}): { input: T; output: T } {
  const x = lib.input([6, 6, 2]);
  const h = lib.relu(lib.bn(lib.conv(4, 3, 1, x)));
  const y = lib.bn(lib.conv(4, 3, 1, lib.relu(lib.bn(lib.conv(4, 3, 1, h)))));
  const r1 = lib.relu(lib.add(y, h));
  const z = lib.bn(lib.conv(6, 3, 1, lib.relu(lib.bn(lib.conv(6, 3, 2, r1)))));
  const r2 = lib.relu(lib.add(z, lib.bn(lib.conv(6, 1, 2, r1))));
  return { input: x, output: lib.dense(lib.concat(lib.gap(r2), lib.gmp(r2))) };
}

function keelResidual(): keel.LayersModel {
  const L = keel.layers;
  const { input, output } = build<keel.SymbolicTensor>({
    input: (shape) => keel.input({ shape }),
    conv: (filters, kernelSize, strides, t) => L.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false }).apply(t),
    bn: (t) => L.batchNormalization().apply(t),
    relu: (t) => L.activation({ activation: 'relu' }).apply(t),
    add: (a, b) => L.add().apply([a, b]),
    concat: (a, b) => L.concatenate().apply([a, b]),
    gap: (t) => L.globalAveragePooling2d().apply(t),
    gmp: (t) => L.globalMaxPooling2d().apply(t),
    dense: (t) => L.dense({ units: 3, activation: 'softmax' }).apply(t),
  });
  return keel.model({ inputs: input, outputs: output });
}

function tfResidual(): tf.LayersModel {
  const L = tf.layers;
  const as = (t: tf.SymbolicTensor | tf.SymbolicTensor[] | tf.Tensor | tf.Tensor[]) => t as tf.SymbolicTensor;
  const { input, output } = build<tf.SymbolicTensor>({
    input: (shape) => tf.input({ shape }),
    conv: (filters, kernelSize, strides, t) => as(L.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false }).apply(t)),
    bn: (t) => as(L.batchNormalization().apply(t)),
    relu: (t) => as(L.activation({ activation: 'relu' }).apply(t)),
    add: (a, b) => as(L.add().apply([a, b])),
    concat: (a, b) => as(L.concatenate().apply([a, b])),
    gap: (t) => as(L.globalAveragePooling2d({}).apply(t)),
    gmp: (t) => as(L.globalMaxPooling2d({}).apply(t)),
    dense: (t) => as(L.dense({ units: 3, activation: 'softmax' }).apply(t)),
  });
  return tf.model({ inputs: input, outputs: output });
}

testOnEveryBackend('TF.js agrees on one SGD trainOnBatch of a residual CNN with BN (loss, weights, moving statistics)', async () => {
  keel.setRandomSeed(5);
  const model = keelResidual();
  const reference = tfResidual();
  // Both list the weights in the same order (TF.js's), with the same shapes.
  assert.deepEqual(reference.getWeights().map((w) => w.shape), model.getWeights().map((w) => [...w.shape]));
  const random = new Random(17);
  const weights = model.weights.map((v) => {
    const n = v.value.size;
    const values = v.shortName === 'gamma' ? Float32Array.from({ length: n }, () => 1 + 0.2 * random.normal())
      : v.shortName === 'moving_variance' ? Float32Array.from({ length: n }, () => 0.5 + random.next())
        : v.shortName === 'kernel' ? randomArray(n, random, 0.4) : randomArray(n, random, 0.1);
    return keel.tensor(values, v.shape);
  });
  model.setWeights(weights);
  reference.setWeights(weights.map((w) => tf.tensor(w.dataSync(), [...w.shape])));
  const learningRate = 0.1;
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate }), loss: 'sparseCategoricalCrossentropy' });
  reference.compile({ optimizer: tf.train.sgd(learningRate), loss: 'sparseCategoricalCrossentropy' });

  const n = 8;
  const x = randomArray(n * 72, new Random(3));
  const y = Float32Array.from({ length: n }, (_, i) => i % 3);
  const keelLoss = (await model.trainOnBatch(keel.tensor(x, [n, 6, 6, 2]), keel.tensor(y))) as number;
  const tfLoss = (await reference.trainOnBatch(tf.tensor(x, [n, 6, 6, 2]), tf.tensor(y))) as number;
  assert.ok(Math.abs(keelLoss - tfLoss) / tfLoss < 1e-5, `loss: keel ${keelLoss} vs TF.js ${tfLoss}`);

  const names = model.weights.map((v) => v.name);
  const tfAfter = reference.getWeights();
  model.getWeights().forEach((w, i) => {
    const got = w.dataSync();
    const expected = tfAfter[i].dataSync();
    const before = weights[i].dataSync();
    assert.ok(relErr(got, expected) < 1e-5, `${names[i]}: relative error ${relErr(got, expected)}`);
    const stepKeel = got.map((v, j) => v - before[j]);
    const stepTf = expected.map((v, j) => v - before[j]);
    assert.ok(stepTf.some((v) => Math.abs(v) > 1e-4), `${names[i]}: the step moves it`);
    assert.ok(relErr(stepKeel, stepTf) < 1e-3, `${names[i]} update: relative error ${relErr(stepKeel, stepTf)}`);
  });

  const p = model.predict(keel.tensor(x, [n, 6, 6, 2])).dataSync();
  const q = (reference.predict(tf.tensor(x, [n, 6, 6, 2])) as tf.Tensor).dataSync();
  assert.ok(relErr(p, q) < 1e-5, `predict: relative error ${relErr(p, q)}`);
});
