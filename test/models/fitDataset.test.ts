/**
 * fitDataset and evaluateDataset: the same loop as fit (same steps, logs, callbacks, History), every
 * accepted form of dataset, batchesPerEpoch over one iterator, resume with a seeded shuffle, and
 * every way a dataset can be wrong, refused before the model changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';

const N = 45;
const BATCH = 8; // 45 = 5 × 8 + 5: a small last batch
const xs = keel.tensor(Float32Array.from({ length: N * 6 }, (_, i) => Math.sin(i * 0.7) * 2), [N, 2, 3]);
const ys = keel.tensor(Float32Array.from({ length: N }, (_, i) => (i * 7) % 3), [N]);
const xv = keel.tensor(Float32Array.from({ length: 10 * 6 }, (_, i) => Math.cos(i)), [10, 2, 3]);
const yv = keel.tensor(Float32Array.from({ length: 10 }, (_, i) => i % 3), [10]);

function model(): keel.Sequential {
  keel.setRandomSeed(4);
  const m = keel.sequential({ layers: [
    keel.layers.flatten({ inputShape: [2, 3] }),
    keel.layers.dense({ units: 8, activation: 'relu' }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  m.compile({ optimizer: keel.optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const weightsOf = (m: keel.Sequential) => m.getWeights().map((w) => Array.from(w.dataSync()));

/** The batches fit makes without shuffling, as plain {xs, ys} objects. */
function batches(n = N, size = BATCH): { xs: keel.Tensor; ys: keel.Tensor }[] {
  const out = [];
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size);
    out.push({ xs: keel.slice(xs, [start, 0, 0], [end - start, 2, 3]), ys: keel.slice(ys, start, end - start) });
  }
  return out;
}

/** A callback that records every call with its logs. */
function recorder(calls: unknown[]): keel.Callback {
  const log = (name: string) => (i?: unknown, logs?: unknown) => { calls.push([name, i, logs && { ...(logs as object) }]); };
  return {
    onTrainBegin: log('trainBegin'), onTrainEnd: log('trainEnd'), onEpochBegin: log('epochBegin'), onEpochEnd: log('epochEnd'),
    onBatchBegin: log('batchBegin'), onBatchEnd: log('batchEnd'),
  };
}

test('fitDataset over the batches fit makes is fit: same weights, History, logs and callback calls', async () => {
  const [a, b] = [model(), model()];
  const [callsA, callsB] = [[], []] as unknown[][];
  const ha = await a.fit(xs, ys, { epochs: 3, batchSize: BATCH, shuffle: false, verbose: 0, validationData: [xv, yv], callbacks: [recorder(callsA)] });
  const hb = await b.fitDataset(keel.data.fromTensorSlices({ xs, ys }).batch(BATCH), {
    epochs: 3, verbose: 0, validationData: [xv, yv], callbacks: [recorder(callsB)],
  });
  assert.deepEqual(weightsOf(b), weightsOf(a));
  assert.deepEqual(hb.history, ha.history);
  assert.deepEqual(hb.epoch, [0, 1, 2]);
  assert.deepEqual(callsB, callsA);
  assert.equal(hb.acc, hb.accuracy); // TF.js's spelling reads the same figures
  assert.deepEqual(hb.params, { ...ha.params, samples: 0 });
  assert.deepEqual(hb.params!.metrics, ['loss', 'accuracy', 'val_loss', 'val_accuracy']);
});

test('every accepted form of dataset trains the same: TF.js-style iterator(), generator functions, arrays', async () => {
  const reference = model();
  await reference.fit(xs, ys, { epochs: 2, batchSize: BATCH, shuffle: false, verbose: 0 });
  const forms: [string, unknown][] = [
    ['TF.js-style {iterator()}', { size: 6, iterator: async () => { const it = batches()[Symbol.iterator](); return { next: async () => it.next() }; } }],
    ['async generator function', async function* () { yield* batches(); }],
    ['generator function', function* () { yield* batches(); }],
    ['array of batches', batches()],
    ['keel.data.array of batches', keel.data.array(batches())],
    ['keel.data.generator', keel.data.generator(function* () { yield* batches(); })],
  ];
  for (const [name, dataset] of forms) {
    const m = model();
    await m.fitDataset(dataset as keel.DatasetLike<keel.DatasetBatch>, { epochs: 2, verbose: 0 });
    assert.deepEqual(weightsOf(m), weightsOf(reference), name);
  }
  // A single-use generator object serves one epoch, or several with batchesPerEpoch.
  const once = model();
  const oneEpoch = model();
  await once.fitDataset((async function* () { yield* batches(); })(), { verbose: 0 });
  await oneEpoch.fit(xs, ys, { batchSize: BATCH, shuffle: false, verbose: 0 });
  assert.deepEqual(weightsOf(once), weightsOf(oneEpoch));
});

