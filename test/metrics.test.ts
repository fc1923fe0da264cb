/**
 * Metrics against TensorFlow.js 4.22: binary accuracy on soft labels (golden values from TF.js with
 * the same weights), and the names under which the accuracy is logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { Random } from '../packages/keel/src/core/random.js';

await tf.setBackend('cpu');

/** The same Dense(sigmoid) model in Keel and TF.js, compiled with binary cross-entropy and 'accuracy'. */
function twinModels(units: number, inputs: number, seed: number) {
  const random = new Random(seed);
  const kernel = Array.from({ length: inputs * units }, () => random.normal());
  const bias = Array.from({ length: units }, () => 0.3 * random.normal());
  const k = keel.sequential({ layers: [keel.layers.dense({ units, inputShape: [inputs], activation: 'sigmoid' })] });
  k.setWeights([keel.tensor(kernel, [inputs, units]), keel.tensor(bias)]);
  k.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  const t = tf.sequential({ layers: [tf.layers.dense({ units, inputShape: [inputs], activation: 'sigmoid' })] });
  t.setWeights([tf.tensor(kernel, [inputs, units]), tf.tensor(bias)]);
  t.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  return { k, t };
}

for (const units of [1, 3]) {
  test(`binary accuracy on soft labels equals TF.js's (${units} sigmoid unit${units > 1 ? 's' : ''})`, () => {
    const n = 64;
    const inputs = 5;
    const { k, t } = twinModels(units, inputs, 10 + units);
    const random = new Random(20 + units);
    const x = Array.from({ length: n * inputs }, () => random.normal());
    // Hard labels, and soft ones on either side of 0.5: TF.js and Keras compare the label as it is
    // with (p > 0.5 ? 1 : 0), so a soft label is never matched.
    const choices = [0, 1, 1, 0, 0.9, 0.1, 0.7, 0.5, 0.3];
    const y = Array.from({ length: n * units }, () => choices[random.int(choices.length)]);
    const [kLoss, kAccuracy] = k.evaluate(keel.tensor(x, [n, inputs]), keel.tensor(y, [n, units]));
    const [tLoss, tAccuracy] = t.evaluate(tf.tensor(x, [n, inputs]), tf.tensor(y, [n, units])) as tf.Scalar[];
    const golden = tAccuracy.dataSync()[0];
    assert.ok(Math.abs(kAccuracy.dataSync()[0] - golden) < 1e-6, `Keel ${kAccuracy.dataSync()[0]}, TF.js ${golden}`);
    // TF.js computes the loss from float32 probabilities, Keel from the logits: near, not equal.
    assert.ok(Math.abs(kLoss.dataSync()[0] / tLoss.dataSync()[0] - 1) < 1e-4, `loss: Keel ${kLoss.dataSync()[0]}, TF.js ${tLoss.dataSync()[0]}`);
    // The metric function itself, on Keel's predictions.
    const p = k.predict(keel.tensor(x, [n, inputs])).dataSync();
    const direct = tf.mean(tf.metrics.binaryAccuracy(tf.tensor(y, [n, units]), tf.tensor(p, [n, units]))).dataSync()[0];
    assert.ok(Math.abs(kAccuracy.dataSync()[0] - direct) < 1e-6);
    // The case must tell the two rules apart: thresholding the label too would count more.
    const thresholdingBoth = y.filter((v, i) => (v > 0.5 ? 1 : 0) === (p[i] > 0.5 ? 1 : 0)).length / y.length;
    assert.ok(thresholdingBoth > golden + 0.05, `${thresholdingBoth} vs ${golden}`);
  });
}

test("the accuracy is logged under the name given, and read under TF.js's 'acc' too", async () => {
  const x = Array.from({ length: 16 }, (_, i) => [Math.sin(i), Math.cos(3 * i)]);
  const y = Array.from({ length: 16 }, (_, i) => i % 3);
  for (const metric of ['accuracy', 'acc']) {
    // What TF.js really does: 'acc' and 'val_acc' for both spellings.
    const t = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], activation: 'softmax' })] });
    t.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: [metric] });
    let tfLogKeys: string[] = [];
    const th = await t.fit(tf.tensor(x), tf.tensor(y), {
      epochs: 2, verbose: 0, validationData: [tf.tensor(x), tf.tensor(y)],
      callbacks: { onEpochEnd: async (_epoch, logs) => void (tfLogKeys = Object.keys(logs ?? {})) },
    });
    assert.deepEqual(Object.keys(th.history).sort(), ['acc', 'loss', 'val_acc', 'val_loss']);
    assert.deepEqual(tfLogKeys.sort(), ['acc', 'loss', 'val_acc', 'val_loss']);

    keel.setRandomSeed(1);
    const k = keel.sequential({ layers: [keel.layers.dense({ units: 3, inputShape: [2], activation: 'softmax' })] });
    k.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: [metric] });
    const epochLogs: keel.Logs[] = [];
    let lastBatch: keel.Logs = {};
    const kh = await k.fit(x, y, {
      epochs: 2, batchSize: 8, verbose: 0, validationData: [x, y],
      callbacks: { onEpochEnd: (_epoch, logs) => void epochLogs.push(logs!), onBatchEnd: (_batch, logs) => void (lastBatch = logs!) },
    });
    // Keel's keys are the name given (Keras 3); for 'acc' they are TF.js's.
    assert.deepEqual(Object.keys(kh.history).sort(), ['loss', metric, 'val_loss', `val_${metric}`].sort());
    assert.equal(JSON.stringify(Object.keys(epochLogs[1]).sort()), JSON.stringify(['loss', metric, 'val_loss', `val_${metric}`].sort()));
    // Code written for TF.js reads every key TF.js writes, in history and in callbacks' logs.
    for (const key of Object.keys(th.history)) {
      assert.equal(kh.history[key]?.length, 2, `history.history.${key}`);
      assert.equal(typeof epochLogs[1][key], 'number', `logs.${key}`);
    }
    assert.equal(typeof lastBatch.acc, 'number');
    assert.equal(kh.history.acc, kh.history.accuracy, 'one array under both names');
    assert.deepEqual([kh.acc, kh.val_acc], [kh.accuracy, kh.val_accuracy]);
    assert.ok(kh.acc.every((a) => a >= 0 && a <= 1));
    // Printed logs show each figure once.
    assert.doesNotMatch(JSON.stringify(kh.history), metric === 'acc' ? /accuracy/ : /"acc"/);
  }
});

test('an unknown metric name lists both spellings of the accuracy', () => {
  const k = keel.sequential({ layers: [keel.layers.dense({ units: 3, inputShape: [2] })] });
  assert.throws(() => k.compile({ optimizer: 'sgd', loss: 'meanSquaredError', metrics: ['accuarcy'] }),
    /Unknown metric 'accuarcy'\. Expected one of: accuracy, acc\. Did you mean 'accuracy'\?/);
});
