/**
 * The API as TF.js users call it: plain arrays where tensors are expected, evaluate's result
 * destructured under strict TypeScript, and TF.js's spellings of names (leCunNormal).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';

await tf.setBackend('cpu');

function model(metrics?: string[], seed = 5) {
  keel.setRandomSeed(seed);
  const m = keel.sequential({ layers: [
    keel.layers.dense({ units: 6, inputShape: [2, 2], activation: 'relu' }),
    keel.layers.flatten(),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  m.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics });
  return m;
}

const xNested = Array.from({ length: 12 }, (_, i) => [[Math.sin(i), Math.cos(i)], [Math.sin(2 * i), i / 12]]);
const labels = [0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 1, 2];
const weightsOf = (m: keel.Sequential) => m.getWeights().map((w) => Array.from(w.dataSync()));

test('nested arrays and typed arrays of labels go where tensors do, with the same results', async () => {
  const xTensor = keel.tensor(xNested);
  const yTensor = keel.tensor(labels);
  const [a, b] = [model(['accuracy']), model(['accuracy'])];
  const fitArgs = { epochs: 2, batchSize: 4, verbose: 0, seed: 3, validationData: [xNested.slice(0, 4), labels.slice(0, 4)] as [number[][][], number[]] };
  const ha = await a.fit(xNested, new Int32Array(labels), fitArgs);
  const hb = await b.fit(xTensor, yTensor, { ...fitArgs, validationData: [keel.tensor(xNested.slice(0, 4)), keel.tensor(labels.slice(0, 4))] });
  assert.deepEqual(ha.history, hb.history);
  assert.deepEqual(weightsOf(a), weightsOf(b));

  assert.deepEqual(await a.trainOnBatch(xNested.slice(0, 6), labels.slice(0, 6)), await b.trainOnBatch(keel.tensor(xNested.slice(0, 6)), keel.tensor(labels.slice(0, 6))));
  assert.deepEqual(weightsOf(a), weightsOf(b));
  const [la, aa] = a.evaluate(xNested, new Uint8Array(labels));
  const [lb, ab] = b.evaluate(xTensor, yTensor);
  assert.deepEqual([la.dataSync()[0], aa.dataSync()[0]], [lb.dataSync()[0], ab.dataSync()[0]]);
  assert.deepEqual(a.predict(xNested).dataSync(), b.predict(xTensor).dataSync());
  assert.deepEqual(a.predict([xNested[3]]).dataSync(), b.predict(keel.slice(xTensor, 3, 1)).dataSync());

  const ra = await keel.recomputeBatchNormStatistics(a, xNested);
  const rb = await keel.recomputeBatchNormStatistics(b, xTensor);
  assert.deepEqual(ra.map((r) => [r.count, r.mean, r.variance]), rb.map((r) => [r.count, r.mean, r.variance]));
  assert.deepEqual(weightsOf(a), weightsOf(b));
});

test('evaluate: [loss, ...metrics] with metrics, the loss alone without, and both destructure', () => {
  const withMetrics = model(['accuracy']);
  const result = withMetrics.evaluate(xNested, labels);
  assert.ok(Array.isArray(result) && result.length === 2);
  // The README's line, under strict TypeScript (this file is type-checked by npm test).
  const [loss, accuracy] = withMetrics.evaluate(xNested, labels);
  assert.ok(loss instanceof keel.Tensor && accuracy instanceof keel.Tensor);
  assert.deepEqual([loss.shape, accuracy.shape], [[], []]);
  assert.ok(accuracy.dataSync()[0] >= 0 && accuracy.dataSync()[0] <= 1);

  const lossOnly = model(undefined);
  const alone = lossOnly.evaluate(xNested, labels);
  // As in TF.js: a scalar tensor, not an array.
  assert.ok(alone instanceof keel.Tensor && !Array.isArray(alone));
  assert.deepEqual(alone.shape, []);
  const [first, second] = alone;
  assert.equal(first, alone);
  assert.equal(second, undefined);
  assert.equal(first.dataSync()[0], loss.dataSync()[0], 'same weights and data, same loss');
});

test("TF.js's spellings leCunNormal and leCunUniform are Keel's lecunNormal and lecunUniform", () => {
  const draw = (init: keel.initializers.Initializer) => Array.from(init.apply([30, 20]).dataSync());
  assert.deepEqual(draw(keel.initializers.leCunNormal({ seed: 4 })), draw(keel.initializers.lecunNormal({ seed: 4 })));
  assert.deepEqual(draw(keel.initializers.leCunUniform({ seed: 4 })), draw(keel.initializers.lecunUniform({ seed: 4 })));
  for (const [name, className] of [
    ['leCunNormal', 'LecunNormal'], ['lecunNormal', 'LecunNormal'], ['lecun_normal', 'LecunNormal'], ['LeCunNormal', 'LecunNormal'],
    ['leCunUniform', 'LecunUniform'], ['lecunUniform', 'LecunUniform'], ['lecun_uniform', 'LecunUniform'], ['LeCunUniform', 'LecunUniform'],
  ]) {
    const layer = keel.layers.dense({ units: 2, inputShape: [3], kernelInitializer: name });
    keel.sequential({ layers: [layer] });
    assert.equal((layer.getConfig().kernel_initializer as { class_name: string }).class_name, className, name);
  }
  // The variance is Keras's 1/fanIn for both spellings (fanIn = 400 here).
  const values = keel.initializers.leCunNormal({ seed: 1 }).apply([400, 200]).dataSync();
  const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
  assert.ok(Math.abs(variance * 400 - 1) < 0.03, `variance·fanIn = ${variance * 400}`);
  // The factory itself, not called, says to call it.
  assert.throws(() => keel.layers.dense({ units: 2, kernelInitializer: keel.initializers.leCunNormal as never }), {
    name: 'ValueError',
    message: /received the factory keel\.initializers\.leCunNormal; call it to make an initializer: keel\.initializers\.leCunNormal\(\)\./,
  });
  assert.throws(() => keel.layers.dense({ units: 2, kernelInitializer: 'leCunNormall' }), /Unknown initializer 'leCunNormall'.*Did you mean 'leCunNormal'\?/);
});

test('a TF.js tensor where a Keel tensor is expected says how to convert it', () => {
  const m = model(['accuracy']);
  assert.throws(() => m.predict(tf.zeros([2, 2, 2]) as never), {
    name: 'ValueError',
    message: /^predict: expected x to be a Keel Tensor, received Tensor\(shape=\[2,2,2\], dtype=float32\), a tensor of another library \(or of another copy of Keel\)\. Convert it with keel\.tensor\(await x\.data\(\), x\.shape\)\.$/,
  });
});

test('slice copies whole rows, or any box, as TF.js slice does', () => {
  const x = keel.tensor(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
  assert.deepEqual(keel.slice(x, 1).arraySync(), [[[12, 13, 14, 15], [16, 17, 18, 19], [20, 21, 22, 23]]]);
  assert.deepEqual(keel.slice(x, 0, 1).shape, [1, 3, 4]);
  assert.deepEqual(keel.slice(x, [0, 1, 2], [2, 2, 1]).arraySync(), [[[6], [10]], [[18], [22]]]);
  assert.deepEqual(keel.slice(x, [1, 0, 0], [1, -1, 2]).arraySync(), [[[12, 13], [16, 17], [20, 21]]]);
});
