/**
 * earlyStopping: the epoch at which it stops for scripted sequences of the monitored figure (Keras 3's
 * rule: wait counts from the last improvement that also beats the baseline, never a stop at epoch 0),
 * restoreBestWeights at the end of training, the options it refuses, and one real fit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { scriptedValLoss, smallModel, weightsOf, x, y } from './helpers.js';

/** A stand-in model whose weights are the epoch they were taken at. */
function fakeModel() {
  const model = {
    stopTraining: false,
    epoch: -1,
    restored: null as number | null,
    getWeights: () => [keel.tensor([model.epoch])],
    setWeights: (w: keel.Tensor[]) => { model.restored = w[0].dataSync()[0]; },
  };
  return model;
}

/** Runs the callback over `values` as fit would; returns the epoch after which it stopped, or null. */
function drive(cb: keel.callbacks.EarlyStopping, values: number[], monitor = 'val_loss', model = fakeModel()): number | null {
  cb.setModel(model);
  cb.onTrainBegin();
  let stopped: number | null = null;
  for (let epoch = 0; epoch < values.length; epoch++) {
    model.epoch = epoch;
    cb.onEpochEnd(epoch, { loss: 1, [monitor]: values[epoch] });
    if (model.stopTraining) {
      stopped = epoch;
      break;
    }
  }
  cb.onTrainEnd();
  return stopped;
}

const es = (args: keel.callbacks.EarlyStoppingArgs) => keel.callbacks.earlyStopping(args);

test('patience: stops at the patience-th epoch in a row without improvement (0 acts as 1), never at epoch 0', () => {
  assert.equal(drive(es({ patience: 0 }), [1, 0.9, 0.95, 0.8]), 2);
  assert.equal(drive(es({ patience: 1 }), [1, 0.9, 0.95, 0.8]), 2);
  assert.equal(drive(es({ patience: 2 }), [1, 0.9, 0.95, 0.96, 0.8]), 3);
  // An improvement resets the count.
  assert.equal(drive(es({ patience: 2 }), [1, 1.1, 0.9, 1.0, 1.0, 0.5]), 4);
  assert.equal(drive(es({ patience: 3 }), [1, 0.9, 0.8, 0.7]), null);
  // Equal is no improvement.
  assert.equal(drive(es({ patience: 1 }), [1, 1]), 1);
  // Epoch 0 never stops, even when it does not improve on +∞.
  assert.equal(drive(es({ patience: 0 }), [Infinity, 2, 3]), 2);
});

test('minDelta: an improvement must exceed it; mode max and auto for accuracies', () => {
  assert.equal(drive(es({ patience: 1, minDelta: 0.05 }), [1, 0.97]), 1);
  assert.equal(drive(es({ patience: 1, minDelta: 0.05 }), [1, 0.94, 0.9]), 2);
  assert.equal(drive(es({ patience: 1, minDelta: 0.05 }), [1, 0.94, 0.88]), null);
  const auto = es({ monitor: 'val_accuracy', patience: 0 });
  assert.equal(auto.mode, 'max');
  assert.equal(drive(auto, [0.5, 0.6, 0.55], 'val_accuracy'), 2);
  assert.equal(es({ monitor: 'acc' }).mode, 'max');
  assert.equal(es({ monitor: 'loss' }).mode, 'min');
  assert.equal(drive(es({ monitor: 'score', mode: 'max', patience: 0 }), [1, 2, 2], 'score'), 2);
  assert.equal(drive(es({ monitor: 'val_loss', mode: 'max', patience: 0 }), [1, 0.5], 'val_loss'), 1);
});

test('baseline: wait restarts only on an epoch that beats both the best and the baseline', () => {
  // Improving every epoch but never past the baseline: wait keeps growing, yet an improving epoch never stops.
  assert.equal(drive(es({ patience: 2, baseline: 0.5 }), [0.9, 0.8, 0.7, 0.6, 0.4, 0.45]), null);
  // ...and the first epoch that does not improve stops it, wait being far past patience.
  assert.equal(drive(es({ patience: 2, baseline: 0.5 }), [0.9, 0.8, 0.85]), 2);
  // Past the baseline, wait restarts as without one.
  assert.equal(drive(es({ patience: 2, baseline: 0.5 }), [0.4, 0.45, 0.3, 0.35, 0.36]), 4);
  const cb = es({ patience: 3, baseline: 0.5 });
  drive(cb, [0.9, 0.8]);
  assert.equal(cb.wait, 2);
  assert.equal(cb.best, 0.8);
});

test('startFromEpoch: epochs before it are not looked at', () => {
  assert.equal(drive(es({ patience: 0, startFromEpoch: 2 }), [1, 2, 3, 2.5, 2.6]), 4);
  assert.equal(drive(es({ patience: 0 }), [1, 2, 3, 2.5, 2.6]), 1);
});