test('a real TF.js tf.data dataset of Keel batches trains as the array of them; one of TF.js tensors is refused with the fix', async () => {
  const reference = model();
  await reference.fitDataset(batches(), { epochs: 2, verbose: 0 });
  const m = model();
  const h = await m.fitDataset(tf.data.generator((function* () { yield* batches(); }) as never) as unknown as keel.DatasetLike<keel.DatasetBatch>, { epochs: 2, verbose: 0 });
  assert.deepEqual(weightsOf(m), weightsOf(reference));
  assert.equal(h.params!.steps, 0); // a generator's size is unknown (TF.js: null)
  const tfjs = tf.data.array([{ xs: tf.zeros([4, 2, 3]), ys: tf.zeros([4]) }]) as unknown as keel.DatasetLike<keel.DatasetBatch>;
  await assert.rejects(m.fitDataset(tfjs, { verbose: 0 }), { name: 'ValueError', message: /batch 1 of epoch 1: expected x to be a Keel Tensor, .*a tensor of another library/ });
});

test('evaluateDataset is evaluate over the batches; batches limits it', async () => {
  const m = model();
  await m.fit(xs, ys, { batchSize: BATCH, verbose: 0, seed: 1 });
  const [loss, accuracy] = m.evaluate(xs, ys);
  const [dLoss, dAccuracy] = (await m.evaluateDataset(keel.data.fromTensorSlices({ xs, ys }).batch(7))) as keel.Tensor[];
  assert.ok(Math.abs(dLoss.dataSync()[0] - loss.dataSync()[0]) < 1e-6);
  assert.equal(dAccuracy.dataSync()[0], accuracy.dataSync()[0]);
  const [firstTwo] = (await m.evaluateDataset(batches(), { batches: 2 })) as keel.Tensor[];
  const [loss16] = m.evaluate(keel.slice(xs, [0, 0, 0], [16, 2, 3]), keel.slice(ys, 0, 16));
  assert.ok(Math.abs(firstTwo.dataSync()[0] - loss16.dataSync()[0]) < 1e-6);
  // A validation dataset gives the figures of evaluate on its tensors.
  const v = model();
  const h = await v.fitDataset(batches(), { verbose: 0, validationData: keel.data.fromTensorSlices({ xs: xv, ys: yv }).batch(4) });
  const [vLoss, vAccuracy] = v.evaluate(xv, yv);
  assert.ok(Math.abs(h.history.val_loss[0] - vLoss.dataSync()[0]) < 1e-6);
  assert.equal(Math.fround(h.history.val_accuracy[0]), vAccuracy.dataSync()[0]);
});

test('batchesPerEpoch reads one iterator across epochs; a dataset that runs dry ends training with a warning', async (t) => {
  let opened = 0;
  let pulled = 0;
  const endless = { iterator: async () => {
    opened++;
    const all = batches();
    let i = 0;
    return { next: async () => { pulled++; return { value: all[i++ % all.length], done: false }; } };
  } };
  const m = model();
  const seen: number[][] = [];
  const h = await m.fitDataset(endless, {
    epochs: 3, batchesPerEpoch: 4, verbose: 0,
    callbacks: { onEpochBegin: () => { seen.push([]); }, onBatchEnd: (b) => { seen[seen.length - 1].push(b); } },
  });
  assert.equal(opened, 1);
  assert.equal(pulled, 12);
  assert.deepEqual(seen, [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]]);
  assert.equal(h.params!.steps, 4);

  const warn = t.mock.method(console, 'warn', () => {});
  const short = model();
  const hs = await short.fitDataset(keel.data.array(batches()), { epochs: 3, batchesPerEpoch: 4, verbose: 0 }); // 6 batches
  assert.deepEqual(hs.epoch, [0, 1]);
  assert.equal(warn.mock.callCount(), 1);
  assert.match(String(warn.mock.calls[0].arguments[0]), /batchesPerEpoch is 4, but the dataset ran out after 6 batches \(2 into epoch 2\).*12 batches, e\.g\. with \.repeat\(\)/);
  // The short epoch trained on its 2 batches: the same as 6 batches in one epoch.
  const whole = model();
  await whole.fitDataset(batches(), { verbose: 0 });
  assert.deepEqual(weightsOf(short), weightsOf(whole));

  // An infinite keel.data dataset with batchesPerEpoch; without it, refused.
  const repeated = keel.data.fromTensorSlices({ xs, ys }).batch(BATCH).repeat();
  assert.equal(repeated.size, Infinity);
  const hr = await model().fitDataset(repeated, { epochs: 2, batchesPerEpoch: 9, verbose: 0 });
  assert.deepEqual(hr.epoch, [0, 1]);
  await assert.rejects(model().fitDataset(repeated, { epochs: 2, verbose: 0 }), { name: 'ValueError', message: /infinite .*give batchesPerEpoch/ });
});

