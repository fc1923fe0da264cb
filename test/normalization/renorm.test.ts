/**
 * Batch Renormalization (`batchNormalization({renorm: true})`): Keel against Keras 3's own numbers
 * (test/golden/keras_renorm.json, written by keras_renorm.py), the exact backward with r and d as
 * constants (finite differences in float64, clipping active and inactive), properties (rmax = rmin =
 * 1 and dmax = 0 is BN; the training output is BN with the renorm statistics when nothing clips),
 * inference and folding as BN, population statistics, the TF.js Layers format, and bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { BatchNormalization, type BatchNormalizationLayerArgs, type RenormClipping } from '../../packages/keel/src/layers/batchNormalization.js';
import { Random } from '../../packages/keel/src/core/random.js';
import { checkLayerGradients } from '../gradcheck.js';
import { maxRelDiff, relErr, testOnEveryBackend } from '../helpers.js';

const golden = JSON.parse(readFileSync(new URL('../golden/keras_renorm.json', import.meta.url), 'utf8'));

const TOL = 2e-5;

function tensorOf(values: number[], shape: number[], dtype: keel.DType = 'float32'): keel.Tensor {
  const t = keel.zeros(shape, dtype);
  t.values.set(values);
  return t;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = TOL): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const err = relErr(actual, expected, 1e-3);
  assert.ok(err < tol, `${what}: relative error ${err.toExponential(2)}\n  keel  ${Array.from(actual).slice(0, 8)}\n  keras ${Array.from(expected).slice(0, 8)}`);
}

/** A BN layer whose renorm r and d, once computed, stay fixed: the stop-gradient made visible to finite differences. */
class HeldCorrection extends BatchNormalization {
  private held: { r: Float64Array; d: Float64Array } | null = null;
  protected override renormCorrection(mean: Float64Array, variance: Float64Array, r: Float64Array, d: Float64Array): void {
    if (!this.held) {
      super.renormCorrection(mean, variance, r, d);
      this.held = { r: Float64Array.from(r), d: Float64Array.from(d) };
    }
    r.set(this.held.r);
    d.set(this.held.d);
  }
}

/** A renorm layer whose renorm statistics are set right after it is built (gradcheck builds it). */
class WithRenormStats extends BatchNormalization {
  constructor(args: BatchNormalizationLayerArgs, private readonly stats: { mean: number; stddev: number }) {
    super(args);
  }
  override build(inputShape: readonly number[]): void {
    super.build(inputShape);
    this.renormMean!.value.values.fill(this.stats.mean);
    this.renormStddev!.value.values.fill(this.stats.stddev);
  }
}

// ---- Keras 3 goldens -----------------------------------------------------------------------

for (const c of golden.renorm) {
  testOnEveryBackend(`renorm matches Keras 3: ${c.name} (outputs, gradients, every buffer, ${c.steps.length} steps)`, () => {
    // The layer is read from Keras 3's own config (renorm: true, renorm_clipping, renorm_momentum...).
    const layer = keel.layers.layerFromJSON({ class_name: 'BatchNormalization', config: c.config }) as BatchNormalization;
    assert.ok(layer.renorm);
    layer.build(c.shape.slice(1));
    assert.deepEqual(layer.weights.map((w) => w.shortName), c.weightNames);
    layer.setWeights(c.weightNames.map((n: string) => tensorOf(c.initial[n], [c.shape.at(-1)])));
    c.steps.forEach((s: any, k: number) => {
      const x = tensorOf(s.x, c.shape);
      const y = layer.forward(x, true);
      assertClose(y.values, s.y, `${c.name} step ${k} y`);
      for (const w of layer.trainableWeights) w.grad!.values.fill(0);
      const dx = layer.backward(tensorOf(s.dy, c.shape), true)!;
      assertClose(dx.values, s.dx, `${c.name} step ${k} dx`);
      for (const w of layer.trainableWeights) assertClose(w.grad!.values, s.grads[w.shortName], `${c.name} step ${k} d${w.shortName}`);
      layer.commitState();
      for (const w of layer.nonTrainableWeights) {
        const err = maxRelDiff(w.value.values, s.buffers[w.shortName]);
        assert.ok(err < TOL, `${c.name} step ${k} ${w.shortName}: ${Array.from(w.value.values)} vs ${s.buffers[w.shortName]}`);
      }
    });
  });
}

