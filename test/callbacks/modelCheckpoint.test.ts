/**
 * modelCheckpoint: which epochs (or batches) it saves at and where (filepath placeholders), what it
 * saves (the optimizer too, unless saveWeightsOnly), bad options and placeholders, and real fits
 * writing loadable checkpoints with the atomic file save.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import { scriptedValLoss, smallModel, weightsOf, x, y } from './helpers.js';

/** A stand-in model that records its saves. */
function recorder() {
  const saves: [string, boolean][] = [];
  const model = {
    saves,
    save: async (destination: string | keel.io.IOHandler, config?: { includeOptimizer?: boolean }) => {
      saves.push([destination as string, config?.includeOptimizer ?? false]);
      return {} as keel.io.SaveResult;
    },
  };
  return model;
}

async function drive(cb: keel.callbacks.ModelCheckpoint, values: number[]): Promise<[string, boolean][]> {
  const model = recorder();
  cb.setModel(model);
  cb.onTrainBegin();
  for (let epoch = 0; epoch < values.length; epoch++) {
    cb.onEpochBegin(epoch);
    await cb.onEpochEnd(epoch, { loss: 2 * values[epoch], val_loss: values[epoch] });
  }
  return model.saves;
}

const checkpoint = (args: keel.callbacks.ModelCheckpointArgs) => keel.callbacks.modelCheckpoint(args);

test('every epoch by default, with the optimizer; saveWeightsOnly leaves it out', async () => {
  assert.deepEqual(await drive(checkpoint({ filepath: '/ckpt/e{epoch}' }), [3, 2, 1]),
    [['file:///ckpt/e1', true], ['file:///ckpt/e2', true], ['file:///ckpt/e3', true]]);
  assert.deepEqual(await drive(checkpoint({ filepath: 'ckpt', saveWeightsOnly: true }), [3, 2]), [['file://ckpt', false], ['file://ckpt', false]]);
  // A URL is used as given.
  assert.deepEqual(await drive(checkpoint({ filepath: 'file:///tmp/run/{epoch}' }), [1]), [['file:///tmp/run/1', true]]);
});

test('saveBestOnly: only epochs that strictly beat the best so far; initialValueThreshold is the first value to beat', async () => {
  const best = checkpoint({ filepath: 'best-{epoch}', saveBestOnly: true });
  assert.deepEqual((await drive(best, [0.5, 0.6, 0.4, 0.4, 0.45, 0.3])).map(([d]) => d), ['file://best-1', 'file://best-3', 'file://best-6']);
  // The best carries over to the next fit, so that a better file is not overwritten by a worse one.
  assert.deepEqual(await drive(best, [0.35]), []);
  assert.deepEqual((await drive(checkpoint({ filepath: 'b', saveBestOnly: true, initialValueThreshold: 0.3 }), [0.5, 0.2])).length, 1);
  const accuracy = checkpoint({ filepath: 'a{epoch}', saveBestOnly: true, monitor: 'val_accuracy' });
  assert.equal(accuracy.mode, 'max');
});

test('filepath placeholders as Python formats them: {epoch:02d}, {val_loss:.3f}, {loss:.2e}, {{ }}', async () => {
  const cb = checkpoint({ filepath: 'run/{epoch:03d}-{val_loss:.3f}-{loss:.2e}-{val_loss}-{{literal}}' });
  assert.equal(cb.destination(4, null, { val_loss: 0.123456, loss: 0.0015 }), 'file://run/005-0.123-1.50e-03-0.123456-{literal}');
  assert.equal(cb.destination(11, null, { val_loss: -2.5, loss: 12345 }), 'file://run/012--2.500-1.23e+04--2.5-{literal}');
  assert.equal(checkpoint({ filepath: 'e{epoch:4d}' }).destination(0, null), 'file://e   1');
  assert.equal(checkpoint({ filepath: 'b{epoch}-{batch:02d}', saveFreq: 2 }).destination(1, 4), 'file://b2-05');
});

test('saveFreq N: a save every N batches, counted across epochs', async () => {
  const model = recorder();
  const cb = checkpoint({ filepath: 'c{epoch}-{batch}', saveFreq: 3 });
  cb.setModel(model);
  cb.onTrainBegin();
  for (let epoch = 0; epoch < 2; epoch++) {
    cb.onEpochBegin(epoch);
    for (let batch = 0; batch < 4; batch++) await cb.onBatchEnd(batch, { batch, size: 2, loss: 1 });
    await cb.onEpochEnd(epoch, { loss: 1 });
  }
  assert.deepEqual(model.saves.map(([d]) => d), ['file://c1-3', 'file://c2-2']);
});

