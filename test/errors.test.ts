/**
 * Bad input: each case throws an error that says what was expected, what was received and how to
 * fix it, and leaves the model exactly as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { describeValue } from '../packages/keel/src/core/format.js';

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
    /fit: x must hold finite numbers, received NaN at flat index 5, x\[1\]\[1\] \(example 1\)\. Replace or drop the examples with missing or infinite values .* before training\./);
  await rejects(model, () => model.trainOnBatch(x8(), keel.tensor([0, 1, 2, Infinity, 1, 2, 0, 1])),
    /y must hold finite numbers, received Infinity at flat index 3, y\[3\]\. Fix or drop the examples whose labels are missing or infinite before training\./);
  // An input problem, not a training one: the message says where the NaN is and what to do.
  assert.throws(() => model.predict(keel.tensor(bad, [8, 4])), (e: Error) => {
    assert.ok(e instanceof keel.ValueError);
    assert.match(e.message, /^predict: x must hold finite numbers, received NaN at flat index 5, x\[1\]\[1\] \(example 1\)\. Replace or drop the examples with missing or infinite values \(impute them, or check the preprocessing that produced them\) before predicting\.$/);
    assert.doesNotMatch(e.message, /training/);
    return true;
  });
  assert.throws(() => model.evaluate(keel.tensor(bad, [8, 4]), y8()), /evaluate: x must hold finite numbers.* before evaluating\./);
  assert.throws(() => model.predict([[1, 2, 3, 4], [1, Infinity, 3, 4]]), /received Infinity at flat index 5, x\[1\]\[1\] \(example 1\)/);
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

test('a big value where a tensor or a name is expected is described in a line, never printed whole', async () => {
  // 5,000 images of 28×28 as nested arrays: String() of this is 30 MB.
  const images = Array.from({ length: 5000 }, () => Array.from({ length: 28 }, () => new Array(28).fill(0.5)));
  const model = smallModel();
  const cases: [string, () => unknown, RegExp][] = [
    ['predict', () => model.predict(images), /^predict: expected x of shape \[null,4\] \(a batch of inputs of shape \[4\]\), received \[5000,28,28\]\.$/],
    ['fit validationData', () => model.fit(x8(), y8(), { verbose: 0, validationData: [images] as never }),
      /^fit: expected validationData as \[x, y\], received a nested array of shape \[1,5000,28,28\] \(inferred from its first elements\) holding numbers\.$/],
    ['labels', () => model.evaluate(x8(), images as never), /^evaluate: x holds 8 examples but y holds 5000 labels; they must match\.$/],
    ['add', () => model.add(images as never), /add: expected a layer \(e\.g\. keel\.layers\.dense\(\{units: 10\}\)\), received a nested array of shape \[5000,28,28\]/],
    ['loss', () => model.compile({ optimizer: 'sgd', loss: images as never }), /^Unknown loss: expected one of the names .*, received a nested array of shape \[5000,28,28\]/],
    ['recompute', () => keel.recomputeBatchNormStatistics(model, images), /^recomputeBatchNormStatistics: expected x of shape \[null,4\]/],
    ['recompute model', () => keel.recomputeBatchNormStatistics(images as never, x8()), /^recomputeBatchNormStatistics: expected a Sequential model as the first argument, received a nested array of shape \[5000,28,28\]/],
    ['batchSize', () => model.predict(x8(), { batchSize: images as never }), /^predict: expected batchSize to be a positive integer, received a nested array of shape \[5000,28,28\]/],
    ['validationSplit', () => model.fit(x8(), y8(), { verbose: 0, validationSplit: images as never }), /^fit: expected validationSplit in \[0, 1\), received a nested array of shape \[5000,28,28\]/],
    ['shape', () => keel.tensor([1, 2], new Array(100000).fill(1)), /^tensor: shape an array of 100000 numbers holds 1 values, but 2 were given\./],
    ['initializer', () => keel.initializers.randomNormal({ stddev: images as never }), /^randomNormal: expected stddev > 0, received a nested array of shape \[5000,28,28\]/],
    ['constant', () => keel.initializers.constant({ value: images as never }), /^constant: expected \{value: <finite number>\}, received an object with keys \{value\}\.$/],
    ['slice', () => keel.slice(x8(), images as never), /^slice: expected begin \(and size\) with at most 2 entries for a tensor of shape \[8,4\], received begin a nested array of shape \[5000,28,28\]/],
  ];
  for (const [what, fn, pattern] of cases) {
    await assert.rejects(async () => fn(), (e: Error) => {
      assert.ok(e instanceof keel.KeelError, `${what}: expected a KeelError, got ${e.name}`);
      assert.ok(e.message.length < 400, `${what}: a message of ${e.message.length} characters`);
      assert.match(e.message, pattern, what);
      return true;
    });
  }
});

test('the description of a value is short whatever the value', () => {
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  const cases: [unknown, string | RegExp][] = [
    [undefined, 'undefined'], [null, 'null'], [NaN, 'NaN'], [3, '3'], ['relu', "'relu'"],
    ['x'.repeat(1e6), /^'x{60}…' \(a string of 1000000 characters\)$/],
    [[1, 2, 3], '[1, 2, 3]'], [new Array(1e6).fill(1), 'an array of 1000000 numbers'], [[], 'an empty array []'],
    [new Float32Array(784), 'a Float32Array of 784 values'], [new Uint8Array(4), 'a Uint8Array of 4 values'],
    [keel.tensor([[1, 2]]), 'Tensor(shape=[1,2], dtype=float32)'],
    [{ a: 1, b: [1, 2] }, 'an object with keys {a, b}'], [keel.sequential(), 'an object of class Sequential'],
    [Promise.resolve(1), 'a Promise (did you forget await?)'], [keel.layers.dense, 'a function dense'],
    [keel.Sequential, 'the class Sequential, not an instance of it'],
    [cyclic, /^a nested array of shape \[1(,1){31}\]/],
  ];
  for (const [value, expected] of cases) {
    const d = describeValue(value);
    assert.ok(d.length <= 200, d);
    if (typeof expected === 'string') assert.equal(d, expected);
    else assert.match(d, expected);
  }
  const disposed = keel.tensor([1]);
  disposed.dispose();
  assert.equal(describeValue(disposed), 'Tensor(shape=[1], dtype=float32, disposed)');
});

test('a flat typed array cannot be a batch of inputs: the message gives the shape to pass', async () => {
  const model = smallModel();
  const flat = x8().dataSync();
  const hint = /x is flat \(a Float32Array of 32 values\), with no batch axis: Keel cannot tell where one example ends\. Pass keel\.tensor\(x, \[8, 4\]\) \(8 examples of shape \[4\]\), or nested arrays with the batch axis first\./;
  assert.throws(() => model.predict(flat as never), (e: Error) => e instanceof keel.ShapeError && /^predict: /.test(e.message) && hint.test(e.message));
  await rejects(model, () => model.fit(flat as never, y8(), { verbose: 0 }), hint);
  await rejects(model, () => model.trainOnBatch(flat as never, y8()), hint);
  await rejects(model, () => keel.recomputeBatchNormStatistics(model, flat as never), hint);
  assert.throws(() => model.predict(new Float32Array(30) as never), /30 values are not a whole number of them; check the data, then pass keel\.tensor\(x, \[examples, 4\]\)/);
  assert.throws(() => model.predict([1, 2, 3, 4]), /x is flat \(\[1, 2, 3, 4\]\), with no batch axis.*Pass keel\.tensor\(x, \[1, 4\]\) \(1 example of shape \[4\]\)/);
  // Labels may be flat (one per example); a flat array of more says how to shape it.
  await rejects(model, () => model.trainOnBatch(x8(), new Float32Array(24)),
    /x holds 8 examples but y holds 24 labels; they must match\. A flat array of labels is read as one label per example; for 3 values per example pass keel\.tensor\(y, \[8, 3\]\)\./);
  assert.throws(() => model.predict([[1, 2, 3, 4], [1, 2, 3]]), {
    name: 'ShapeError',
    message: /^predict: x is a ragged nested array: x\[1\] is an array of 3 elements, expected an array of 4 elements like x\[0\] \(shape \[2,4\] from the first elements\)\. Every row must have the same length\.$/,
  });
  assert.throws(() => model.predict([[1, 2, 3, '4' as never]]), /predict: x must hold numbers, received '4' at x\[0\]\[3\]\./);
  assert.throws(() => model.predict('x' as never), /predict: expected x to be a Tensor or nested arrays of numbers \(batch axis first\), received 'x'\./);
});

test('a disposed tensor raises a StateError, not a ShapeError', () => {
  const t = keel.tensor([[1, 2], [3, 4]]);
  t.dispose();
  const stale = /this tensor \(shape \[2,2\]\) was disposed; it can no longer be read\. Read it before calling dispose\(\), or keep a copy made with keel\.tensor\(t\)\./;
  for (const [what, fn] of [
    ['dataSync', () => t.dataSync()], ['arraySync', () => t.arraySync()],
    ['tensor', () => keel.tensor(t)], ['slice', () => keel.slice(t, 0, 1)],
  ] as const) {
    assert.throws(fn, (e: Error) => {
      assert.ok(e instanceof keel.StateError, `${what}: ${e.name}`);
      assert.match(e.message, new RegExp(`^${what}: ${stale.source}$`));
      return true;
    });
  }
});

test('a seed that is not a finite number is refused with a KeelError', async () => {
  for (const seed of [NaN, Infinity, '42', undefined]) {
    assert.throws(() => keel.setRandomSeed(seed as never), (e: Error) =>
      e instanceof keel.ValueError && /^setRandomSeed: expected the seed to be a finite number, e\.g\. 42, received (NaN|Infinity|'42'|undefined)\.$/.test(e.message));
  }
  assert.throws(() => new keel.Random(NaN), { name: 'ValueError', message: /^Random: expected the seed to be a finite number, e\.g\. 42, received NaN\.$/ });
  const model = smallModel();
  await rejects(model, () => model.fit(x8(), y8(), { verbose: 0, seed: NaN }), /^fit: expected seed to be a finite number, e\.g\. 42, received NaN\.$/);
});

test('folding weights of mismatched lengths is a ShapeError that names the array', () => {
  const dense = { kernel: [1, -2, 0.5, 3, 2, -1], bias: [0.1, -0.2], inputs: 3, units: 2 };
  const bn = (n: number) => ({ gamma: new Array(n).fill(1), beta: new Array(n).fill(0), movingMean: new Array(n).fill(0), movingVariance: new Array(n).fill(1), epsilon: 1e-3 });
  const cases: [() => unknown, RegExp][] = [
    [() => keel.inference.foldBatchNormAfterDense(dense, bn(3)),
      /^foldBatchNormAfterDense: expected bn\.gamma to hold 2 values \(one per unit: the BN follows the Dense layer\), received 3\. Pass a Dense layer's weights with those of the BN layer right after it\.$/],
    [() => keel.inference.foldBatchNormBeforeDense(dense, bn(2)),
      /^foldBatchNormBeforeDense: expected bn\.gamma to hold 3 values \(one per input: the BN precedes the Dense layer\), received 2\. .*right before it\.$/],
    [() => keel.inference.foldBatchNormAfterDense({ ...dense, kernel: [1, 2] }, bn(2)), /expected dense\.kernel to hold 6 values \(inputs × units = 3 × 2, row-major \[inputs, units\]\), received 2/],
    [() => keel.inference.foldBatchNormAfterDense({ ...dense, bias: [1] }, bn(2)), /expected dense\.bias to hold 2 values/],
    [() => keel.inference.foldBatchNormAfterDense(dense, { ...bn(2), movingVariance: [1] }), /expected bn\.movingVariance to hold 2 values .*received 1/],
    [() => keel.inference.foldBatchNormAfterDense({ ...dense, units: 0 }, bn(2)), /expected dense\.inputs and dense\.units to be positive integers, received 3 and 0/],
  ];
  for (const [fn, pattern] of cases) {
    assert.throws(fn, (e: Error) => {
      assert.ok(e instanceof keel.ShapeError, `expected a ShapeError, got ${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    });
  }
});
