/** recomputeBatchNormStatistics covers spatial BN: per channel, over every image and position. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { randomInputs } from '../io/helpers.js';

test('recomputeBatchNormStatistics of a spatial BN: the exact per-channel mean and biased variance over N·H·W', async () => {
  keel.setRandomSeed(6);
  const conv = keel.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', inputShape: [6, 5, 2] });
  const bn = keel.layers.batchNormalization();
  const model = keel.sequential({ layers: [conv, bn, keel.layers.globalAveragePooling2d(), keel.layers.dense({ units: 2 })] });
  const x = randomInputs(37, [6, 5, 2], 4);
  await keel.recomputeBatchNormStatistics(model, x, { batchSize: 8 });
  // The BN's input is the conv's output on all of x.
  const y = conv.apply(x).dataSync();
  const channels = 3;
  const count = y.length / channels;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  for (let i = 0; i < y.length; i++) mean[i % channels] += y[i] / count;
  for (let i = 0; i < y.length; i++) variance[i % channels] += (y[i] - mean[i % channels]) ** 2 / count;
  const [movingMean, movingVariance] = [bn.movingMean.value.dataSync(), bn.movingVariance.value.dataSync()];
  for (let c = 0; c < channels; c++) {
    assert.ok(Math.abs(movingMean[c] - mean[c]) < 1e-5, `mean[${c}] ${movingMean[c]} vs ${mean[c]}`);
    assert.ok(Math.abs(movingVariance[c] - variance[c]) < 1e-5 * Math.max(1, variance[c]), `variance[${c}]`);
  }
});