test('bad options and placeholders are refused, naming what was expected', () => {
  const cases: [unknown, RegExp][] = [
    [{}, /modelCheckpoint: expected filepath, the folder \(or URL\) to save to/],
    [{ filepath: 'c', saveFreq: 0 }, /expected saveFreq to be an integer >= 1 \('epoch', or the number of batches between saves\), received 0/],
    [{ filepath: 'c', saveFreq: 'batch' }, /expected saveFreq to be an integer >= 1.*received 'batch'/],
    [{ filepath: 'c', mode: 'best' }, /expected mode 'auto', 'min' or 'max'/],
    [{ filepath: 'c', saveBestOnly: true, monitor: 'score' }, /cannot tell whether 'score' should go down or up/],
    [{ filepath: 'c', saveBestOnly: 1 }, /expected saveBestOnly to be true or false/],
    [{ filepath: 'c{epoch:x}' }, /placeholder \{epoch:x\} has a format Keel does not know; expected \[0\]\[width\]\[.precision\] and d, f or e/],
    [{ filepath: 'c{epoch' }, /a '\{' without its '\}' at 1; write '\{\{' for a literal brace/],
    [{ filepath: 'c}' }, /a '\}' without its '\{' at 1/],
    [{ filepath: 'c{}' }, /placeholder \{\} does not name a figure/],
    [{ filepath: 'c{batch}' }, /uses \{batch\}, which only a batch-level saveFreq fills/],
    [{ filepath: 'c', save_best_only: true }, /unknown option 'save_best_only'.*Did you mean 'saveBestOnly'\?/],
  ];
  for (const [args, message] of cases) assert.throws(() => keel.callbacks.modelCheckpoint(args as never), { name: 'ValueError', message });
  assert.throws(() => checkpoint({ filepath: 'e{val_loss:d}' }).destination(0, null, { val_loss: 0.5 }),
    { name: 'ValueError', message: /\{val_loss:d\} formats integers, but the value is 0.5; use a format such as .4f/ });
  assert.throws(() => checkpoint({ filepath: 'e{val_acc}' }).destination(0, null, { loss: 1 }),
    { name: 'ValueError', message: /uses \{val_acc\}, but the logs hold loss; use one of those or epoch/ });
});

test('in a real fit: loadable checkpoints named from the figures, with the optimizer state; fit\'s state is what was saved', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-checkpoint-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const model = smallModel();
  const atEpoch: number[][][] = [];
  await model.fit(x, y, {
    epochs: 3, batchSize: 2, verbose: 0, validationData: [x, y],
    callbacks: [
      scriptedValLoss([0.5, 0.25, 0.75]),
      keel.callbacks.modelCheckpoint({ filepath: join(dir, 'ep{epoch:02d}-{val_loss:.2f}') }),
      keel.callbacks.modelCheckpoint({ filepath: join(dir, 'best'), saveBestOnly: true }),
      { onEpochEnd: () => { atEpoch.push(weightsOf(model)); } },
    ],
  });
  assert.deepEqual((await readdir(dir)).sort(), ['best', 'ep01-0.50', 'ep02-0.25', 'ep03-0.75']);
  for (const [i, name] of ['ep01-0.50', 'ep02-0.25', 'ep03-0.75'].entries()) {
    const loaded = await keel.loadLayersModel(`file://${join(dir, name)}`);
    assert.deepEqual(weightsOf(loaded), atEpoch[i], name);
    assert.equal(loaded.optimizer!.iterations, 2 * (i + 1));
  }
  assert.deepEqual(weightsOf(await keel.loadLayersModel(`file://${join(dir, 'best')}`)), atEpoch[1]);
});

test('in a real fit: placeholders and monitors this fit does not log are refused before training', async () => {
  const model = smallModel();
  const before = weightsOf(model);
  await assert.rejects(model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [keel.callbacks.modelCheckpoint({ filepath: 'never/{val_loss}' })] }),
    { name: 'ValueError', message: /filepath uses \{val_loss\}, which this fit does not log; expected epoch or one of loss, accuracy, acc/ });
  await assert.rejects(model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [keel.callbacks.modelCheckpoint({ filepath: 'never', saveBestOnly: true })] }),
    { name: 'ValueError', message: /saveBestOnly monitors 'val_loss', which this fit does not log \(it logs loss, accuracy, acc\); monitor one of those, or pass validationData/ });
  await assert.rejects(model.fit(x, y, { epochs: 1, verbose: 0, validationData: [x, y], callbacks: [keel.callbacks.modelCheckpoint({ filepath: 'never', saveBestOnly: true, saveFreq: 1 })] }),
    { name: 'ValueError', message: /saveBestOnly monitors 'val_loss', which this fit does not log per batch/ });
  assert.deepEqual(weightsOf(model), before);
});
