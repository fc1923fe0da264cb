/**
 * Error messages describe what they received in a line, whatever it was: a nested array of 5,000
 * images passed where an option goes once made a message of 3 MB. Each case passes a huge or odd
 * value where one entry point expects a small one, and checks the error's class, that the message
 * is short, and that it still says what was expected and what was received.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { describe } from '../packages/keel/src/layers/serializationChecks.js';
import { registerModelSaver } from '../packages/keel/src/models/saving.js';

/** 5,000 images of 28×28 as nested arrays: String() of this is 3.9 million values long. */
const images = Array.from({ length: 5000 }, () => Array.from({ length: 28 }, () => new Array(28).fill(0.5)));
const imagesDescribed = /a nested array of shape \[5000,28,28\]/;
const longString = 'x'.repeat(1_000_000);
const longStringDescribed = /'x+…' \(a string of 1000000 characters\)/;

type ErrorClass = new (...args: never[]) => Error;

/** [what, the call, the KeelError class expected, a pattern naming what was expected and received]. */
type Case = [string, () => unknown, ErrorClass, RegExp];

function smallModel(): keel.Sequential {
  keel.setRandomSeed(1);
  return keel.sequential({ layers: [
    keel.layers.dense({ units: 3, activation: 'relu', inputShape: [4] }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 2, activation: 'softmax' }),
  ] });
}

/** The artifacts a small model saves, captured in memory. */
async function savedArtifacts(): Promise<keel.io.ModelArtifacts> {
  let captured: keel.io.ModelArtifacts | undefined;
  await smallModel().save(keel.io.withSaveHandler(async (a) => { captured = a; }));
  return captured!;
}

async function check(cases: Case[]): Promise<void> {
  for (const [what, fn, errorClass, pattern] of cases) {
    await assert.rejects(async () => fn(), (e: Error) => {
      assert.ok(e instanceof keel.KeelError, `${what}: expected a KeelError, got ${e.name}: ${String(e.message).slice(0, 200)}`);
      assert.ok(e instanceof errorClass, `${what}: expected a ${errorClass.name}, got ${e.name}`);
      assert.ok(e.message.length < 400, `${what}: a message of ${e.message.length} characters: ${e.message.slice(0, 300)}…`);
      assert.match(e.message, pattern, what);
      return true;
    });
  }
}

test('layer options: a huge value where a number, a name or a shape goes is described', async () => {
  const { dense, batchNormalization, dropout } = keel.layers;
  await check([
    ['Dense units', () => dense({ units: images as never }), keel.ValueError,
      /^Dense: expected units to be a positive integer, received a nested array of shape \[5000,28,28\]/],
    ['dtype', () => dense({ units: 1, dtype: images as never }), keel.ValueError,
      /^Dense: expected dtype 'float32' or 'float64', received a nested array of shape \[5000,28,28\]/],
    ['dtype string', () => dense({ units: 1, dtype: longString as never }), keel.ValueError,
      new RegExp(`^Dense: expected dtype 'float32' or 'float64', received ${longStringDescribed.source}`)],
    ['inputShape', () => dense({ units: 1, inputShape: images as never }), keel.ShapeError,
      /^Dense: inputShape must be an array of positive integers \(batch axis excluded\), received a nested array of shape \[5000,28,28\]/],
    ['batchInputShape', () => dense({ units: 1, batchInputShape: images as never }), keel.ShapeError,
      /^Dense: batchInputShape must be \[null, d1, \.\.\.\] with positive integers d1, \.\.\., received a nested array of shape \[5000,28,28\]/],
    ['batchInputShape number', () => dense({ units: 1, batchInputShape: 784 as never }), keel.ShapeError,
      /^Dense: batchInputShape must be an array \[null, d1, \.\.\.\] \(batch axis first\), received 784\.$/],
    ['layer name', () => dense({ units: 1, name: images as never }), keel.ValueError,
      /^Dense: expected name to be a string such as 'dense_1', received a nested array of shape \[5000,28,28\]/],
    ['model name', () => keel.sequential({ name: images as never }), keel.ValueError,
      /^sequential: expected name to be a string such as 'classifier', received a nested array of shape \[5000,28,28\]/],
    ['BN momentum', () => batchNormalization({ momentum: images as never }), keel.ValueError,
      /^BatchNormalization: expected momentum in \[0, 1\] .*received a nested array of shape \[5000,28,28\]/],
    ['BN epsilon', () => batchNormalization({ epsilon: images as never }), keel.ValueError,
      /^BatchNormalization: expected epsilon > 0 \(default 1e-3\), received a nested array of shape \[5000,28,28\]/],
    ['BN axis', () => batchNormalization({ axis: images as never }), keel.ValueError,
      /^BatchNormalization: expected an integer axis, received a nested array of shape \[5000,28,28\]/],
    ['Dropout rate', () => dropout({ rate: images as never }), keel.ValueError,
      /^Dropout: expected rate in \[0, 1\), received a nested array of shape \[5000,28,28\]/],
  ]);
});

