/**
 * renormClippingSchedule and batchRenormRamp (models/renormSchedule.ts): the ramp's formula, the
 * step count across epochs and a resumed run, warm-up as plain BN, and the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { batchRenormRamp, renormClippingSchedule } from '../../packages/keel/src/models/renormSchedule.js';
import type { BatchNormalization } from '../../packages/keel/src/layers/batchNormalization.js';

test('batchRenormRamp is the paper\'s schedule with linear ramps: plain BN for 5k steps, rmax 3 at 40k, dmax 5 at 25k, rmin = 1/rmax', () => {
  const ramp = batchRenormRamp();
  const at = (t: number) => [ramp.rmax(t), ramp.rmin(t), ramp.dmax(t)];
  assert.deepEqual(at(0), [1, 1, 0]);
  assert.deepEqual(at(5000), [1, 1, 0]);
  assert.deepEqual(at(22_500), [2, 0.5, 5 * (17_500 / 20_000)]);
  assert.deepEqual(at(25_000), [1 + 2 * (20_000 / 35_000), 1 / (1 + 2 * (20_000 / 35_000)), 5]);
  assert.deepEqual(at(40_000), [3, 1 / 3, 5]);
  assert.deepEqual(at(1e6), [3, 1 / 3, 5]);
  const custom = batchRenormRamp({ warmupSteps: 0, rmaxEnd: 2, rmaxEndStep: 10, dmaxEnd: 1, dmaxEndStep: 0 });
  assert.deepEqual([custom.rmax(5), custom.dmax(0)], [1.5, 1]);
  assert.throws(() => batchRenormRamp({ rmaxEnd: 0.5 }), { name: 'ValueError', message: /expected rmaxEnd ≥ 1.*received 0\.5/ });
  assert.throws(() => batchRenormRamp({ warmupSteps: 100, dmaxEndStep: 50 }), { name: 'ValueError', message: /dmaxEndStep ≥ warmupSteps \(100/ });
});

function model(layers: keel.layers.Layer[]): keel.Sequential {
  const m = keel.sequential({ layers: [
    keel.layers.dense({ units: 4, inputShape: [3], kernelInitializer: keel.initializers.randomNormal({ seed: 1 }) }),
    ...layers,
    keel.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: keel.initializers.randomNormal({ seed: 2 }) }),
  ] });
  m.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
  return m;
}

function data(n: number): [keel.Tensor, keel.Tensor] {
  const random = new Random(3);
  return [
    keel.tensor(Float32Array.from({ length: n * 3 }, () => random.normal() * 2 + 1), [n, 3]),
    keel.tensor(Float32Array.from({ length: n * 2 }, (_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 1 : 0)), [n, 2]),
  ];
}

test('the schedule sets every renorm layer\'s bounds before each step, step = epoch·steps + batch, also when resumed', async () => {
  const renormA = keel.layers.batchNormalization({ renorm: true, renormClipping: { rmax: 9 } });
  const renormB = keel.layers.batchNormalization({ renorm: true });
  const plain = keel.layers.batchNormalization();
  const m = model([renormA, keel.layers.activation({ activation: 'relu' }), renormB, plain]);
  const ramp = batchRenormRamp({ warmupSteps: 2, rmaxEndStep: 6, dmaxEndStep: 4 });
  const seen: unknown[] = [];
  const record = new keel.CustomCallback({ onBatchBegin: () => { seen.push([renormA.renormClipping, renormB.renormClipping]); } });
  const [x, y] = data(16);
  await m.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, callbacks: [renormClippingSchedule(ramp), record] });
  const expected = (t: number) => ({ rmax: ramp.rmax(t), rmin: ramp.rmin(t), dmax: ramp.dmax(t) });
  assert.deepEqual(seen, Array.from({ length: 8 }, (_, t) => [expected(t), expected(t)]));
  assert.deepEqual(expected(1), { rmax: 1, rmin: 1, dmax: 0 });
  assert.deepEqual(expected(7), { rmax: 3, rmin: 1 / 3, dmax: 5 });
  // Resumed at epoch 1: the first step is 4.
  seen.length = 0;
  await m.fit(x, y, { epochs: 2, initialEpoch: 1, batchSize: 4, verbose: 0, callbacks: [renormClippingSchedule(ramp), record] });
  assert.deepEqual(seen[0], [expected(4), expected(4)]);
  // A bound without a function keeps the layer's own value.
  await m.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, callbacks: [renormClippingSchedule({ dmax: () => 0.25 })] });
  assert.deepEqual(renormA.renormClipping, { rmax: 3, rmin: 1 / 3, dmax: 0.25 });
});

test('during warm-up (rmax = rmin = 1, dmax = 0) renorm trains the parameters exactly as BN', async () => {
  const [x, y] = data(24);
  const args = { shuffle: false, epochs: 1, batchSize: 8, verbose: 0 as const };
  const renorm = model([keel.layers.batchNormalization({ renorm: true, renormMomentum: 0.5 })]);
  const plain = model([keel.layers.batchNormalization()]);
  await renorm.fit(x, y, { ...args, callbacks: [renormClippingSchedule(batchRenormRamp())] });
  await plain.fit(x, y, args);
  const trainable = (m: keel.Sequential) => m.trainableWeights.map((w) => Array.from(w.value.values));
  const [a, b] = [trainable(renorm), trainable(plain)];
  a.forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - b[i][j]) < 1e-6, `weight ${i}[${j}]: ${v} vs ${b[i][j]}`)));
});

test('refusals: no renorm layer, a schedule that is not functions, a value out of bounds (no layer changed)', async () => {
  const [x, y] = data(8);
  await assert.rejects(model([keel.layers.batchNormalization()]).fit(x, y, { epochs: 1, verbose: 0, callbacks: [renormClippingSchedule({ rmax: () => 2 })] }),
    { name: 'ValueError', message: /no BatchNormalization layer with renorm: true.*renorm: true\}\), or remove the callback/ });
  for (const bad of [{}, { rmax: 3 }, { rmean: () => 1 }, null]) {
    assert.throws(() => renormClippingSchedule(bad as never), { name: 'ValueError', message: /expected an object of functions of the step/ }, JSON.stringify(bad));
  }
  const first = keel.layers.batchNormalization({ renorm: true, renormClipping: { rmax: 2 }, name: 'bn_first' });
  const second = keel.layers.batchNormalization({ renorm: true, name: 'bn_second' });
  const m = model([first, second]);
  await assert.rejects(m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, callbacks: [renormClippingSchedule({ dmax: (t) => (t === 1 ? -1 : 1) })] }),
    { name: 'ValueError', message: /at step 1, for layer 'bn_first': expected renormClipping\.dmax ≥ 0 .*received -1\..*Fix the schedule/ });
  assert.deepEqual([first.renormClipping, second.renormClipping], [{ rmax: 2, dmax: 1 }, { dmax: 1 }]);
});

test('the scheduled bounds change what training computes (r is clipped by the current rmax)', () => {
  const layer = keel.layers.batchNormalization({ renorm: true }) as BatchNormalization;
  const random = new Random(4);
  const x = keel.tensor(Float32Array.from({ length: 30 }, () => random.normal() * 4), [10, 3]); // σ_B ≈ 4 ≫ renormStddev 1
  const free = layer.apply(x, { training: true }).dataSync();
  layer.renormStddev!.value.values.fill(1);
  layer.renormMean!.value.values.fill(0);
  const schedule = renormClippingSchedule({ rmax: () => 1, rmin: () => 1, dmax: () => 0 });
  schedule.setModel({ layers: [layer] });
  schedule.onBatchBegin(0);
  const clipped = layer.apply(x, { training: true }).dataSync();
  const plain = keel.layers.batchNormalization().apply(x, { training: true }).dataSync();
  assert.ok(Math.abs(clipped[0] - plain[0]) < 1e-5);
  assert.ok(Math.abs(free[0] - plain[0]) > 1e-2);
});
