/**
 * A save's options reach the format through the saver's `config` argument: `keel.io.saveModel`
 * hands them to `modelToArtifacts`, and `model.save(destination, config)` hands the saver the model
 * itself with them (no per-call object standing in for the model).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { registerModelSaver, type ModelSaver } from '../../packages/keel/src/models/saving.js';

function compiled(): keel.Sequential {
  keel.setRandomSeed(5);
  const model = keel.sequential({ layers: [keel.layers.dense({ units: 3, inputShape: [2] }), keel.layers.dense({ units: 1 })] });
  model.compile({ optimizer: keel.optimizers.adam({ learningRate: 0.01 }), loss: 'meanSquaredError' });
  return model;
}

async function artifactsOf(save: (handler: keel.io.IOHandler) => Promise<unknown>): Promise<keel.io.ModelArtifacts> {
  let saved: keel.io.ModelArtifacts | undefined;
  await save(keel.io.withSaveHandler(async (a) => { saved = a; }));
  assert.ok(saved, 'the handler was called');
  return saved;
}

const optimizerWeights = (a: keel.io.ModelArtifacts) => a.weightSpecs.filter((w) => w.group === 'optimizer').map((w) => w.name);

test('keel.io.saveModel(model, destination, {includeOptimizer}) passes the option on to the artifacts', async () => {
  const model = compiled();
  const withOptimizer = await artifactsOf((h) => keel.io.saveModel(model, h, { includeOptimizer: true }));
  assert.equal(withOptimizer.trainingConfig?.optimizer_config.class_name, 'Adam');
  assert.equal(optimizerWeights(withOptimizer)[0], 'iter');
  for (const config of [undefined, {}, { includeOptimizer: false }]) {
    const without = await artifactsOf((h) => keel.io.saveModel(model, h, config));
    assert.equal(without.trainingConfig, undefined, JSON.stringify(config));
    assert.deepEqual(optimizerWeights(without), [], JSON.stringify(config));
  }
});

test('model.save(destination, config) gives the registered saver the model itself and the options', async () => {
  const model = compiled();
  const calls: { model: unknown; config: unknown }[] = [];
  const spy: ModelSaver = async (m, destination, config) => {
    calls.push({ model: m, config });
    return keel.io.saveModel(m, destination, config);
  };
  registerModelSaver(spy);
  try {
    const a = await artifactsOf((h) => model.save(h, { includeOptimizer: true }));
    const b = await artifactsOf((h) => model.save(h));
    assert.equal(a.trainingConfig?.optimizer_config.class_name, 'Adam');
    assert.equal(b.trainingConfig, undefined);
    assert.equal(calls.length, 2);
    assert.equal(calls[0].model, model, 'the saver received the model, not an object standing in for it');
    assert.deepEqual(calls[0].config, { includeOptimizer: true });
    assert.equal(calls[1].model, model);
  } finally {
    registerModelSaver(keel.io.saveModel);
  }
});

test('two saves at once with different options do not mix them', async () => {
  const model = compiled();
  const [a, b] = await Promise.all([
    artifactsOf((h) => model.save(h, { includeOptimizer: true })),
    artifactsOf((h) => model.save(h, { includeOptimizer: false })),
  ]);
  assert.ok(a.trainingConfig);
  assert.equal(b.trainingConfig, undefined);
  assert.deepEqual(optimizerWeights(b), []);
});
