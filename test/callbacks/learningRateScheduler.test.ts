import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';

function smallModel() {
  const model = keel.sequential({
    layers: [keel.layers.dense({ units: 4, inputShape: [3], activation: 'relu' }), keel.layers.dense({ units: 2, activation: 'softmax' })],
  });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}
const x = keel.tensor([[0, 1, 2], [1, 0, 1], [2, 2, 0], [0, 0, 1]]);
const y = keel.tensor([0, 1, 1, 0]);

test('learningRateScheduler sets the rate at each epoch begin and logs the rate the epoch ran with', async () => {
  const model = smallModel();
  const seen: number[] = [];
  const calls: [number, number][] = [];
  const history = await model.fit(x, y, {
    epochs: 4,
    batchSize: 2,
    verbose: 0,
    callbacks: [
      keel.callbacks.learningRateScheduler((epoch, lr) => {
        calls.push([epoch, lr]);
        return lr / 2;
      }),
      { onBatchBegin: () => { seen.push(model.optimizer!.learningRate); } },
    ],
  });
  assert.deepEqual(calls, [[0, 0.1], [1, 0.05], [2, 0.025], [3, 0.0125]]);
  assert.deepEqual(seen, [0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125, 0.00625, 0.00625]);
  assert.deepEqual(history.history.learning_rate, [0.05, 0.025, 0.0125, 0.00625]);
});

test('learningRateScheduler continues the schedule from initialEpoch', async () => {
  const model = smallModel();
  const calls: number[] = [];
  await model.fit(x, y, { epochs: 3, initialEpoch: 1, verbose: 0, callbacks: [keel.callbacks.learningRateScheduler((e, lr) => (calls.push(e), lr))] });
  assert.deepEqual(calls, [1, 2]);
});

test('cosineDecaySchedule: lr0 at epoch 0, half at the middle, near 0 at the last epoch', () => {
  const s = keel.callbacks.cosineDecaySchedule(0.01, 10);
  assert.equal(s(0, 0), 0.01);
  assert.ok(Math.abs(s(5, 0) - 0.005) < 1e-15);
  assert.ok(Math.abs(s(9, 0) - 0.01 * (1 + Math.cos(0.9 * Math.PI)) / 2) < 1e-15);
  assert.ok(s(9, 0) < 0.0003);
  assert.throws(() => keel.callbacks.cosineDecaySchedule(0, 10), /initialLearningRate > 0, received 0/);
  assert.throws(() => keel.callbacks.cosineDecaySchedule(0.1, 2.5), /epochs to be a positive integer, received 2.5/);
});

test('learningRateScheduler refuses a schedule that is not a function or returns a bad rate, before the epoch runs', async () => {
  assert.throws(() => keel.callbacks.learningRateScheduler(0.1 as never), /expected a function \(epoch, learningRate\) => number, received 0.1/);
  const model = smallModel();
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  await assert.rejects(
    model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [keel.callbacks.learningRateScheduler(() => NaN)] }),
    /returned NaN for epoch 0; expected a finite number >= 0/,
  );
  assert.deepEqual(model.getWeights().map((w) => Array.from(w.dataSync())), before);
});