test('the first golden case has every kind of clipping: r at rmax and rmin, d at ±dmax, and a feature with none', () => {
  // Guards the fixture's design, recomputed here from its inputs in float64.
  const c = golden.renorm[0];
  const { rmax, rmin, dmax } = c.config.renorm_clipping;
  const [n, f] = c.shape;
  const x = c.steps[0].x;
  const kinds = new Set<string>();
  for (let j = 0; j < f; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * f + j] / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * f + j] - m) ** 2 / n;
    const r = Math.sqrt(v + c.config.epsilon) / c.initial.renorm_stddev[j];
    const d = (m - c.initial.renorm_mean[j]) / c.initial.renorm_stddev[j];
    kinds.add(r > rmax ? 'rmax' : r < rmin ? 'rmin' : 'r free');
    kinds.add(d > dmax ? '+dmax' : d < -dmax ? '-dmax' : 'd free');
  }
  assert.deepEqual([...kinds].sort(), ['+dmax', '-dmax', 'd free', 'r free', 'rmax', 'rmin']);
});

// ---- exact backward -------------------------------------------------------------------------

testOnEveryBackend('gradient: renorm with r and d clipped (all features), float64 finite differences', () => {
  // x ~ N(0, 1) per feature: σ_B/σ ≈ 5 clips at rmax 1.5, (μ_B + 3)/σ ≈ 15 clips at dmax 1; r and d
  // are then locally constant, so the true function's derivative is the stop-gradient one.
  const args = {
    dtype: 'float64' as const, renorm: true, renormClipping: { rmax: 1.5, rmin: 0.5, dmax: 1 },
    gammaInitializer: keel.initializers.randomNormal({ mean: 1, stddev: 0.3, seed: 4 }),
    betaInitializer: keel.initializers.randomNormal({ stddev: 0.3, seed: 5 }),
  };
  checkLayerGradients(new WithRenormStats(args, { mean: -3, stddev: 0.2 }), [8, 3], 'renorm(r at rmax, d at dmax)', 2);
  // r at rmin, d at −dmax.
  checkLayerGradients(new WithRenormStats(args, { mean: 30, stddev: 10 }), [8, 3], 'renorm(r at rmin, d at −dmax)', 3, 0.2);
  // NHWC, per channel over N×H×W.
  checkLayerGradients(new WithRenormStats(args, { mean: -3, stddev: 0.2 }), [3, 2, 2, 3], 'renorm(rank 4, clipped)', 4);
});

testOnEveryBackend('gradient: renorm without clipping, r and d held as the stop-gradient holds them, float64', () => {
  const args = {
    dtype: 'float64' as const, renorm: true,
    gammaInitializer: keel.initializers.randomNormal({ mean: 1, stddev: 0.3, seed: 6 }),
    betaInitializer: keel.initializers.randomNormal({ stddev: 0.3, seed: 7 }),
    movingMeanInitializer: keel.initializers.constant({ value: 0.3 }),
    movingVarianceInitializer: keel.initializers.constant({ value: 1.7 }),
  };
  const grads = checkLayerGradients(new HeldCorrection(args), [7, 4], 'renorm(no clipping)', 5);
  checkLayerGradients(new HeldCorrection({ ...args, scale: false, center: false }), [6, 3], 'renorm(no γ, β)', 6);
  checkLayerGradients(new HeldCorrection(args), [2, 3, 2, 4], 'renorm(rank 4, no clipping)', 7);
  // r ≠ 1 and d ≠ 0 here, so dγ is not plain BN's Σdy·x̂: the fixture of the test is not degenerate.
  const plain = keel.layers.batchNormalization({ dtype: 'float64', gammaInitializer: args.gammaInitializer, betaInitializer: args.betaInitializer });
  const plainGrads = checkLayerGradients(plain, [7, 4], 'bn', 5);
  assert.ok(relErr(grads[1], plainGrads[1]) > 1e-3);
});

// ---- properties -----------------------------------------------------------------------------

