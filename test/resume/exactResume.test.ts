/**
 * Exact resume at an epoch boundary: 4 epochs in one fit, and 2 epochs then 2 more resumed (the same
 * model object, or the model saved with its optimizer and loaded back), give the same bits: weights,
 * BN moving statistics, optimizer step count and slots, and the per-epoch figures. Float32 models,
 * every optimizer, every backend.
 */
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { testOnEveryBackend } from '../helpers.js';

const optimizers: Record<string, () => keel.optimizers.Optimizer> = {
  'sgd momentum nesterov': () => keel.optimizers.sgd({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
  adam: () => keel.optimizers.adam({ learningRate: 0.01 }),
  'rmsprop momentum centered': () => keel.optimizers.rmsprop({ learningRate: 0.005, momentum: 0.5, centered: true }),
  nadam: () => keel.optimizers.nadam({ learningRate: 0.01 }),
};

function data(n = 44): { x: keel.Tensor; y: keel.Tensor } {
  const r = new Random(5);
  const x = new Float32Array(n * 6).map(() => r.normal() * 2 + 1);
  const y = new Float32Array(n).map((_, i) => (x[6 * i] + x[6 * i + 1] > 2 ? 1 : 0) + (x[6 * i + 2] > 1 ? 1 : 0));
  return { x: keel.tensor(x, [n, 6]), y: keel.tensor(y, [n]) };
}

function model(makeOptimizer: () => keel.optimizers.Optimizer, dropout = false): keel.Sequential {
  keel.setRandomSeed(11);
  const m = keel.sequential({ layers: [
    keel.layers.dense({ units: 8, inputShape: [6], activation: 'relu', name: 'hidden' }),
    keel.layers.batchNormalization({ name: 'bn' }),
    ...(dropout ? [keel.layers.dropout({ rate: 0.3, seed: 3, name: 'drop' })] : []),
    keel.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
  ] });
  m.compile({ optimizer: makeOptimizer(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const FIT = { batchSize: 8, validationSplit: 0.2, verbose: 0, seed: 7 };

async function state(m: keel.Sequential) {
  return {
    weights: m.getWeights().map((w) => Array.from(w.dataSync())),
    iterations: m.optimizer!.iterations,
    learningRate: m.optimizer!.learningRate,
    slots: (await m.optimizer!.getWeights()).map((w) => [w.name, Array.from(w.tensor.dataSync())]),
  };
}

async function inMemory(m: keel.Sequential): Promise<keel.Sequential> {
  let saved: keel.io.ModelArtifacts | undefined;
  await m.save(keel.io.withSaveHandler(async (a) => { saved = a; }), { includeOptimizer: true });
  return keel.loadLayersModel(keel.io.fromMemory(saved!));
}

for (const [name, makeOptimizer] of Object.entries(optimizers)) {
  testOnEveryBackend(`4 epochs = 2 + 2 resumed from the saved model, bit for bit: ${name}`, async () => {
    const { x, y } = data();
    const straight = model(makeOptimizer);
    const full = await straight.fit(x, y, { ...FIT, epochs: 4 });

    const first = model(makeOptimizer);
    await first.fit(x, y, { ...FIT, epochs: 2 });
    const loaded = await inMemory(first);
    assert.equal(loaded.optimizer!.getClassName(), straight.optimizer!.getClassName());
    assert.deepEqual(loaded.optimizer!.getConfig(), straight.optimizer!.getConfig());
    const rest = await loaded.fit(x, y, { ...FIT, epochs: 4, initialEpoch: 2 });

    assert.deepEqual(await state(loaded), await state(straight));
    assert.deepEqual(rest.epoch, [2, 3]);
    assert.deepEqual(rest.history.loss, full.history.loss.slice(2));
    assert.deepEqual(rest.history.val_loss, full.history.val_loss.slice(2));
  });
}

testOnEveryBackend('the same model object resumed with initialEpoch continues bit for bit, dropout included', async () => {
  const { x, y } = data();
  const straight = model(optimizers.adam, true);
  await straight.fit(x, y, { ...FIT, epochs: 4 });
  const resumed = model(optimizers.adam, true);
  await resumed.fit(x, y, { ...FIT, epochs: 2 });
  await resumed.fit(x, y, { ...FIT, epochs: 4, initialEpoch: 2 });
  assert.deepEqual(await state(resumed), await state(straight));
});