test('an activation that is not a name is a ValueError naming the names, not a TypeError', async () => {
  const { dense, activation } = keel.layers;
  await check([
    ['nested array', () => dense({ units: 1, activation: images as never }), keel.ValueError,
      /^Unknown activation: expected one of the names linear, relu, .*, received a nested array of shape \[5000,28,28\]/],
    ['function', () => activation({ activation: Math.tanh as never }), keel.ValueError,
      /^Unknown activation: expected one of the names linear, relu, .*, received a function tanh\.$/],
    ['number', () => dense({ units: 1, activation: 3 as never }), keel.ValueError, /^Unknown activation: .*received 3\.$/],
    // Names of Object.prototype are not activations (it once returned the Object constructor).
    ['constructor', () => dense({ units: 1, activation: 'constructor' }), keel.ValueError,
      /^Unknown activation 'constructor'\. Expected one of: linear, relu/],
    ['long string', () => dense({ units: 1, activation: longString }), keel.ValueError,
      new RegExp(`^Unknown activation ${longStringDescribed.source}\\. Expected one of: linear`)],
  ]);
});

test('compile: a huge value as the loss or the optimizer is described', async () => {
  const model = smallModel();
  await check([
    ['loss', () => model.compile({ optimizer: 'sgd', loss: images as never }), keel.ValueError,
      /^Unknown loss: expected one of the names sparseCategoricalCrossentropy, .*, received a nested array of shape \[5000,28,28\]/],
    ['loss toString', () => model.compile({ optimizer: 'sgd', loss: 'toString' }), keel.ValueError,
      /^Unknown loss 'toString'\. Expected one of: sparseCategoricalCrossentropy/],
    ['optimizer', () => model.compile({ optimizer: images as never, loss: 'meanSquaredError' }), keel.ValueError,
      /^compile: expected optimizer to be a name or an optimizer object, received a nested array of shape \[5000,28,28\]/],
    ['optimizer constructor', () => model.compile({ optimizer: 'constructor', loss: 'meanSquaredError' }), keel.ValueError,
      /^Unknown optimizer 'constructor'\. Expected one of: sgd, adam, rmsprop, nadam/],
    ['learningRate', () => keel.optimizers.adam({ learningRate: images as never }), keel.ValueError,
      /^optimizer: expected learningRate > 0, received a nested array of shape \[5000,28,28\]/],
    ['momentum', () => keel.optimizers.sgd({ momentum: images as never }), keel.ValueError,
      /^optimizer: expected momentum in \[0, 1\), received a nested array of shape \[5000,28,28\]/],
    ['beta1', () => keel.optimizers.adam({ beta1: longString as never }), keel.ValueError,
      new RegExp(`^optimizer: expected beta1 in \\[0, 1\\), received ${longStringDescribed.source}`)],
  ]);
});

test('setWeights: a huge value in place of a weight is described', async () => {
  const model = smallModel();
  const layer = model.layers[0];
  await check([
    ['layer weight', () => layer.setWeights([images as never, keel.zeros([3])]), keel.ValueError,
      /^Weight 'dense(_\d+)?\/kernel': expected a Tensor of shape \[4,3\], received a nested array of shape \[5000,28,28\]/],
    ['layer weights', () => layer.setWeights(longString as never), keel.ValueError,
      new RegExp(`^dense(_\\d+)?\\.setWeights: expected 2 arrays .*, received ${longStringDescribed.source}`)],
    ['model weights', () => model.setWeights(images as never), keel.ValueError,
      /^sequential(_\d+)?\.setWeights: expected 8 arrays in getWeights\(\) order .*, received 5000\.$/],
  ]);
});