testOnEveryBackend('renorm with rmax = rmin = 1 and dmax = 0 trains exactly as BN (output and gradients)', () => {
  const random = new Random(8);
  const x = keel.tensor(Float32Array.from({ length: 40 }, () => random.normal() * 2 + 1), [10, 4]);
  const dy = keel.tensor(Float32Array.from({ length: 40 }, () => random.normal()), [10, 4]);
  const init = { gammaInitializer: keel.initializers.randomNormal({ mean: 1, seed: 9 }), betaInitializer: keel.initializers.randomNormal({ seed: 10 }) };
  const renorm = keel.layers.batchNormalization({ ...init, renorm: true, renormClipping: { rmax: 1, rmin: 1, dmax: 0 },
    movingMeanInitializer: keel.initializers.constant({ value: 5 }) }); // far renorm statistics: clipping does all the work
  const bn = keel.layers.batchNormalization(init);
  const run = (layer: keel.layers.BatchNormalization) => {
    layer.build([4]);
    const y = Float32Array.from(layer.forward(x, true).values);
    for (const w of layer.trainableWeights) w.grad!.values.fill(0);
    const dx = Float32Array.from(layer.backward(dy, true)!.values);
    return [y, dx, ...layer.trainableWeights.map((w) => Float32Array.from(w.grad!.values))];
  };
  const [a, b] = [run(renorm), run(bn)];
  a.forEach((v, i) => assert.ok(relErr(v, b[i]) < 1e-6, `output ${i}: ${relErr(v, b[i])}`));
});

testOnEveryBackend('renorm output statistics: mean γd + β and std |γ|·r·σ_B/sqrt(σ²_B + ε); unclipped, y = γ(x − renormMean)/renormStddev + β', () => {
  const random = new Random(11);
  const [n, f] = [50, 3];
  const x = keel.tensor(Float32Array.from({ length: n * f }, (_, i) => random.normal() * (1 + (i % f)) + (i % f)), [n, f]);
  const gamma = [1.5, -0.7, 0.9];
  const beta = [0.2, -0.1, 0.4];
  const renormMean = [0.5, 0.7, 2.6];
  const renormStddev = [1.1, 1.9, 2.8];
  for (const renormClipping of [{}, { rmax: 1.05, rmin: 0.95, dmax: 0.05 }]) {
    const layer = keel.layers.batchNormalization({ renorm: true, renormClipping, epsilon: 1e-3 });
    layer.build([f]);
    layer.gamma!.value.values.set(gamma);
    layer.beta!.value.values.set(beta);
    layer.renormMean!.value.values.set(renormMean);
    layer.renormStddev!.value.values.set(renormStddev);
    const y = layer.forward(x, true).values;
    const xv = x.values;
    for (let j = 0; j < f; j++) {
      const col = (v: ArrayLike<number>) => Array.from({ length: n }, (_, i) => v[i * f + j]);
      const mean = (v: number[]) => v.reduce((s, e) => s + e, 0) / n;
      const std = (v: number[]) => Math.sqrt(mean(v.map((e) => (e - mean(v)) ** 2)));
      const [xs, ys] = [col(xv), col(y)];
      const sigmaB = Math.sqrt(std(xs) ** 2 + 1e-3);
      const { rmax = Infinity, rmin = 0, dmax = Infinity } = renormClipping as RenormClipping;
      const r = Math.min(rmax, Math.max(rmin, sigmaB / renormStddev[j]));
      const d = Math.min(dmax, Math.max(-dmax, (mean(xs) - renormMean[j]) / renormStddev[j]));
      assert.ok(Math.abs(mean(ys) - (gamma[j] * d + beta[j])) < 1e-5, `feature ${j} mean ${mean(ys)} vs ${gamma[j] * d + beta[j]}`);
      const expectedStd = (Math.abs(gamma[j]) * r * std(xs)) / sigmaB;
      assert.ok(Math.abs(std(ys) - expectedStd) < 1e-5 * expectedStd, `feature ${j} std ${std(ys)} vs ${expectedStd}`);
      if (Object.keys(renormClipping).length === 0) {
        const direct = xs.map((v) => (gamma[j] * (v - renormMean[j])) / renormStddev[j] + beta[j]);
        assert.ok(relErr(ys, direct) < 1e-5, `feature ${j}: unclipped renorm is BN with the renorm statistics`);
      }
    }
  }
});

testOnEveryBackend('renorm inference is BN with the moving statistics; r and d play no part', () => {
  const random = new Random(12);
  const x = keel.tensor(Float32Array.from({ length: 24 }, () => random.normal()), [6, 4]);
  const renorm = keel.layers.batchNormalization({ renorm: true, renormClipping: { rmax: 2, dmax: 1 } });
  const bn = keel.layers.batchNormalization();
  renorm.build([4]);
  bn.build([4]);
  const values = [[1.2, 0.8, 1, 0.5], [0.1, -0.2, 0.3, 0], [0.4, -1, 0, 2], [0.5, 2, 1.5, 0.7]];
  renorm.setWeights([...values.map((v) => keel.tensor(v)), keel.tensor([9, 9, 9, 9]), keel.tensor([-5, 5, 3, 1]), keel.tensor([7, 0.1, 3, 2])]);
  bn.setWeights(values.map((v) => keel.tensor(v)));
  assert.deepEqual(renorm.apply(x).dataSync(), bn.apply(x).dataSync());
  // A frozen renorm layer runs in inference mode too.
  renorm.trainable = false;
  assert.deepEqual(renorm.apply(x, { training: true }).dataSync(), bn.apply(x).dataSync());
});

