/**
 * The functional API as a user meets it: keel.input, layer.apply on symbolic tensors, keel.model;
 * training, evaluation and prediction through the same methods as a Sequential, with several
 * inputs; the refusals (shared layers, disconnected graphs, unmergeable shapes, several outputs),
 * each with its message; getLayer; summary's "Connected to" column; the zoo's ResNet-20 against
 * Keras's parameter count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';

const L = keel.layers;

test('a residual MLP trains with fit, evaluates, predicts and steps with trainOnBatch', async () => {
  keel.setRandomSeed(1);
  const x = keel.input({ shape: [4] });
  const h = L.dense({ units: 8, activation: 'relu' }).apply(x);
  const r = L.add().apply([h, L.dense({ units: 8 }).apply(L.batchNormalization().apply(h))]);
  const out = L.dense({ units: 2, activation: 'softmax' }).apply(r);
  const model = keel.model({ inputs: x, outputs: out, name: 'residual_mlp' });
  assert.equal(model.name, 'residual_mlp');
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const random = new Random(2);
  const xs = Float32Array.from({ length: 200 * 4 }, () => random.normal());
  const ys = Float32Array.from({ length: 200 }, (_, i) => (xs[4 * i] + xs[4 * i + 1] > 0 ? 1 : 0));
  const history = await model.fit(keel.tensor(xs, [200, 4]), keel.tensor(ys), { epochs: 8, batchSize: 20, verbose: 0, validationSplit: 0.2, seed: 3 });
  const acc = history.history.accuracy as number[];
  assert.ok(acc[acc.length - 1] > 0.85, `accuracy ${acc}`);
  assert.ok((history.history.val_loss as number[]).length === 8);
  const [loss, accuracy] = model.evaluate(keel.tensor(xs, [200, 4]), keel.tensor(ys));
  assert.ok(loss.dataSync()[0] < 0.5 && accuracy.dataSync()[0] > 0.85);
  const p = model.predict(keel.tensor(xs.subarray(0, 4), [1, 4]));
  assert.deepEqual(p.shape, [1, 2]);
  const step = await model.trainOnBatch(keel.tensor(xs.subarray(0, 40), [10, 4]), keel.tensor(ys.subarray(0, 10)));
  assert.equal((step as number[]).length, 2);
});

test('a model of two inputs takes x as an array, in fit, evaluate, predict and fitDataset', async () => {
  keel.setRandomSeed(4);
  const a = keel.input({ shape: [3], name: 'a' });
  const b = keel.input({ shape: [2, 2], name: 'b' });
  const out = L.dense({ units: 3, activation: 'softmax' }).apply(L.concatenate().apply([a, L.flatten().apply(b)]));
  const model = keel.model({ inputs: [a, b], outputs: out });
  assert.deepEqual(model.inputShapes, [[3], [2, 2]]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const random = new Random(5);
  const xa = keel.tensor(Float32Array.from({ length: 30 }, () => random.normal()), [10, 3]);
  const xb = keel.tensor(Float32Array.from({ length: 40 }, () => random.normal()), [10, 2, 2]);
  const y = keel.tensor(Float32Array.from({ length: 10 }, (_, i) => i % 3));
  await model.fit([xa, xb], y, { epochs: 2, batchSize: 4, verbose: 0 });
  const [loss] = model.evaluate([xa, xb], y);
  assert.ok(Number.isFinite(loss.dataSync()[0]));
  assert.deepEqual(model.predict([xa, xb]).shape, [10, 3]);
  const history = await model.fitDataset([{ xs: [xa, xb], ys: y }], { epochs: 1, verbose: 0 });
  assert.equal((history.history.loss as number[]).length, 1);
  assert.throws(() => model.predict(xa), { name: 'ValueError', message: /the model has 2 inputs \(shapes \[null,3\], \[null,2,2\]\); expected x as an array of 2 tensors/ });
  assert.throws(() => model.predict([xa, keel.tensor(new Float32Array(36), [9, 2, 2])]), { name: 'ShapeError', message: /x\[0\] holds 10 examples but x\[1\] holds 9/ });
  assert.throws(() => model.predict([xa, xa]), { name: 'ShapeError', message: /expected x\[1\] of shape \[null,2,2\]/ });
});

test('a layer applied twice is refused: Keel shares no layer between two places of a graph', () => {
  const x = keel.input({ shape: [3] });
  const dense = L.dense({ units: 3, name: 'twice' });
  const once = dense.apply(x);
  assert.throws(() => dense.apply(once), {
    name: 'ValueError',
    message: /layer 'twice' is already applied in a graph .*Create another layer for the second use \(and copy the weights with setWeights/,
  });
  // The same layer also cannot join a Sequential after a merge.
  assert.throws(() => keel.sequential({ layers: [L.dense({ units: 2, inputShape: [3] }), L.add()] }), { name: 'ValueError', message: /has one path; build the model with keel.model/ });
});

test('a graph that needs an input not given, or has an input that leads nowhere, is refused', () => {
  const a = keel.input({ shape: [3], name: 'given' });
  const b = keel.input({ shape: [3], name: 'forgotten' });
  const sum = L.add().apply([a, b]);
  assert.throws(() => keel.model({ inputs: a, outputs: sum }), { name: 'ValueError', message: /disconnected: output '.*' needs input 'forgotten'.*add it to inputs/ });
  const c = keel.input({ shape: [3], name: 'unused' });
  assert.throws(() => keel.model({ inputs: [a, b, c], outputs: sum }), { name: 'ValueError', message: /input 'unused' leads to no output/ });
  assert.throws(() => keel.model({ inputs: sum, outputs: sum }), { name: 'ValueError', message: /inputs\[0\] .* is the output of a Add layer, not of keel.input/ });
  assert.throws(() => keel.model({ inputs: a, outputs: 'y' as never }), { name: 'ValueError', message: /expected outputs to be a SymbolicTensor/ });
});

test('merge layers check shapes with clear errors, symbolically and on tensors', () => {
  const a = keel.input({ shape: [4, 3] });
  const b = keel.input({ shape: [4, 2] });
  assert.throws(() => L.add().apply([a, b]), { name: 'ShapeError', message: /Add expects inputs of one shape, received \[null,4,3\], \[null,4,2\]/ });
  assert.throws(() => L.multiply().apply([a, b]), { name: 'ShapeError', message: /Multiply expects inputs of one shape/ });
  assert.throws(() => L.concatenate({ axis: 1 }).apply([a, b]), { name: 'ShapeError', message: /along axis 1 expects inputs equal on every other axis, received \[null,4,3\], \[null,4,2\]/ });
  assert.deepEqual(L.concatenate().apply([a, b]).shape, [4, 5]);
  assert.throws(() => L.concatenate({ axis: 3 }).apply([a, b]), { name: 'ShapeError', message: /axis 3 does not exist for inputs of rank 3/ });
  assert.throws(() => L.concatenate({ axis: 0 }), { name: 'ValueError', message: /0 is the batch axis/ });
  assert.throws(() => L.add().apply([a]), { name: 'ValueError', message: /takes an array of at least 2 tensors, received 1/ });
  assert.throws(() => L.dense({ units: 2 }).apply([a, b]), { name: 'ValueError', message: /takes one input, received 2; merge tensors first/ });
  const t = keel.tensor([[1, 2]]);
  assert.deepEqual(Array.from(L.add().apply([t, t]).dataSync()), [2, 4]);
  assert.throws(() => L.add().apply(t), { name: 'ValueError', message: /takes an array of tensors/ });
  assert.throws(() => L.average().apply([t, keel.tensor([[1, 2, 3]])]), { name: 'ShapeError', message: /Average expects inputs of one shape, received \[null,2\], \[null,3\]/ });
});

test('several outputs are refused with the way out; add() on a functional model says what to do', () => {
  const x = keel.input({ shape: [3] });
  const y1 = L.dense({ units: 2 }).apply(x);
  const y2 = L.dense({ units: 2 }).apply(x);
  assert.throws(() => keel.model({ inputs: x, outputs: [y1, y2] }), { name: 'ValueError', message: /Keel builds models of one output, received 2.*one model per output/ });
  const model = keel.model({ inputs: x, outputs: y1 });
  assert.throws(() => model.add(L.dense({ units: 1 })), { name: 'StateError', message: /only a Sequential takes layers one by one/ });
});

test('getLayer finds a layer by name or index; its errors list the layers', () => {
  const x = keel.input({ shape: [3], name: 'the_input' });
  const out = L.dense({ units: 2, name: 'the_dense' }).apply(x);
  const model = keel.model({ inputs: x, outputs: out });
  assert.equal(model.getLayer('the_dense').getClassName(), 'Dense');
  assert.equal(model.getLayer(undefined, 0).getClassName(), 'InputLayer');
  assert.equal(model.getLayer(1).name, 'the_dense');
  assert.throws(() => model.getLayer('nope'), { name: 'ValueError', message: /has no layer named 'nope'; its layers are 'the_input', 'the_dense'/ });
  assert.throws(() => model.getLayer(5), { name: 'ValueError', message: /an index in \[0, 1\], received 5/ });
  const seq = keel.sequential({ layers: [L.dense({ units: 2, inputShape: [3], name: 'seq_dense' })] });
  assert.equal(seq.getLayer('seq_dense'), seq.layers[0]);
});

test("summary has Keras 2's Connected to column, one input per line", () => {
  const x = keel.input({ shape: [4], name: 'in_s' });
  const a = L.dense({ units: 3, name: 'da' }).apply(x);
  const b = L.dense({ units: 3, name: 'db' }).apply(x);
  const model = keel.model({ inputs: x, outputs: L.add({ name: 'plus' }).apply([a, b]), name: 'm_summary' });
  const lines: string[] = [];
  model.summary(undefined, undefined, (l) => lines.push(l));
  const rule = '_'.repeat(98);
  const row = (a0: string, a1: string, a2: string, a3: string) => `${a0.padEnd(32)}${a1.padEnd(21)}${a2.padEnd(12)}${a3}`.padEnd(98);
  assert.deepEqual(lines, [
    'Model: "m_summary"', rule,
    row('Layer (type)', 'Output Shape', 'Param #', 'Connected to'), '='.repeat(98),
    row('in_s (InputLayer)', '[(None, 4)]', '0', ''), rule,
    row('da (Dense)', '(None, 3)', '15', 'in_s[0][0]'), rule,
    row('db (Dense)', '(None, 3)', '15', 'in_s[0][0]'), rule,
    row('plus (Add)', '(None, 3)', '0', 'da[0][0]'),
    row('', '', '', 'db[0][0]'), '='.repeat(98),
    'Total params: 30', 'Trainable params: 30', 'Non-trainable params: 0', rule,
  ]);
});

test("zoo resnet is ResNet-20 with Keras 3's parameter count for the same architecture", () => {
  const model = keel.zoo.buildModel('resnet');
  // Keras 3.15 (KERAS_BACKEND=jax), the same layers built with keras.Input((28, 28)), Reshape,
  // Conv2D(padding='same', use_bias=False), BatchNormalization, Add, GlobalAveragePooling2D and
  // Dense(10, softmax): model.count_params() = 273754, trainable 272186, 74 layers.
  assert.equal(model.countParams(), 273754);
  assert.equal(model.trainableWeights.reduce((n, v) => n + v.value.size, 0), 272186);
  assert.equal(model.layers.length, 74);
  const convs = model.layers.filter((l) => l instanceof keel.layers.Conv2D).length;
  assert.equal(convs, 19 + 2, '19 convolutions on the main path (with the Dense, 20 layers) and 2 projections');
  assert.deepEqual(model.outputShape, [10]);
  // Depths 6n + 2 and the plain control.
  assert.equal(keel.zoo.buildResnet({ blocksPerStage: 1 }).layers.filter((l) => l instanceof keel.layers.Add).length, 3);
  assert.equal(keel.zoo.buildResnet({ blocksPerStage: 9, residual: false }).layers.filter((l) => l instanceof keel.layers.Add).length, 0);
});

test('zoo resnet with fixup: branches start at zero, their first convolutions scaled by L^-1/2, and every block is its shortcut', () => {
  keel.setRandomSeed(5);
  const blocksPerStage = 3; // L = 9 branches
  const model = keel.zoo.buildResnet({ blocksPerStage, normalize: null, fixup: true, kernelInitializer: 'heNormal' });
  const convs = model.layers.filter((l): l is keel.layers.Conv2D => l instanceof keel.layers.Conv2D);
  const kernels = convs.map((c) => c.getWeights()[0]);
  const std = (t: keel.Tensor) => {
    const v = t.dataSync();
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * v[i];
    return Math.sqrt(s / v.length);
  };
  // Order of the convolutions: the stem, then per block its two (and a projection after the first
  // block of stages 2 and 3, built before the Add).
  let at = 1;
  let branches = 0;
  for (let stage = 0; stage < 3; stage++) {
    for (let b = 0; b < blocksPerStage; b++) {
      const [first, last] = [kernels[at], kernels[at + 1]];
      const fanIn = first.shape[0] * first.shape[1] * first.shape[2];
      const expected = Math.sqrt(2 / (9 * fanIn));
      assert.ok(Math.abs(std(first) / expected - 1) < 0.15, `block ${stage}.${b}: first convolution std ${std(first)} vs ${expected}`);
      assert.equal(std(last), 0, `block ${stage}.${b}: the branch's last convolution starts at zero`);
      at += stage > 0 && b === 0 ? 3 : 2;
      branches++;
    }
  }
  assert.equal(branches, 9);
  assert.equal(at, kernels.length, 'every convolution was looked at');
  assert.equal(std(model.layers.at(-1)!.getWeights()[0]), 0, 'the classifier starts at zero');
  // Every branch adds nothing at the start: the network is its stem and shortcuts, so its output
  // (with a classifier that is not zero) stays the same when a block's first convolution changes.
  const dense = model.layers.at(-1)!;
  const [dk, db] = dense.getWeights();
  dense.setWeights([keel.tensor(Float32Array.from({ length: dk.size }, (_, i) => Math.cos(i)), dk.shape), db]);
  const x = keel.tensor(Float32Array.from({ length: 2 * 784 }, (_, i) => Math.abs(Math.sin(i))), [2, 28, 28]);
  const before = (model.predict(x) as keel.Tensor).dataSync().slice();
  convs[1].setWeights([keel.tensor(kernels[1].dataSync().map((v) => v * 3 + 0.1), kernels[1].shape), convs[1].getWeights()[1]]);
  const after = (model.predict(x) as keel.Tensor).dataSync();
  assert.deepEqual(Array.from(after), Array.from(before));
  assert.ok(before.some((v) => Math.abs(v - 0.1) > 1e-4), 'the output is not the uniform one');
  // Fixup is the norm-free control: with BN or without shortcuts it is refused.
  assert.throws(() => keel.zoo.buildResnet({ fixup: true }), /fixup initializes a norm-free residual network.*normalize: null/);
  assert.throws(() => keel.zoo.buildResnet({ fixup: true, normalize: null, residual: false }), /received residual: false/);
});

test('a Sequential and the functional model of the same path train to the same bits (one training loop)', async () => {
  const make = (functional: boolean): keel.LayersModel => {
    keel.setRandomSeed(21);
    const stack = [
      L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', useBias: false, inputShape: [5, 5, 1] }),
      L.batchNormalization(), L.activation({ activation: 'relu' }), L.flatten(), L.dense({ units: 3, activation: 'softmax' }),
    ];
    if (!functional) return keel.sequential({ layers: stack });
    const input = keel.input({ shape: [5, 5, 1] });
    let t = input;
    for (const layer of stack) t = layer.apply(t);
    return keel.model({ inputs: input, outputs: t });
  };
  const random = new Random(22);
  const x = keel.tensor(Float32Array.from({ length: 40 * 25 }, () => random.normal()), [40, 5, 5, 1]);
  const y = keel.tensor(Float32Array.from({ length: 40 }, (_, i) => i % 3));
  const weights: number[][][] = [];
  for (const functional of [false, true]) {
    const model = make(functional);
    model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, seed: 5 });
    weights.push(model.getWeights().map((w) => Array.from(w.dataSync())));
  }
  assert.deepEqual(weights[1], weights[0]);
});

test('a functional model saved with its optimizer resumes bit for bit (4 epochs = 2 + 2 after a save and load)', async () => {
  const make = () => {
    keel.setRandomSeed(30);
    const x = keel.input({ shape: [4] });
    const h = L.dense({ units: 6, activation: 'relu' }).apply(x);
    const r = L.add().apply([h, L.batchNormalization().apply(L.dense({ units: 6 }).apply(h))]);
    const model = keel.model({ inputs: x, outputs: L.dense({ units: 3, activation: 'softmax' }).apply(r) });
    model.compile({ optimizer: keel.optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    return model;
  };
  const random = new Random(31);
  const x = keel.tensor(Float32Array.from({ length: 48 * 4 }, () => random.normal()), [48, 4]);
  const y = keel.tensor(Float32Array.from({ length: 48 }, (_, i) => i % 3));
  const fitArgs = { batchSize: 8, verbose: 0, seed: 9 };
  const straight = make();
  await straight.fit(x, y, { ...fitArgs, epochs: 4 });
  const first = make();
  await first.fit(x, y, { ...fitArgs, epochs: 2 });
  let saved: keel.io.ModelArtifacts | undefined;
  await first.save(keel.io.withSaveHandler(async (a) => { saved = a; }), { includeOptimizer: true });
  const loaded = await keel.loadLayersModel(keel.io.fromMemory(saved!));
  assert.notEqual(loaded.optimizer, null);
  await loaded.fit(x, y, { ...fitArgs, epochs: 4, initialEpoch: 2 });
  assert.deepEqual(loaded.getWeights().map((w) => Array.from(w.dataSync())), straight.getWeights().map((w) => Array.from(w.dataSync())));
});
