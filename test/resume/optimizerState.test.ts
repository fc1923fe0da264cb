/**
 * The optimizer saved with the model (`save(url, {includeOptimizer: true})`), in TF.js 4.22's
 * layout: model.json's `trainingConfig`, and the state after the model's weights in the same
 * manifest, marked group 'optimizer' (`iter` int32 first, then each kind of slot for every weight).
 * Loaded back: a compiled model with the optimizer's class, settings, step count and slots.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';

const x = keel.tensor([[0, 1, 2], [1, 0, 1], [2, 2, 0], [0, 0, 1], [1, 2, 1], [2, 0, 0]]);
const y = keel.tensor([0, 1, 1, 0, 1, 0]);

function trained(optimizer: keel.optimizers.Optimizer | string = keel.optimizers.adam({ learningRate: 0.01 })) {
  keel.setRandomSeed(3);
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 4, inputShape: [3], activation: 'relu', name: 'hidden' }),
    keel.layers.batchNormalization({ name: 'bn' }),
    keel.layers.dense({ units: 2, activation: 'softmax', name: 'out' }),
  ] });
  model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

async function artifactsOf(model: keel.Sequential, config?: { includeOptimizer?: boolean }): Promise<keel.io.ModelArtifacts> {
  let saved: keel.io.ModelArtifacts | undefined;
  await model.save(keel.io.withSaveHandler(async (a) => { saved = a; }), config);
  return saved!;
}

const values = (ts: keel.Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

test('model.json and weights.bin as TF.js lays them out: trainingConfig, iter (int32), every /m then every /v', async () => {
  const model = trained();
  await model.fit(x, y, { epochs: 2, batchSize: 3, verbose: 0, seed: 1 });
  model.optimizer!.learningRate = 0.0025; // as a callback would have set it
  const dir = await mkdtemp(join(tmpdir(), 'keel-optimizer-'));
  try {
    await model.save(`file://${dir}`, { includeOptimizer: true });
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    assert.deepEqual(json.trainingConfig, {
      loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'],
      optimizer_config: { class_name: 'Adam', config: { learning_rate: 0.0025, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 } },
    });
    const specs = json.weightsManifest[0].weights as keel.io.WeightSpec[];
    const modelNames = model.weights.map((w) => w.name);
    assert.deepEqual(specs.slice(0, modelNames.length).map((s) => [s.name, s.group]), modelNames.map((n) => [n, undefined]));
    const trainable = model.trainableWeights.map((w) => w.name);
    assert.deepEqual(specs.slice(modelNames.length).map((s) => s.name), ['iter', ...trainable.map((n) => `${n}/m`), ...trainable.map((n) => `${n}/v`)]);
    assert.ok(specs.slice(modelNames.length).every((s) => s.group === 'optimizer'));
    assert.deepEqual(specs[modelNames.length], { name: 'iter', shape: [], dtype: 'int32', group: 'optimizer' });
    const bytes = await readFile(join(dir, 'weights.bin'));
    const modelBytes = 4 * model.weights.reduce((n, w) => n + w.value.size, 0);
    assert.equal(bytes.readInt32LE(modelBytes), 4); // 2 epochs of 2 batches

    const loaded = await keel.loadLayersModel(`file://${dir}`);
    assert.ok(loaded.optimizer instanceof keel.optimizers.Adam);
    assert.equal(loaded.optimizer.learningRate, 0.0025);
    assert.equal(loaded.optimizer.iterations, 4);
    assert.deepEqual(values(loaded.getWeights()), values(model.getWeights()));
    const slots = async (m: keel.Sequential) => (await m.optimizer!.getWeights()).map((w) => [w.name, Array.from(w.tensor.dataSync())]);
    assert.deepEqual(await slots(loaded), await slots(model));
    // A loaded model that has not trained yet saves the same state again.
    assert.deepEqual(await artifactsOf(loaded, { includeOptimizer: true }), await artifactsOf(model, { includeOptimizer: true }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the slots each optimizer saves: SGD none without momentum, RMSprop rms and only the momentum and mg it uses', async () => {
  const cases: [keel.optimizers.Optimizer, string[]][] = [
    [keel.optimizers.sgd(), []],
    [keel.optimizers.sgd({ momentum: 0.9 }), ['momentum']],
    [keel.optimizers.rmsprop(), ['rms']],
    [keel.optimizers.rmsprop({ momentum: 0.5, centered: true }), ['rms', 'momentum', 'mg']],
    [keel.optimizers.nadam(), ['m', 'v']],
  ];
  for (const [optimizer, kinds] of cases) {
    const model = trained(optimizer);
    await model.fit(x, y, { epochs: 1, batchSize: 6, verbose: 0 });
    const names = (await artifactsOf(model, { includeOptimizer: true })).weightSpecs.filter((s) => s.group === 'optimizer').map((s) => s.name);
    const trainable = model.trainableWeights.map((w) => w.name);
    assert.deepEqual(names, ['iter', ...kinds.flatMap((k) => trainable.map((n) => `${n}/${k}`))], optimizer.getClassName());
    const loaded = await keel.loadLayersModel(keel.io.fromMemory(await artifactsOf(model, { includeOptimizer: true })));
    assert.equal(loaded.optimizer!.getClassName(), optimizer.getClassName());
    assert.deepEqual(loaded.optimizer!.getConfig(), optimizer.getConfig());
  }
});

test('without includeOptimizer (the default) nothing of the optimizer is saved and the loaded model is not compiled', async () => {
  const model = trained();
  await model.fit(x, y, { epochs: 1, batchSize: 3, verbose: 0 });
  for (const config of [undefined, {}, { includeOptimizer: false }]) {
    const a = await artifactsOf(model, config);
    assert.equal(a.trainingConfig, undefined);
    assert.ok(a.weightSpecs.every((s) => s.group === undefined));
    assert.equal((await keel.loadLayersModel(keel.io.fromMemory(a))).optimizer, null);
  }
  // As TF.js: an uncompiled model is saved without optimizer, no error.
  const bare = keel.sequential({ layers: [keel.layers.dense({ units: 2, inputShape: [3] })] });
  assert.equal((await artifactsOf(bare, { includeOptimizer: true })).trainingConfig, undefined);
});

test('save refuses bad options before writing anything', async () => {
  const model = trained();
  let calls = 0;
  const handler = keel.io.withSaveHandler(async () => { calls++; });
  await assert.rejects(model.save(handler, { includOptimizer: true } as never), { name: 'ValueError', message: /unknown option 'includOptimizer'.*Did you mean 'includeOptimizer'/ });
  await assert.rejects(model.save(handler, { includeOptimizer: 'yes' } as never), { name: 'ValueError', message: /expected includeOptimizer to be true or false, received 'yes'/ });
  await assert.rejects(model.save(handler, 'optimizer' as never), { name: 'ValueError', message: /expected options such as \{includeOptimizer: true\}/ });
  assert.equal(calls, 0);
});

test('files whose optimizer state Keel cannot honour are refused with ModelFormatError, naming what and why', async () => {
  const model = trained();
  await model.fit(x, y, { epochs: 1, batchSize: 3, verbose: 0 });
  const good = await artifactsOf(model, { includeOptimizer: true });
  const variant = (edit: (a: keel.io.ModelArtifacts) => void): keel.io.ModelArtifacts => {
    const a = structuredClone({ ...good, weightData: undefined }) as unknown as keel.io.ModelArtifacts;
    a.weightData = (good.weightData as ArrayBuffer).slice(0);
    edit(a);
    return a;
  };
  const spec = (a: keel.io.ModelArtifacts, name: string) => a.weightSpecs.find((s) => s.name === name)!;
  const cases: [string, (a: keel.io.ModelArtifacts) => void, RegExp][] = [
    ['a slot of no weight', (a) => { spec(a, 'out/bias/m').name = 'other/bias/m'; }, /'other\/bias\/m' belongs to no trainable weight/],
    ['a slot of a moving statistic', (a) => { spec(a, 'out/bias/m').name = 'bn/moving_mean/m'; }, /belongs to no trainable weight/],
    ['a slot of the wrong shape', (a) => { spec(a, 'out/bias/m').shape = [1, 2]; }, /'out\/bias\/m' has shape \[1,2\], but its weight has \[2\]/],
    ['an unknown slot', (a) => { spec(a, 'out/bias/m').name = 'out/bias/velocity'; }, /'out\/bias\/velocity' is not a slot of Adam.*m, v/],
    ['a missing slot', (a) => { spec(a, 'out/bias/v').name = 'out/bias/m'; }, /slot 'out\/bias\/m' is given twice/],
    ['no iter', (a) => { spec(a, 'iter').name = 'iterations'; }, /exactly one scalar 'iter'/],
    ['an unknown optimizer', (a) => { a.trainingConfig!.optimizer_config.class_name = 'Adagrad'; }, /Keel has no optimizer 'Adagrad'; expected one of SGD, Adam, RMSprop, Nadam/],
    ['AMSGrad', (a) => { a.trainingConfig!.optimizer_config.config.amsgrad = true; }, /amsgrad is true; Keel's Adam has no amsgrad/],
    ['a bad setting', (a) => { a.trainingConfig!.optimizer_config.config.beta_1 = 2; }, /trainingConfig: optimizer: expected beta1 in \[0, 1\), received 2/],
    ['an unknown loss', (a) => { a.trainingConfig!.loss = 'hinge'; }, /trainingConfig: Unknown loss 'hinge'/],
    ['loss weights', (a) => { a.trainingConfig!.loss_weights = [1]; }, /trainingConfig.loss_weights: not supported/],
    ['an int32 model weight', (a) => { spec(a, 'out/bias').dtype = 'int32'; }, /float32 weights only, received "int32"/],
  ];
  for (const [what, edit, message] of cases) {
    await assert.rejects(keel.loadLayersModel(keel.io.fromMemory(variant(edit))), { name: 'ModelFormatError', message }, what);
  }
  // Optimizer state without a training config is ignored, as TF.js ignores it.
  const noConfig = variant((a) => { delete a.trainingConfig; });
  assert.equal((await keel.loadLayersModel(keel.io.fromMemory(noConfig))).optimizer, null);
});

test('TF.js-style configs load too: camelCase keys, RMSProp with decay, loss and metrics in snake_case', async () => {
  const model = trained(keel.optimizers.rmsprop({ momentum: 0.2 }));
  await model.fit(x, y, { epochs: 1, batchSize: 3, verbose: 0 });
  const a = await artifactsOf(model, { includeOptimizer: true });
  a.trainingConfig = {
    loss: 'sparse_categorical_crossentropy', metrics: ['acc'],
    optimizer_config: { class_name: 'RMSProp', config: { learningRate: 0.003, decay: 0.8, momentum: 0.2, epsilon: 1e-6, centered: false } },
  };
  const loaded = await keel.loadLayersModel(keel.io.fromMemory(a));
  assert.deepEqual(loaded.optimizer!.getConfig(), { learning_rate: 0.003, rho: 0.8, momentum: 0.2, epsilon: 1e-6, centered: false });
  assert.deepEqual(loaded.getTrainingConfig().metrics, ['acc']);
  assert.equal(loaded.getTrainingConfig().loss, 'sparseCategoricalCrossentropy');
});

test('optimizer.getWeights / setWeights (TF.js names): state moves to another optimizer; a refused call changes nothing', async () => {
  const model = trained();
  await model.fit(x, y, { epochs: 1, batchSize: 3, verbose: 0 });
  const state = await model.optimizer!.getWeights();
  assert.deepEqual(state.map((w) => w.name).slice(0, 2), ['iter', 'hidden/kernel/m']);
  assert.equal(state[0].tensor.dataSync()[0], 2);

  const other = keel.optimizers.adam({ learningRate: 0.01 });
  await other.setWeights(state);
  assert.equal(other.iterations, 2);
  assert.deepEqual((await other.getWeights()).map((w) => Array.from(w.tensor.dataSync())), state.map((w) => Array.from(w.tensor.dataSync())));

  const before = await other.getWeights();
  await assert.rejects(other.setWeights(state.slice(1)), { name: 'ValueError', message: /exactly one \{name: 'iter', tensor\}/ });
  await assert.rejects(other.setWeights([...state, { name: 'out/bias/s', tensor: keel.tensor([0, 0]) }]), { name: 'ValueError', message: /'out\/bias\/s' is not a slot of Adam/ });
  await assert.rejects(other.setWeights(state.filter((w) => w.name !== 'out/bias/v')), { name: 'ValueError', message: /missing out\/bias\/v/ });
  assert.equal(other.iterations, 2);
  assert.deepEqual(await other.getWeights(), before);

  // State for a parameter of another shape is refused at the first step, before any weight changes.
  const wrong = keel.optimizers.adam();
  await wrong.setWeights([{ name: 'iter', tensor: keel.tensor([1], []) }, { name: 'hidden/kernel/m', tensor: keel.zeros([2]) }, { name: 'hidden/kernel/v', tensor: keel.zeros([2]) }]);
  const m2 = trained(wrong);
  const weights = values(m2.getWeights());
  await assert.rejects(m2.fit(x, y, { epochs: 1, verbose: 0 }), { name: 'ValueError', message: /restored state of 'hidden\/kernel' has shape \[2\], but the parameter has shape \[3,4\]/ });
  assert.deepEqual(values(m2.getWeights()), weights);
  assert.equal(wrong.iterations, 1);
});