test('saving and loading: a huge destination, handler result or weight data is described', async () => {
  const model = smallModel();
  const artifacts = await savedArtifacts();
  const topology = JSON.parse(JSON.stringify(artifacts.modelTopology)) as { config: { layers: { config: Record<string, unknown> }[] } };
  topology.config.layers[0].config.units = images;
  keel.io.registerIOScheme('read-only://', () => ({ load: async () => artifacts }));
  await check([
    ['save destination', () => model.save(images as never), keel.ValueError,
      /^save: expected a URL string or an IOHandler with a save\(\) method, received a nested array of shape \[5000,28,28\]/],
    ['save handler without save', () => model.save(`read-only://${longString}`), keel.ValueError,
      /^save: the handler for 'read-only:\/\/x+…' \(a string of 1000012 characters\) cannot save\.$/],
    ['load source', () => keel.loadLayersModel(images as never), keel.ValueError,
      /^loadLayersModel: expected a URL string or an IOHandler with a load\(\) method, received a nested array of shape \[5000,28,28\]/],
    ['handler result', () => keel.loadLayersModel({ load: async () => longString as never }), keel.ModelFormatError,
      new RegExp(`^loadLayersModel: the handler returned ${longStringDescribed.source} instead of model artifacts\\.$`)],
    ['weight data', () => keel.loadLayersModel(keel.io.fromMemory({ ...artifacts, weightData: images as never })), keel.ModelFormatError,
      /^weightData\[0\]: expected an ArrayBuffer \(or an array of them\) of float32 values, received a nested array of shape \[28,28\]/],
    ['weight data part', () => keel.loadLayersModel(keel.io.fromMemory({ ...artifacts, weightData: [new ArrayBuffer(8), images] as never })), keel.ModelFormatError,
      /^weightData\[1\]: expected an ArrayBuffer \(or an array of them\) of float32 values, received a nested array of shape \[5000,28,28\]/],
    ['topology value', () => keel.loadLayersModel(keel.io.fromMemory({ ...artifacts, modelTopology: topology })), keel.ModelFormatError,
      /config\.units: expected a positive integer, received a nested array of shape \[5000,28,28\]/],
    ['no model file', () => keel.loadLayersModel(`file://${longString}`), keel.ValueError,
      /^loadLayersModel: no model file at '.*x{200}…'\. Expected the model\.json written by model\.save/],
  ]);
});

test('a value read from a model file is rendered as short JSON, without serializing it whole', () => {
  assert.equal(describe({ mode: 'fan_in', scale: 2, nested: [1, NaN, 'a'] }), '{"mode":"fan_in","scale":2,"nested":[1,null,"a"]}');
  assert.equal(describe([1, undefined, 'a']), '[1,null,"a"]');
  assert.equal(describe(undefined), 'undefined');
  assert.match(describe(images), /^a nested array of shape \[5000,28,28\] \(inferred from its first elements\) holding numbers$/);
  // A million values and a million keys: cut after 80 characters, having read a few dozen values.
  let reads = 0;
  const counted = <T extends object>(target: T): T => new Proxy(target, { get: (t, key, r) => { reads++; return Reflect.get(t, key, r); } });
  const long = counted(new Array(1_000_000).fill(0.25));
  assert.match(describe(long), /^an array of 1000000 numbers$/);
  assert.ok(reads < 100, `${reads} reads of a long array`);
  const wide: Record<string, number> = {};
  for (let i = 0; i < 100_000; i++) wide[`k${i}`] = i;
  reads = 0;
  const d = describe(counted(wide));
  assert.match(d, /^\{"k0":0,"k1":1,.*\.\.\.$/);
  assert.ok(d.length <= 80, d);
  assert.ok(reads < 100, `${reads} reads of a wide object`);
  let deep: unknown[] = [];
  const root = deep;
  for (let i = 0; i < 100_000; i++) { const next: unknown[] = []; deep.push(next); deep = next; }
  assert.ok(describe(root).length <= 200, 'a nesting 100,000 deep is described without a stack overflow');
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  assert.ok(describe(cyclic).length <= 80);
  assert.equal(describe({ get boom(): never { throw new Error('getter'); } }), 'an object with keys {boom}');
});

test('inference, diagnostics, the zoo, data and the saver registry describe what they received', async () => {
  await check([
    ['foldBatchNorm', () => keel.foldBatchNorm(images as never), keel.ValueError,
      /^foldBatchNorm: expected a Sequential model or a functional one \(keel\.model\), received a nested array of shape \[5000,28,28\]/],
    ['diagnostics every', () => keel.diagnostics.diagnostics({ every: images as never }), keel.ValueError,
      /^diagnostics: expected every to be a positive integer \(batches\), received a nested array of shape \[5000,28,28\]/],
    ['zoo', () => keel.zoo.buildModel(longString), keel.ValueError,
      new RegExp(`^buildModel: unknown model ${longStringDescribed.source}\\. Expected one of: `)],
    // Refused before it replaces the saver that model.save uses.
    ['model saver', () => registerModelSaver(images as never), keel.ValueError,
      /^registerModelSaver: expected a function \(model, destination\) => Promise<SaveResult>, received a nested array of shape \[5000,28,28\]/],
    ['split label', () => keel.data.stratifiedSplit([images] as never, 10), keel.DataError,
      /^stratifiedSplit: label a nested array of shape \[5000,28,28\].* at index 0 is not a class index in \[0, 10\)\.$/],
  ]);
});
