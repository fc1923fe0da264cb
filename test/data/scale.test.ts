/**
 * The chapter's claim, made testable: "if BN is added at the very beginning of the model, the
 * training set does not need to be standardized". The same seed model trained on raw 0-255 pixels
 * and on pixels scaled to [0, 1] follows (almost) the same trajectory, because its first layer
 * standardizes each pixel per batch; the model without BN does not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import * as datasets from 'keel-datasets';

/** Running mean of the loss after each of the first `steps` batches. */
async function losses(modelName: string, scale: boolean, steps: number): Promise<number[]> {
  const data = await datasets.fashionMnist({ scale, trainLimit: steps * 32 });
  keel.setRandomSeed(7);
  const model = keel.zoo.buildModel(modelName);
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy' });
  const out: number[] = [];
  await model.fit(data.train.xs, data.train.ys, {
    epochs: 1, batchSize: 32, shuffle: false, verbose: 0,
    callbacks: [{ onBatchEnd: (_b, logs) => { out.push(logs!.loss); } }],
  });
  return out;
}

const maxRelativeGap = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]) / Math.abs(b[i])));

test('with BN first, raw 0-255 inputs train like scaled ones; without BN they do not', async (t) => {
  const steps = 20;
  const seedGap = maxRelativeGap(await losses('seed', false, steps), await losses('seed', true, steps));
  const plainGap = maxRelativeGap(await losses('plain', false, steps), await losses('plain', true, steps));
  t.diagnostic(`loss gap raw vs scaled: seed ${(100 * seedGap).toFixed(2)}%, plain ${(100 * plainGap).toFixed(2)}%`);
  // Not 0 for the seed model: ε = 1e-3 is added to each pixel's variance, which weighs more on
  // the scaled pixels (variance ≤ 0.2) than on the raw ones (variance ≤ 13,000).
  assert.ok(seedGap < 0.05, `seed model: running loss differs by up to ${(100 * seedGap).toFixed(2)}% between raw and scaled inputs`);
  assert.ok(plainGap > 0.5, `plain model: running loss differs by only ${(100 * plainGap).toFixed(2)}%`);
});