// ---- models: folding, population statistics ----------------------------------------------------

function renormModel(): keel.Sequential {
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 6, inputShape: [5], kernelInitializer: keel.initializers.randomNormal({ seed: 13 }) }),
    keel.layers.batchNormalization({ renorm: true, renormClipping: { rmax: 2, rmin: 0.5, dmax: 1 }, renormMomentum: 0.8, momentum: 0.7 }),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: keel.initializers.randomNormal({ seed: 14 }) }),
  ] });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
  return model;
}

function data(n: number, seed: number): [keel.Tensor, keel.Tensor] {
  const random = new Random(seed);
  const x = keel.tensor(Float32Array.from({ length: n * 5 }, () => random.normal() * 2 + 1), [n, 5]);
  const y = keel.tensor(Float32Array.from({ length: n * 3 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0)), [n, 3]);
  return [x, y];
}

testOnEveryBackend('a trained Dense → BN(renorm) model folds into the Dense and predicts the same within 1e-5', async () => {
  const model = renormModel();
  const [x, y] = data(64, 15);
  await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
  const { model: folded, folded: report, notFolded } = keel.foldBatchNorm(model);
  assert.deepEqual(report.map((r) => r.direction), ['intoPrevious']);
  assert.deepEqual(notFolded, []);
  assert.equal(folded.layers.filter((l) => l instanceof keel.layers.BatchNormalization).length, 0);
  const diff = relErr(folded.predict(x).dataSync(), model.predict(x).dataSync(), 1);
  assert.ok(diff < 1e-5, `max |diff| ${diff}`);
});

testOnEveryBackend('recomputeBatchNormStatistics sets a renorm layer\'s moving mean, variance and stddev, and leaves renorm_mean/renorm_stddev', async () => {
  const model = renormModel();
  const [x, y] = data(48, 16);
  await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
  const bn = model.layers[1] as BatchNormalization;
  const renormBefore = [bn.renormMean!.read().dataSync(), bn.renormStddev!.read().dataSync()];
  const [stats] = await keel.recomputeBatchNormStatistics(model, x, { batchSize: 20 });
  const h = model.layers[0].apply(x).dataSync();
  for (let j = 0; j < 6; j++) {
    let m = 0;
    for (let i = 0; i < 48; i++) m += h[i * 6 + j] / 48;
    let v = 0;
    for (let i = 0; i < 48; i++) v += (h[i * 6 + j] - m) ** 2 / 48;
    assert.ok(Math.abs(bn.movingMean.value.values[j] - m) < 1e-5 * Math.max(1, Math.abs(m)));
    assert.ok(Math.abs(bn.movingVariance.value.values[j] - v) < 1e-5 * Math.max(1, v));
    // Keras's renorm invariant: movingVariance = movingStddev² − ε.
    const s = bn.movingStddev!.value.values[j];
    assert.ok(Math.abs(s * s - bn.epsilon - v) < 1e-5 * Math.max(1, v), `feature ${j}: stddev ${s}, variance ${v}`);
    assert.ok(Math.abs(stats.variance[j] - v) < 1e-5 * Math.max(1, v));
  }
  assert.deepEqual(bn.renormMean!.read().dataSync(), renormBefore[0]);
  assert.deepEqual(bn.renormStddev!.read().dataSync(), renormBefore[1]);
  // One more step moves movingVariance from the recomputed value (through movingStddev), not from the old one.
  const recomputed = Float64Array.from(bn.movingVariance.value.values);
  const stddev = Float64Array.from(bn.movingStddev!.value.values);
  const xb = keel.slice(x, 0, 16);
  const batchVariance = (() => {
    const hb = model.layers[0].apply(xb).dataSync();
    return Array.from({ length: 6 }, (_, j) => {
      let m = 0;
      for (let i = 0; i < 16; i++) m += hb[i * 6 + j] / 16;
      let v = 0;
      for (let i = 0; i < 16; i++) v += (hb[i * 6 + j] - m) ** 2 / 16;
      return v;
    });
  })();
  bn.apply(model.layers[0].apply(xb), { training: true });
  for (let j = 0; j < 6; j++) {
    const s = stddev[j] * 0.7 + Math.sqrt(batchVariance[j] + bn.epsilon) * 0.3;
    assert.ok(Math.abs(bn.movingVariance.value.values[j] - (s * s - bn.epsilon)) < 1e-5 * Math.max(1, recomputed[j]));
  }
});

