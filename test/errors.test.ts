/**
 * Bad input: each case throws an error that says what was expected, what was received and how to
 * fix it, and leaves the model exactly as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';

function smallModel() {
  keel.setRandomSeed(1);
  const model = keel.sequential({ layers: [
    keel.layers.batchNormalization({ inputShape: [4] }),
    keel.layers.dense({ units: 8, activation: 'relu' }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

const x8 = () => keel.tensor(Array.from({ length: 32 }, (_, i) => Math.sin(i)), [8, 4]);
const y8 = () => keel.tensor([0, 1, 2, 0, 1, 2, 0, 1]);
const snapshot = (m: keel.Sequential) => m.getWeights().map((w) => Array.from(w.dataSync()));

/** Runs `fn`, expects a KeelError matching `pattern`, and checks the model did not change. */
async function rejects(model: keel.Sequential, fn: () => unknown, pattern: RegExp): Promise<void> {
  const before = snapshot(model);
  await assert.rejects(async () => fn(), (e: Error) => {
    assert.ok(e instanceof keel.KeelError, `expected a KeelError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
  assert.deepEqual(snapshot(model), before, 'the model changed');
}

test('BN training on a batch of 1 explains itself and changes nothing', async () => {
  const model = smallModel();
  await rejects(model, () => model.trainOnBatch(keel.tensor([[1, 2, 3, 4]]), keel.tensor([1])),
    /batch_normalization.*: training needs more than 1 value per feature, received a batch of 1 \(shape \[1,4\]\); use a batch of 2 or more, or call with \{training: false\}/);
  // Predicting one instance is fine: inference uses the moving statistics.
  assert.equal(model.predict(keel.tensor([[1, 2, 3, 4]])).shape[0], 1);
});

test('NaN or Infinity in inputs or labels', async () => {
  const model = smallModel();
  const bad = x8().dataSync();
  bad[5] = NaN;
  await rejects(model, () => model.fit(keel.tensor(bad, [8, 4]), y8(), { verbose: 0 }),
    /fit: x must hold finite numbers, received NaN at flat index 5 \(example 1\)/);
  await rejects(model, () => model.trainOnBatch(x8(), keel.tensor([0, 1, 2, Infinity, 1, 2, 0, 1])), /y must hold finite numbers, received Infinity/);
  assert.throws(() => model.predict(keel.tensor(bad, [8, 4])), /predict: x must hold finite numbers/);
});

test('input shape that does not match the model', async () => {
  const model = smallModel();
  await rejects(model, () => model.fit(keel.tensor(new Float32Array(15), [5, 3]), keel.tensor([0, 1, 2, 0, 1]), { verbose: 0 }),
    /fit: expected x of shape \[null,4\] \(a batch of inputs of shape \[4\]\), received \[5,3\]/);
  assert.throws(() => model.predict(keel.tensor([1, 2, 3, 4])), /received \[4\]\. For one example, add a batch axis: shape \[1, 4\]/);
  await rejects(model, () => model.fit(x8(), keel.tensor([0, 1, 2]), { verbose: 0 }), /x holds 8 examples but y holds 3 labels/);
});

test('a label outside [0, classes)', async () => {
  const model = smallModel();
  await rejects(model, () => model.fit(x8(), keel.tensor([0, 1, 2, 3, 1, 2, 0, 1]), { verbose: 0 }),
    /labels must be integers in \[0, 3\) for a model with 3 outputs, received 3 at index 3/);
  await rejects(model, () => model.trainOnBatch(x8(), keel.tensor([0, 1, 2, 0.5, 1, 2, 0, 1])), /received 0\.5 at index 3/);
  await rejects(model, () => model.trainOnBatch(x8(), keel.tensor(new Float32Array(24), [8, 3])),
    /expected labels of shape \[8\] or \[8,1\].*For one-hot labels use loss 'categoricalCrossentropy'/);
});

test('setWeights with the wrong number or shapes of arrays', () => {
  const model = smallModel();
  const before = snapshot(model);
  const weights = model.getWeights();
  assert.throws(() => model.setWeights(weights.slice(1)), /expected 12 arrays in getWeights\(\) order.*received 11/);
  const wrong = [...weights];
  wrong[2] = keel.tensor(new Float32Array(9), [3, 3]);
  assert.throws(() => model.setWeights(wrong), /Weight 'dense(_\d+)?\/kernel': expected shape \[4,8\], received \[3,3\]/);
  // Even when only the last array is wrong, nothing is written.
  const lastWrong = weights.map((w) => keel.tensor(w.dataSync().map(() => 7), w.shape));
  lastWrong[11] = keel.tensor([1, 2]);
  assert.throws(() => model.setWeights(lastWrong), /expected shape \[8\], received \[2\]/);
  assert.deepEqual(snapshot(model), before);
});

test('unknown names: activation, initializer, loss, optimizer, options', () => {
  assert.throws(() => keel.layers.dense({ units: 3, activation: 'rleu' }), /Unknown activation 'rleu'\. Expected one of: linear, relu.*Did you mean 'relu'\?/);
  assert.throws(() => keel.layers.dense({ units: 3, kernelInitializer: 'heNormall' }), /Unknown initializer 'heNormall'.*Did you mean 'heNormal'\?/);
  const model = smallModel();
  assert.throws(() => model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossEntropy' }), /Unknown loss 'sparseCategoricalCrossEntropy'.*Did you mean 'sparseCategoricalCrossentropy'\?/);
  assert.throws(() => model.compile({ optimizer: 'adamw', loss: 'meanSquaredError' }), /Unknown optimizer 'adamw'\. Expected one of: sgd, adam, rmsprop, nadam/);
  assert.throws(() => keel.layers.dense({ units: 3, unit: 4 } as never), /Dense: unknown option 'unit'.*Did you mean 'units'\?/);
  assert.throws(() => keel.optimizers.sgd({ learningrate: 0.1 } as never), /sgd: unknown option 'learningrate'.*Did you mean 'learningRate'\?/);
  assert.throws(() => keel.layers.dense({ units: 0 }), /expected units to be a positive integer, received 0/);
});

test('BN momentum outside [0, 1] or epsilon ≤ 0', () => {
  assert.throws(() => keel.layers.batchNormalization({ momentum: 1.5 }), /expected momentum in \[0, 1\].*received 1\.5.*PyTorch's momentum m corresponds to Keras's 1 − m/);
  assert.throws(() => keel.layers.batchNormalization({ momentum: -0.1 }), /received -0\.1/);
  assert.throws(() => keel.layers.batchNormalization({ epsilon: 0 }), /expected epsilon > 0 \(default 1e-3\), received 0/);
  assert.throws(() => keel.layers.batchNormalization({ epsilon: -1e-3 }), /received -0\.001/);
  assert.throws(() => keel.sequential({ layers: [keel.layers.batchNormalization({ inputShape: [3, 4], axis: 1 })] }), /only the last axis can be normalized/);
});

test('fit, evaluate and trainOnBatch before compile', async () => {
  const model = keel.sequential({ layers: [keel.layers.dense({ units: 2, inputShape: [4] })] });
  await assert.rejects(() => model.fit(x8(), y8()), /fit: the model is not compiled\. Call model\.compile\(\{optimizer: 'sgd'/);
  assert.throws(() => model.evaluate(x8(), y8()), /evaluate: the model is not compiled/);
  await assert.rejects(() => model.trainOnBatch(x8(), y8()), keel.StateError);
});

test('a first layer without an input shape', () => {
  assert.throws(() => keel.sequential({ layers: [keel.layers.dense({ units: 2 })] }),
    /the first layer \('dense(_\d+)?'\) needs an input shape, e.g\. keel\.layers\.flatten\(\{inputShape: \[28, 28\]\}\)/);
});

test('a non-finite loss stops fit, naming epoch and batch, with the weights from before that step', async () => {
  keel.setRandomSeed(2);
  // No BN and a huge learning rate on a linear regression: the loss overflows within a few steps.
  const model = keel.sequential({ layers: [keel.layers.dense({ units: 1, inputShape: [4] })] });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 1e6 }), loss: 'meanSquaredError' });
  const x = keel.tensor(Array.from({ length: 64 * 4 }, (_, i) => Math.cos(i) * 10), [64, 4]);
  const y = keel.tensor(Array.from({ length: 64 }, (_, i) => i), [64, 1]);
  let lastGood: number[][] = snapshot(model);
  await assert.rejects(
    () => model.fit(x, y, { epochs: 5, batchSize: 8, verbose: 0, callbacks: { onBatchEnd: () => void (lastGood = snapshot(model)) } }),
    (e: Error) => {
      assert.ok(e instanceof keel.NonFiniteLossError);
      assert.match(e.message, /fit: the loss became (Infinity|NaN) at epoch \d+, batch \d+ of 8; training stopped and the weights from before that step are kept/);
      return true;
    },
  );
  assert.deepEqual(snapshot(model), lastGood);
  assert.ok(lastGood.flat().every(Number.isFinite));
});

test('fit options are checked', async () => {
  const model = smallModel();
  await rejects(model, () => model.fit(x8(), y8(), { epochs: 0 }), /fit: expected epochs to be a positive integer, received 0/);
  await rejects(model, () => model.fit(x8(), y8(), { batchsize: 4 } as never), /fit: unknown option 'batchsize'.*Did you mean 'batchSize'\?/);
  await rejects(model, () => model.fit(x8(), y8(), { validationSplit: 1 }), /expected validationSplit in \[0, 1\)/);
});
