/**
 * reduceLROnPlateau: the epochs at which the rate is cut for scripted sequences (patience, cooldown,
 * minLr, minDelta, mode), the learning_rate it logs, bad options, and one real fit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { scriptedValLoss, smallModel, x, y } from './helpers.js';

/** Runs the callback over `values`; returns the rate after each epoch and the rate each epoch logged. */
function drive(cb: keel.callbacks.ReduceLROnPlateau, values: number[], monitor = 'val_loss', rate = 1): { after: number[]; logged: number[] } {
  const model = { optimizer: { learningRate: rate } };
  cb.setModel(model);
  cb.onTrainBegin();
  const after: number[] = [];
  const logged: number[] = [];
  values.forEach((v, epoch) => {
    const logs: keel.Logs = { loss: 1, [monitor]: v };
    cb.onEpochEnd(epoch, logs);
    after.push(model.optimizer.learningRate);
    logged.push(logs.learning_rate);
  });
  return { after, logged };
}

const plateau = (args: keel.callbacks.ReduceLROnPlateauArgs) => keel.callbacks.reduceLROnPlateau(args);

test('patience: the rate is multiplied by factor after patience epochs without improvement, and the count restarts', () => {
  const { after, logged } = drive(plateau({ patience: 2, factor: 0.5 }), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(after, [1, 1, 0.5, 0.5, 0.25, 0.25]);
  // Logged: the rate the epoch ran with, before any cut at its end.
  assert.deepEqual(logged, [1, 1, 1, 0.5, 0.5, 0.25]);
  assert.deepEqual(drive(plateau({ patience: 2, factor: 0.5 }), [1, 1, 0.5, 0.6, 0.7]).after, [1, 1, 1, 1, 0.5]);
  assert.deepEqual(drive(plateau({ patience: 0, factor: 0.5 }), [1, 0.9, 0.9]).after, [1, 1, 0.5]);
  // Default patience 10.
  assert.deepEqual(drive(plateau({}), new Array(11).fill(1)).after.slice(9), [1, 0.1]);
});

test('cooldown: epochs after a cut count for nothing', () => {
  assert.deepEqual(drive(plateau({ patience: 1, factor: 0.5, cooldown: 2 }), [1, 1, 1, 1, 1, 1]).after, [1, 0.5, 0.5, 0.25, 0.25, 0.125]);
  // An improvement during the cooldown still becomes the best.
  const cb = plateau({ patience: 1, factor: 0.5, cooldown: 2 });
  drive(cb, [1, 1, 0.2]);
  assert.equal(cb.best, 0.2);
});

test('minLr bounds the rate, and minDelta (default 1e-4) is the smallest improvement', () => {
  assert.deepEqual(drive(plateau({ patience: 1, factor: 0.5, minLr: 0.3 }), [1, 1, 1, 1]).after, [1, 0.5, 0.3, 0.3]);
  assert.deepEqual(drive(plateau({ patience: 1, factor: 0.5 }), [1, 0.99995]).after, [1, 0.5]);
  assert.deepEqual(drive(plateau({ patience: 1, factor: 0.5, minDelta: 0 }), [1, 0.99995]).after, [1, 1]);
  assert.deepEqual(drive(plateau({ patience: 1, factor: 0.5, minDelta: 0.1 }), [1, 0.85, 0.8]).after, [1, 1, 0.5]);
});

test('mode: auto maximizes accuracies; max and min as given', () => {
  assert.deepEqual(drive(plateau({ monitor: 'val_accuracy', patience: 1, factor: 0.5 }), [0.5, 0.6, 0.55], 'val_accuracy').after, [1, 1, 0.5]);
  assert.deepEqual(drive(plateau({ monitor: 'val_loss', mode: 'max', patience: 1, factor: 0.5 }), [1, 0.5], 'val_loss').after, [1, 0.5]);
});

test('bad options are refused with what was expected and received', () => {
  const cases: [unknown, RegExp][] = [
    [{ factor: 1 }, /reduceLROnPlateau: expected factor to be a number in \(0, 1\), the multiplier of the rate \(0.1 divides it by 10\), received 1/],
    [{ factor: 0 }, /expected factor to be a number in \(0, 1\).*received 0/],
    [{ patience: -1 }, /expected patience to be an integer >= 0/],
    [{ cooldown: 1.5 }, /expected cooldown to be an integer >= 0.*received 1.5/],
    [{ minLr: -1 }, /expected minLr to be a number >= 0/],
    [{ minDelta: -1e-4 }, /expected minDelta to be a number >= 0/],
    [{ mode: 'down' }, /expected mode 'auto', 'min' or 'max', received 'down'/],
    [{ monitor: 'lr' }, /cannot tell whether 'lr' should go down or up/],
    [{ min_lr: 0.1 }, /unknown option 'min_lr'.*Did you mean 'minLr'\?/],
  ];
  for (const [args, message] of cases) assert.throws(() => keel.callbacks.reduceLROnPlateau(args as never), { name: 'ValueError', message });
});

test('in a real fit: the optimizer runs with the reduced rate from the next epoch, and History logs it', async () => {
  const model = smallModel(0.1);
  const rates: number[] = [];
  const history = await model.fit(x, y, {
    epochs: 5, batchSize: 2, verbose: 0, validationData: [x, y],
    callbacks: [
      scriptedValLoss([1, 0.9, 0.95, 0.95, 0.95]),
      keel.callbacks.reduceLROnPlateau({ patience: 1, factor: 0.5 }),
      { onBatchBegin: () => { rates.push(model.optimizer!.learningRate); } },
    ],
  });
  assert.deepEqual(history.history.learning_rate, [0.1, 0.1, 0.1, 0.05, 0.025]);
  assert.deepEqual(rates, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
  assert.equal(model.optimizer!.learningRate, 0.0125);
});

test('a monitor this fit does not log is refused before training', async () => {
  const model = smallModel();
  await assert.rejects(model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [keel.callbacks.reduceLROnPlateau()] }),
    { name: 'ValueError', message: /reduceLROnPlateau: monitors 'val_loss', but this fit logs only loss, accuracy/ });
});