test('recomputeBatchNormStatistics restores a renorm layer\'s moving stddev too when it fails', async () => {
  const model = renormModel();
  const bn = model.layers[1] as BatchNormalization;
  model.layers[0].build([5]);
  bn.build([6]);
  const before = bn.getWeights().map((w) => w.dataSync());
  const [x] = data(10, 17);
  await assert.rejects(keel.recomputeBatchNormStatistics(model, x, { onProgress: () => { throw new Error('stop'); } }), /stop/);
  bn.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));
});

// ---- the TF.js Layers format ----------------------------------------------------------------------

async function artifactsOf(model: keel.Sequential): Promise<keel.io.ModelArtifacts> {
  let artifacts: keel.io.ModelArtifacts | undefined;
  await model.save(keel.io.withSaveHandler(async (a) => { artifacts = a; }));
  return artifacts!;
}

test('renorm round-trips through model.json exactly: config keys, weights in Keras\'s order and names, values', async () => {
  const model = renormModel();
  const [x, y] = data(32, 18);
  await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
  const artifacts = await artifactsOf(model);
  const config = (artifacts.modelTopology as any).config.layers[1].config;
  assert.equal(config.renorm, true);
  assert.deepEqual(config.renorm_clipping, { rmax: 2, rmin: 0.5, dmax: 1 });
  assert.equal(config.renorm_momentum, 0.8);
  assert.equal('virtual_batch_size' in config, false);
  const bn = model.layers[1].name;
  assert.deepEqual(artifacts.weightSpecs.filter((s) => s.name.startsWith(`${bn}/`)).map((s) => s.name), [
    'gamma', 'beta', 'moving_mean', 'moving_variance', 'moving_stddev', 'renorm_mean', 'renorm_stddev',
  ].map((n) => `${bn}/${n}`));
  const loaded = await keel.loadLayersModel(keel.io.fromMemory(artifacts));
  const again = await artifactsOf(loaded);
  assert.deepEqual(again.modelTopology, artifacts.modelTopology);
  assert.deepEqual(new Uint8Array(again.weightData as ArrayBuffer), new Uint8Array(artifacts.weightData as ArrayBuffer));
  const back = loaded.layers[1] as BatchNormalization;
  assert.deepEqual(back.renormClipping, { rmax: 2, rmin: 0.5, dmax: 1 });
  // Training continues identically from the loaded model.
  const [xa, ya] = data(16, 19);
  await model.fit(xa, ya, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
  loaded.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
  await loaded.fit(xa, ya, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
  loaded.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), model.getWeights()[i].dataSync()));
  // Plain BN's config stays TF.js's: no renorm keys.
  const plain = keel.layers.layerToJSON(keel.layers.batchNormalization());
  assert.equal('renorm' in plain.config, false);
  // Renorm without clipping writes {} as Keras does.
  assert.deepEqual(keel.layers.layerToJSON(keel.layers.batchNormalization({ renorm: true })).config.renorm_clipping, {});
});

test('Keras 3\'s plain-BN config (renorm: false, renorm_clipping: null) reads as plain BN', () => {
  const config = { ...golden.renorm[0].config, renorm: false, renorm_clipping: null, renorm_momentum: 0.99 };
  const layer = keel.layers.layerFromJSON({ class_name: 'BatchNormalization', config }) as BatchNormalization;
  assert.equal(layer.renorm, false);
  layer.build([4]);
  assert.deepEqual(layer.weights.map((w) => w.shortName), ['gamma', 'beta', 'moving_mean', 'moving_variance']);
});