test('restoreBestWeights puts back the best epoch\'s weights at the end, stopped early or not', () => {
  const stopped = fakeModel();
  assert.equal(drive(es({ patience: 2, restoreBestWeights: true }), [1, 0.5, 0.7, 0.8, 0.2], 'val_loss', stopped), 3);
  assert.equal(stopped.restored, 1);
  // Not stopped: Keras 3 restores too.
  const finished = fakeModel();
  assert.equal(drive(es({ patience: 5, restoreBestWeights: true }), [1, 0.5, 0.7, 0.8], 'val_loss', finished), null);
  assert.equal(finished.restored, 1);
  // With a baseline no epoch beats, the best of those run is restored.
  const neverGood = fakeModel();
  drive(es({ patience: 1, baseline: 0.1, restoreBestWeights: true }), [1, 0.5, 0.7], 'val_loss', neverGood);
  assert.equal(neverGood.restored, 1);
  // Without restoreBestWeights nothing is put back.
  const plain = fakeModel();
  drive(es({ patience: 1 }), [1, 0.5, 0.7], 'val_loss', plain);
  assert.equal(plain.restored, null);
});

test('each fit starts afresh: wait, best and stoppedEpoch are reset at train begin', () => {
  const cb = es({ patience: 1 });
  assert.equal(drive(cb, [1, 2]), 1);
  assert.equal(cb.stoppedEpoch, 1);
  assert.equal(drive(cb, [5, 4, 3]), null); // 5 would not beat the earlier best of 1
  assert.equal(cb.stoppedEpoch, 0);
  assert.equal(cb.best, 3);
});

test('bad options are refused with what was expected and received', () => {
  const cases: [unknown, RegExp][] = [
    [{ patience: -1 }, /earlyStopping: expected patience to be an integer >= 0 \(epochs without improvement before stopping\), received -1/],
    [{ patience: 1.5 }, /expected patience to be an integer >= 0.*received 1.5/],
    [{ mode: 'mn' }, /expected mode 'auto', 'min' or 'max', received 'mn'/],
    [{ monitor: 'learning_rate' }, /cannot tell whether 'learning_rate' should go down or up; pass mode: 'min'.*or mode: 'max'/],
    [{ monitor: '' }, /expected monitor to be the name of a logged figure/],
    [{ minDelta: -0.1 }, /expected minDelta to be a number >= 0/],
    [{ baseline: NaN }, /expected baseline to be a finite number/],
    [{ restoreBestWeights: 'yes' }, /expected restoreBestWeights to be true or false, received 'yes'/],
    [{ startFromEpoch: -2 }, /expected startFromEpoch to be an integer >= 0/],
    [{ patiance: 3 }, /earlyStopping: unknown option 'patiance'.*Did you mean 'patience'\?/],
    [3, /earlyStopping: expected an object of options/],
  ];
  for (const [args, message] of cases) assert.throws(() => keel.callbacks.earlyStopping(args as never), { name: 'ValueError', message });
  assert.throws(() => es({}).onEpochEnd(0, { loss: 1 }), { name: 'ValueError', message: /logs hold no number 'val_loss' \(they hold loss\)/ });
});

test('in a real fit: stops after the scripted epoch, and History has the epochs that ran', async () => {
  const model = smallModel();
  const history = await model.fit(x, y, {
    epochs: 10, batchSize: 2, verbose: 0, validationData: [x, y],
    callbacks: [scriptedValLoss([1, 0.8, 0.9, 0.95, 0.7, 0.6]), keel.callbacks.earlyStopping({ patience: 2 })],
  });
  assert.deepEqual(history.epoch, [0, 1, 2, 3]);
  assert.deepEqual(history.history.val_loss, [1, 0.8, 0.9, 0.95]);
});

test('in a real fit with restoreBestWeights the model ends with the best epoch\'s weights (and BN statistics)', async () => {
  const model = smallModel();
  let atBest: number[][] = [];
  await model.fit(x, y, {
    epochs: 5, batchSize: 2, verbose: 0, validationData: [x, y],
    callbacks: [
      scriptedValLoss([1, 0.5, 0.7, 0.8, 0.9]),
      { onEpochEnd: (epoch) => { if (epoch === 1) atBest = weightsOf(model); } },
      keel.callbacks.earlyStopping({ patience: 10, restoreBestWeights: true }),
    ],
  });
  assert.deepEqual(weightsOf(model), atBest);
});

test('a monitor this fit does not log is refused before training, the model unchanged', async () => {
  const model = smallModel();
  const before = weightsOf(model);
  await assert.rejects(
    model.fit(x, y, { epochs: 2, verbose: 0, callbacks: [keel.callbacks.earlyStopping()] }),
    { name: 'ValueError', message: /earlyStopping: monitors 'val_loss', but this fit logs only loss, accuracy\. Pass validationData or validationSplit to fit, or monitor 'loss'\./ },
  );
  assert.deepEqual(weightsOf(model), before);
  // TF.js's spelling of the accuracy is accepted as the same figure.
  await model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [keel.callbacks.earlyStopping({ monitor: 'acc' })] });
});
