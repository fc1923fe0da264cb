/**
 * Batch-normalized convolutional networks: spatial BN's statistics and errors, the `cnn` zoo
 * models' summary, and one SGD step of a small CNN with BN against TF.js (loss, every weight,
 * moving statistics), on every backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { relErr, testOnEveryBackend } from '../helpers.js';

await tf.setBackend('cpu');

function randomArray(n: number, random: Random, scale = 1, shift = 0): Float32Array {
  return Float32Array.from({ length: n }, () => random.normal() * scale + shift);
}

testOnEveryBackend('BN on rank-4 input normalizes each channel over batch × height × width', () => {
  const random = new Random(3);
  const [n, h, w, c] = [4, 5, 6, 3];
  const x = keel.tensor(randomArray(n * h * w * c, random, 3, 2), [n, h, w, c]);
  const bn = keel.layers.batchNormalization({ epsilon: 1e-6 });
  const y = bn.apply(x, { training: true }).dataSync();
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    let squares = 0;
    for (let i = ch; i < y.length; i += c) sum += y[i];
    const mean = sum / (n * h * w);
    for (let i = ch; i < y.length; i += c) squares += (y[i] - mean) ** 2;
    assert.ok(Math.abs(mean) < 1e-5, `channel ${ch}: mean ${mean}`);
    assert.ok(Math.abs(Math.sqrt(squares / (n * h * w)) - 1) < 1e-4, `channel ${ch}: std`);
  }
  assert.deepEqual(bn.getWeights().map((t) => t.shape), [[c], [c], [c], [c]]);
});

test('BN trains on one image of H·W > 1, and refuses a batch with one value per channel', () => {
  const bn = keel.layers.batchNormalization();
  const one = keel.tensor(randomArray(4 * 4 * 2, new Random(1)), [1, 4, 4, 2]);
  assert.doesNotThrow(() => bn.apply(one, { training: true }));
  const single = keel.layers.batchNormalization({ name: 'bn_single' });
  assert.throws(
    () => single.apply(keel.tensor([1, 2, 3], [1, 1, 1, 3]), { training: true }),
    /bn_single: training needs more than 1 value per feature, received a batch of 1 \(shape \[1,1,1,3\]\)/,
  );
});

test('the cnn zoo model: summary as Keras prints it, and cnn-plain', () => {
  const lines: string[] = [];
  const model = keel.zoo.buildModel('cnn');
  model.summary(undefined, undefined, (line: string) => lines.push(line));
  const text = lines.join('\n');
  assert.match(text, /Total params: 468,778\nTrainable params: 468,138\nNon-trainable params: 640/);
  assert.match(text, /\(Conv2D\)\s+\(None, 28, 28, 32\)\s+288/);
  assert.match(text, /\(MaxPooling2D\)\s+\(None, 14, 14, 32\)\s+0/);
  assert.match(text, /\(None, 7, 7, 64\)/);
  assert.match(text, /^conv2d(_\d+)? \(Conv2D\)/m, 'Keras names the layer conv2d');
  assert.match(text, /^max_pooling2d(_\d+)? \(MaxPooli/m, 'Keras names the layer max_pooling2d');
  const plain = keel.zoo.buildModel('cnn-plain');
  assert.equal(plain.countParams(), 288 + 32 + 9216 + 32 + 18432 + 64 + 36864 + 64 + 401408 + 128 + 1290);
});

/** The same small CNN with BN in both libraries. */
function smallCnn(): { keelModel: keel.Sequential; tfModel: tf.Sequential } {
  const keelModel = keel.sequential({ layers: [
    keel.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, inputShape: [6, 6, 2] }),
    keel.layers.batchNormalization(),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.maxPooling2d({ poolSize: 2 }),
    keel.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid' }),
    keel.layers.batchNormalization({ momentum: 0.9 }),
    keel.layers.averagePooling2d({ poolSize: 1 }),
    keel.layers.flatten(),
    keel.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  const tfModel = tf.sequential({ layers: [
    tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, inputShape: [6, 6, 2] }),
    tf.layers.batchNormalization(),
    tf.layers.activation({ activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid' }),
    tf.layers.batchNormalization({ momentum: 0.9 }),
    tf.layers.averagePooling2d({ poolSize: 1 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  return { keelModel, tfModel };
}


testOnEveryBackend('one SGD step of a small CNN with BN equals TF.js: loss, every weight, moving statistics', async () => {
  const { keelModel, tfModel } = smallCnn();
  const random = new Random(21);
  // Same weights in both: TF.js's, as TF.js orders getWeights (Keel's order is the same).
  const weights = tfModel.getWeights().map((w) => keel.tensor(w.dataSync(), [...w.shape]));
  keelModel.setWeights(weights);
  const n = 8;
  const x = randomArray(n * 6 * 6 * 2, random, 1.5, 0.3);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  keelModel.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
  tfModel.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
  const keelLoss = await keelModel.trainOnBatch(keel.tensor(x, [n, 6, 6, 2]), keel.tensor(labels, [n]));
  const tfLoss = await tfModel.trainOnBatch(tf.tensor(x, [n, 6, 6, 2]), tf.tensor(Float32Array.from(labels), [n]));
  const lossOf = (v: unknown) => (Array.isArray(v) ? Number(v[0]) : typeof v === 'number' ? v : (v as { dataSync(): Float32Array }).dataSync()[0]);
  assert.ok(Math.abs(lossOf(keelLoss) - lossOf(tfLoss)) < 1e-5, `loss ${lossOf(keelLoss)} vs ${lossOf(tfLoss)}`);
  const after = keelModel.getWeights();
  const expected = tfModel.getWeights();
  assert.equal(after.length, expected.length);
  expected.forEach((w, i) => {
    const err = relErr(after[i].dataSync(), w.dataSync(), 1e-3);
    assert.ok(err < 1e-4, `weight ${i} (shape ${w.shape}): relative error ${err.toExponential(2)}`);
  });
  const probe = randomArray(2 * 6 * 6 * 2, random);
  const p = keelModel.predict(keel.tensor(probe, [2, 6, 6, 2])) as keel.Tensor;
  const q = tfModel.predict(tf.tensor(probe, [2, 6, 6, 2])) as tf.Tensor;
  assert.ok(relErr(p.dataSync(), q.dataSync(), 1e-3) < 1e-4, 'inference after the step');
});

/** Bytes held by typed arrays, wasm memories and the JS heap after a full garbage collection. */
async function retainedBytes(): Promise<number> {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

testOnEveryBackend('memory stays flat over a long fit of a CNN with BN', async () => {
  keel.setRandomSeed(8);
  const model = keel.sequential({ layers: [
    keel.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, inputShape: [8, 8, 1] }),
    keel.layers.batchNormalization(),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.maxPooling2d(),
    keel.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }),
    keel.layers.globalAveragePooling2d(),
    keel.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
  const random = new Random(2);
  const n = 90; // batches of 16 and a last one of 10
  const x = keel.tensor(randomArray(n * 64, random), [n, 8, 8, 1]);
  const y = keel.tensor(Float32Array.from({ length: n }, (_, i) => i % 3), [n]);
  await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, validationData: [x, y] });
  const before = await retainedBytes();
  await model.fit(x, y, { epochs: 40, batchSize: 16, verbose: 0, validationData: [x, y] });
  const after = await retainedBytes();
  // 40 epochs allocate about 25 MB of activations, windows and gradients if buffers were not reused.
  assert.ok(after - before < 1_500_000, `retained memory grew by ${after - before} bytes`);
});