test('hostile renorm configs are refused with a ModelFormatError naming the key', () => {
  const base = { name: 'bn', renorm: true };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ renorm_clipping: { rmax: 0.5 } }, /renorm_clipping\.rmax ≥ 1.*received 0\.5/],
    [{ renorm_clipping: { rmin: 1.5 } }, /renorm_clipping\.rmin in \[0, 1\].*received 1\.5/],
    [{ renorm_clipping: { rmin: -1 } }, /renorm_clipping\.rmin in \[0, 1\]/],
    [{ renorm_clipping: { dmax: -0.1 } }, /renorm_clipping\.dmax ≥ 0.*received -0\.1/],
    [{ renorm_clipping: { rmax: '3' } }, /renorm_clipping\.rmax ≥ 1.*received '3'/],
    [{ renorm_clipping: { rmax: 3, rmean: 1 } }, /unknown key 'rmean'/],
    [{ renorm_clipping: [3, 0.3, 5] }, /renorm_clipping to be an object/],
    [{ renorm_momentum: 1.5 }, /renorm_momentum: expected a number in \[0, 1\]/],
    [{ renorm_momentum: 'fast' }, /renorm_momentum: expected a finite number/],
    [{ renorm: 'yes' }, /config\.renorm: expected true or false/],
  ];
  for (const [extra, message] of cases) {
    assert.throws(() => keel.layers.layerFromJSON({ class_name: 'BatchNormalization', config: { ...base, ...extra } }, 'layers[1]'),
      (e: Error) => e.name === 'ModelFormatError' && message.test(e.message) && e.message.includes('layers[1].config'),
      JSON.stringify(extra));
  }
});

test('TF.js 4.22 cannot load a renorm model: it ignores the renorm keys and then finds no variable for moving_stddev', async () => {
  await tf.setBackend('cpu');
  tf.env().set('IS_TEST', true);
  const artifacts = await artifactsOf(renormModel());
  await assert.rejects(tf.loadLayersModel(tf.io.fromMemory(artifacts as tf.io.ModelArtifacts)), /no target variable: .*moving_stddev/);
  // Topology alone loads, as plain BN: TF.js drops renorm, renorm_clipping and renorm_momentum silently.
  const tfModel = await tf.models.modelFromJSON({ modelTopology: artifacts.modelTopology } as never);
  assert.equal('renorm' in tfModel.layers[1].getConfig(), false);
  assert.equal(tfModel.layers[1].weights.length, 4);
});

// ---- bad input ----------------------------------------------------------------------------------

test('bad renorm options: a ValueError saying what was expected, what was received, and the fix', () => {
  const cases: [BatchNormalizationLayerArgs, RegExp][] = [
    [{ renorm: true, renormClipping: { rmax: 0.8 } }, /expected renormClipping\.rmax ≥ 1 .*received 0\.8\. Use rmax ≥ 1/],
    [{ renorm: true, renormClipping: { rmin: 2 } }, /expected renormClipping\.rmin in \[0, 1\] .*received 2\. Use rmin = 1\/rmax/],
    [{ renorm: true, renormClipping: { dmax: -1 } }, /expected renormClipping\.dmax ≥ 0 .*received -1\. Use dmax ≥ 0/],
    [{ renorm: true, renormClipping: { rmax: NaN } }, /renormClipping\.rmax ≥ 1.*received NaN/],
    [{ renorm: true, renormClipping: { dmin: 1 } as never }, /unknown key 'dmin'; expected only rmax, rmin and dmax/],
    [{ renorm: true, renormMomentum: -0.1 }, /expected renormMomentum in \[0, 1\].*received -0\.1/],
    [{ renormClipping: { rmax: 3 } }, /apply only with renorm: true.*Add renorm: true/],
    [{ renorm: 1 as never }, /expected renorm to be true or false, received 1/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => keel.layers.batchNormalization(args), (e: Error) => e.name === 'ValueError' && message.test(e.message), JSON.stringify(args));
  }
});

test('setRenormClipping checks first: a refused value leaves the bounds, and the layer trains as before', () => {
  const layer = keel.layers.batchNormalization({ renorm: true, renormClipping: { rmax: 2, dmax: 1 } });
  assert.throws(() => layer.setRenormClipping({ rmax: 0.5 }), { name: 'ValueError', message: /rmax ≥ 1.*received 0\.5/ });
  assert.throws(() => layer.setRenormClipping({ dmax: -2 }), { name: 'ValueError', message: /dmax ≥ 0.*received -2/ });
  assert.deepEqual(layer.renormClipping, { rmax: 2, dmax: 1 });
  layer.setRenormClipping({ rmax: 3, rmin: 1 / 3 });
  assert.deepEqual(layer.renormClipping, { rmax: 3, rmin: 1 / 3 });
  assert.throws(() => keel.layers.batchNormalization().setRenormClipping({ rmax: 2 }), { name: 'ValueError', message: /needs a layer built with renorm: true/ });
});
