/**
 * What the lab's charts show, checked against plain float64 arithmetic on the same numbers (not
 * against Keel): a training step's BN statistics recovered from the moving averages, the Figure 1
 * percentiles of a unit's input to its nonlinearity, and the layers the MLP builder makes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { LabRun } from '../../packages/keel-lab/src/worker/run.js';
import { buildRunModel, groupsOf } from '../../packages/keel-lab/src/worker/models.js';
import { defaultState, type LabState } from '../../packages/keel-lab/src/state.js';
import { Random } from 'keel';

const STATE: LabState = {
  ...defaultState(), depth: 1, width: 16, activation: 'tanh', initializer: 'glorotUniform', learningRate: 0.05, batchSize: 32, seed: 5,
  a: { norm: 'batch', placement: 'before', layers: [true] }, b: { norm: 'none', placement: 'before', layers: [true] }, layer: 1, feature: 3,
};

function batch(seed: number, n: number): [keel.Tensor, keel.Tensor] {
  const r = new Random(seed);
  return [keel.tensor(Float32Array.from({ length: n * 784 }, () => r.next()), [n, 28, 28]), keel.tensor(Float32Array.from({ length: n }, () => r.int(10)), [n])];
}

/** numpy.percentile's default (linear interpolation between order statistics). */
function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

test('a step\'s BN statistics and Figure 1 percentiles are those of the batch, computed by hand', async () => {
  const run = new LabRun(STATE, STATE.a, 1);
  const [x, y] = batch(1, 32);
  const layers = run.model.layers.map((l) => l.name);
  assert.deepEqual(layers, ['flatten', 'hidden1', 'norm1', 'act1', 'output']);
  const kernel = run.model.layers[1].getWeights()[0].dataSync().slice(); // [784, 16], before the step
  const bn = run.model.layers[2];
  const [gamma, beta] = bn.getWeights().map((w) => w.dataSync().slice());
  const f = STATE.feature;
  // The input of norm1 for feature f: x·W[:, f] (no bias before a BN), in float64.
  const pixels = x.dataSync();
  const h = Array.from({ length: 32 }, (_, i) => {
    let s = 0;
    for (let k = 0; k < 784; k++) s += pixels[i * 784 + k] * kernel[k * 16 + f];
    return s;
  });
  const mean = h.reduce((s, v) => s + v, 0) / 32;
  const variance = h.reduce((s, v) => s + (v - mean) ** 2, 0) / 32;
  await run.step(x, y, 0);
  const { probes, steps } = run.take();
  assert.equal(steps.length, 1);
  assert.equal(probes.length, 1);
  const p = probes[0];
  assert.ok(Math.abs(p.batchMean - mean) < 1e-4 * Math.max(1, Math.abs(mean)), `batch mean ${p.batchMean}, by hand ${mean}`);
  assert.ok(Math.abs(p.batchVariance - variance) < 1e-4 * Math.max(1, variance), `batch variance ${p.batchVariance}, by hand ${variance}`);
  // Keras's update: moving = moving·0.99 + batch·0.01, from 0 and 1.
  assert.ok(Math.abs(p.movingMean - 0.01 * mean) < 1e-6);
  assert.ok(Math.abs(p.movingVariance - (0.99 + 0.01 * variance)) < 1e-6);
  // act1's input is norm1's output: γ·(h − μ)/sqrt(σ² + ε) + β with ε = 1e-3.
  const normalized = h.map((v) => gamma[f] * (v - mean) / Math.sqrt(variance + 1e-3) + beta[f]);
  for (const [key, q] of [['p15', 15], ['p50', 50], ['p85', 85]] as const) {
    assert.ok(Math.abs(p[key] - percentile(normalized, q)) < 1e-4, `${key}: ${p[key]}, by hand ${percentile(normalized, q)}`);
  }
  assert.equal(p.gradientNorms.length, 2);
  assert.ok(p.gradientNorms.every((g) => g > 0 && Number.isFinite(g)));
});

test('the recorder follows every probeEvery-th step, from the step it was told to follow', async () => {
  const run = new LabRun(STATE, STATE.a, 3);
  for (let s = 0; s < 7; s++) await run.step(...batch(s + 10, 32), s);
  assert.deepEqual(run.take().probes.map((p) => p.step), [0, 3, 6]);
  run.follow(1, 0);
  for (let s = 7; s < 12; s++) await run.step(...batch(s + 10, 32), s);
  assert.deepEqual(run.take().probes.map((p) => p.step), [7, 10]);
});

test('a run without BN there has no BN figures, and a diverging run stops and says when', async () => {
  const plain = new LabRun(STATE, STATE.b, 1);
  await plain.step(...batch(2, 32), 0);
  const [p] = plain.take().probes;
  assert.ok(Number.isNaN(p.batchMean) && Number.isNaN(p.movingVariance));
  assert.ok(Number.isFinite(p.p50), 'hidden1 (Dense, tanh) still feeds a nonlinearity');

  const wild: LabState = { ...STATE, initializer: 'normal1', learningRate: 1, activation: 'relu', optimizer: 'sgd', depth: 3, width: 256, a: { ...STATE.b, layers: [true, true, true] } };
  const run = new LabRun(wild, wild.a, 1);
  let s = 0;
  while (!run.stopped && s < 50) await run.step(...batch(s, 32), s++);
  assert.match(run.stopped ?? 'never stopped', /^stopped at step \d+: the loss became (NaN|Infinity|-Infinity) \(the weights blew up/);
});

test('the MLP builder: placement, per-layer switches, and Group Norm groups of at least 2', () => {
  const names = (state: LabState) => buildRunModel(state, state.a).layers.map((l) => `${l.name}:${l.getClassName()}`);
  const base: LabState = { ...STATE, depth: 3, width: 32 };
  assert.deepEqual(names({ ...base, a: { norm: 'batch', placement: 'after', layers: [true, false, true] } }), [
    'flatten:Flatten', 'hidden1:Dense', 'norm1:BatchNormalization', 'hidden2:Dense', 'hidden3:Dense', 'norm3:BatchNormalization', 'output:Dense',
  ]);
  assert.deepEqual(names({ ...base, a: { norm: 'layer', placement: 'before', layers: [false, true, false] } }), [
    'flatten:Flatten', 'hidden1:Dense', 'hidden2:Dense', 'norm2:LayerNormalization', 'act2:Activation', 'hidden3:Dense', 'output:Dense',
  ]);
  assert.deepEqual([16, 32, 64, 100, 128, 256, 300].map(groupsOf), [8, 16, 32, 25, 32, 32, 30]);
});