test('a seeded shuffle gives epoch e the same order when the run is resumed at initialEpoch', async () => {
  const data = () => keel.data.fromTensorSlices({ xs, ys }).shuffle(16, 9).batch(BATCH);
  const straight = model();
  const full = await straight.fitDataset(data(), { epochs: 4, verbose: 0 });
  const resumed = model();
  const first = await resumed.fitDataset(data(), { epochs: 2, verbose: 0 });
  const rest = await resumed.fitDataset(data(), { epochs: 4, initialEpoch: 2, verbose: 0 });
  assert.deepEqual(weightsOf(resumed), weightsOf(straight));
  assert.deepEqual([...first.history.loss, ...rest.history.loss], full.history.loss);
  assert.deepEqual(rest.epoch, [2, 3]);
});

test('stopTraining ends after the current batch, and the iterator is closed', async () => {
  let closed = 0;
  let yielded = 0;
  async function* source() {
    try {
      for (const b of batches()) { yielded++; yield b; }
    } finally {
      closed++;
    }
  }
  const m = model();
  const h = await m.fitDataset(source, { epochs: 5, verbose: 0, callbacks: { onBatchEnd: (b) => { if (b === 2) m.stopTraining = true; } } });
  assert.deepEqual(h.epoch, [0]);
  assert.equal(yielded, 3);
  assert.equal(closed, 1);
});

test('a dataset that is no dataset, empty, or of wrong batches is refused before any callback or change', async () => {
  const m = model();
  const before = weightsOf(m);
  let began = 0;
  const callbacks = { onTrainBegin: () => { began++; } };
  const fit = (d: unknown, args: keel.FitDatasetArgs = {}) => m.fitDataset(d as keel.DatasetLike<keel.DatasetBatch>, { verbose: 0, callbacks, ...args } as keel.FitDatasetArgs<never>);
  const cases: [string, unknown, RegExp, string, keel.FitDatasetArgs?][] = [
    ['a number', 42, /fitDataset: expected a dataset: a keel\.data dataset .* received 42\./, 'ValueError'],
    ['an empty object', {}, /expected a dataset: .* received an empty object \{\}/, 'ValueError'],
    ['a string', 'data.idx', /expected a dataset: .* received 'data\.idx'/, 'ValueError'],
    ['a function returning a number', () => 3, /the dataset function returned 3; expected it to return an iterable or iterator/, 'ValueError'],
    ['an empty dataset', keel.data.array([]), /the dataset yielded no batches; expected at least one \{xs, ys\}/, 'ValueError'],
    ['an empty generator', async function* () {}, /the dataset yielded no batches/, 'ValueError'],
    ['a batch without ys', [{ xs }], /batch 1 of epoch 1: expected each element of the dataset to be a batch \{xs, ys\} \(xs: inputs of shape \[batch, 2, 3\], ys: their labels\), received an object with keys \{xs\}/, 'ValueError'],
    ['a batch that is a tensor', [xs], /expected each element of the dataset to be a batch \{xs, ys\}.*received Tensor\(shape=\[45,2,3\]/, 'ValueError'],
    ['x, y instead of xs, ys', [{ x: xs, y: ys }], /received an object with keys \{x, y\}/, 'ValueError'],
    ['xs of the wrong shape', [{ xs: keel.tensor(new Float32Array(45 * 6), [45, 6]), ys }], /batch 1 of epoch 1: expected x of shape \[null,2,3\].*received \[45,6\]\..*The dataset's batches must be \{xs, ys\} with xs of shape \[batch, 2, 3\]/, 'ShapeError'],
    ['ys of the wrong length', [{ xs, ys: keel.slice(ys, 0, 40) }], /x holds 45 examples but y holds 40 labels/, 'ShapeError'],
    ['labels out of range', [{ xs, ys: keel.tensor(new Float32Array(45).fill(7)) }], /^fitDataset: batch 1 of epoch 1: sparseCategoricalCrossentropy: labels must be integers in \[0, 3\)/, 'ValueError'],
    ['a TF.js-like tensor', [{ xs: { shape: [45, 2, 3], dtype: 'int32', dataSync: () => new Int32Array(270) }, ys }], /a tensor of another library.*keel\.tensor\(await x\.data\(\), x\.shape\)/, 'ValueError'],
    ['a flat typed array', [{ xs: new Float32Array(270), ys }], /x is flat .*keel\.tensor\(x, \[45, 2, 3\]\)/, 'ShapeError'],
    ['NaN inputs', [{ xs: keel.tensor(new Float32Array(270).fill(NaN), [45, 2, 3]), ys }], /^fitDataset: batch 1 of epoch 1: .*NaN/, 'ValueError'],
    ['a generator object for 2 epochs', (async function* () { yield* batches(); })(), /single-use .* 2 epochs each need a new pass\. Pass the generator function itself/, 'ValueError', { epochs: 2 }],
    ['validationSplit', batches(), /validationSplit needs data in memory; give validationData/, 'ValueError', { validationSplit: 0.2 } as keel.FitDatasetArgs],
    ['a validation dataset of wrong batches', batches(), /fitDataset \(validationData\): batch 1: expected x of shape \[null,2,3\]/, 'ShapeError', { validationData: [{ xs: keel.zeros([4, 6]), ys: keel.zeros([4]) }] }],
    ['an empty validation dataset', batches(), /fitDataset \(validationData\): the dataset yielded no batches/, 'ValueError', { validationData: keel.data.array([]) }],
    ['a typo in an option', batches(), /unknown option 'batchPerEpoch'.*Did you mean 'batchesPerEpoch'/, 'ValueError', { batchPerEpoch: 3 } as keel.FitDatasetArgs],
    ['batchesPerEpoch 0', batches(), /expected batchesPerEpoch to be a positive integer, received 0/, 'ValueError', { batchesPerEpoch: 0 }],
  ];
  for (const [name, dataset, message, errorName, args] of cases) {
    await assert.rejects(fit(dataset, args), (e: Error) => {
      assert.ok(e instanceof keel.KeelError, `${name}: ${e}`);
      assert.equal(e.name, errorName, `${name}: ${e.message}`);
      assert.match(e.message, message, name);
      return true;
    }, name);
  }
  assert.equal(began, 0);
  assert.deepEqual(weightsOf(m), before);
  await assert.rejects(keel.sequential({ layers: [keel.layers.dense({ units: 1, inputShape: [1] })] }).fitDataset(batches()), { name: 'StateError', message: /not compiled/ });
  await assert.rejects(m.evaluateDataset(keel.data.array([])), { name: 'ValueError', message: /evaluateDataset: the dataset yielded no batches/ });
  await assert.rejects(m.evaluateDataset(keel.data.array([{ xs }]) as never), { message: /evaluateDataset: batch 1: expected each element/ });
  await assert.rejects(m.evaluateDataset(batches(), { batch: 2 } as keel.EvaluateDatasetArgs), { message: /unknown option 'batch'/ });
});

test('a bad batch later in a pass stops training before its step: the model holds the steps before', async () => {
  const good = batches();
  const bad = [...good.slice(0, 2), { xs: keel.zeros([8, 6]), ys: keel.zeros([8]) }, ...good.slice(2)];
  const m = model();
  await assert.rejects(m.fitDataset(bad, { verbose: 0 }), { name: 'ShapeError', message: /fitDataset: batch 3 of epoch 1: expected x of shape \[null,2,3\]/ });
  const two = model();
  await two.fitDataset(good.slice(0, 2), { verbose: 0 });
  assert.deepEqual(weightsOf(m), weightsOf(two));
  // A batch of a single example cannot train BatchNormalization; the message says so, with the batch.
  await assert.rejects(model().fitDataset([...good.slice(0, 1), { xs: keel.slice(xs, [0, 0, 0], [1, 2, 3]), ys: keel.slice(ys, 0, 1) }], { verbose: 0 }), /batch of 1/);
});

test('a non-finite loss names the epoch and batch', async () => {
  const m = model();
  m.compile({ optimizer: keel.optimizers.sgd({ learningRate: 1e30 }), loss: 'sparseCategoricalCrossentropy' });
  const huge = batches().map((b) => ({ xs: keel.tensor(Array.from(b.xs.dataSync(), (v) => v * 1e30), b.xs.shape), ys: b.ys }));
  await assert.rejects(m.fitDataset(keel.data.array(huge), { epochs: 3, verbose: 0 }), {
    name: 'NonFiniteLossError', message: /^fitDataset: the loss became (NaN|Infinity) at epoch \d, batch \d of 6; training stopped/,
  });
});
