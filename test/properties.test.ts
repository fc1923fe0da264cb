/** Properties and contracts: BN's statistics, momentum, determinism, learning, memory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as keel from 'keel';
import { Random } from '../packages/keel/src/core/random.js';
import { batchBounds } from '../packages/keel/src/models/sequential.js';
import { backendsUnderTest, maxRelDiff, testOnEveryBackend, withBackend } from './helpers.js';

function randomData(seed: number, rows: number, cols: number, offset = 0, scale = 1): Float32Array {
  const r = new Random(seed);
  return new Float32Array(rows * cols).map((_, i) => offset + ((i % cols) - cols / 2) * 0.3 + scale * r.normal());
}

/** Synthetic classification: 10 Gaussian blobs in 20 dimensions (centers fixed by `seed`, noise by `noiseSeed`). */
function blobs(seed: number, n: number, noiseSeed = seed) {
  const c = new Random(seed);
  const centers = Array.from({ length: 10 }, () => Array.from({ length: 20 }, () => c.normal() * 1.5));
  const r = new Random(noiseSeed * 7919 + 1);
  const x = new Float32Array(n * 20);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r.int(10);
    for (let j = 0; j < 20; j++) x[i * 20 + j] = centers[y[i]][j] + r.normal();
  }
  return { x: keel.tensor(x, [n, 20]), y: keel.tensor(y) };
}

function seedLikeModel(activation = 'relu') {
  return keel.sequential({ layers: [
    keel.layers.batchNormalization({ inputShape: [20] }),
    keel.layers.dense({ units: 32, activation, kernelInitializer: 'heNormal' }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 16, activation, kernelInitializer: 'heNormal' }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
}

const otherBackend = backendsUnderTest().find((name) => name !== keel.getBackend());
test('withBackend activates a backend and restores the previous one when its function returns, throws or rejects',
  { skip: otherBackend === undefined && 'only one backend is registered' }, async () => {
    const before = keel.getBackend();
    const other = otherBackend!;
    assert.equal(withBackend(other, () => keel.getBackend()), other);
    assert.equal(keel.getBackend(), before);
    assert.throws(() => withBackend(other, () => { throw new Error('thrown'); }), /thrown/);
    assert.equal(keel.getBackend(), before);
    const rejected = withBackend(other, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      assert.equal(keel.getBackend(), other, 'the backend stays active until the promise settles');
      throw new Error('rejected');
    });
    await assert.rejects(rejected, /rejected/);
    assert.equal(keel.getBackend(), before);
    assert.equal(await withBackend(other, async () => withBackend(before, () => keel.getBackend())), before);
    assert.equal(keel.getBackend(), before);
  });

testOnEveryBackend('BN training output has per-feature mean ≈ 0 and std ≈ 1', () => {
  const bn = keel.layers.batchNormalization();
  const rows = 64;
  const cols = 7;
  // Large offsets and scales: raw-pixel-like features must come out standardized too.
  const x = keel.tensor(randomData(1, rows, cols, 120, 40), [rows, cols]);
  const y = bn.apply(x, { training: true }).dataSync();
  for (let c = 0; c < cols; c++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += y[r * cols + c] / rows;
    let variance = 0;
    for (let r = 0; r < rows; r++) variance += (y[r * cols + c] - mean) ** 2 / rows;
    assert.ok(Math.abs(mean) < 1e-4, `feature ${c}: mean ${mean}`);
    // ε inside the square root shrinks the std slightly: σ/sqrt(σ² + ε).
    assert.ok(Math.abs(Math.sqrt(variance) - 1) < 1e-3, `feature ${c}: std ${Math.sqrt(variance)}`);
  }
});

testOnEveryBackend('momentum 0: inference right after a training step equals the training output', () => {
  const bn = keel.layers.batchNormalization({
    momentum: 0,
    gammaInitializer: keel.initializers.randomNormal({ mean: 1, stddev: 0.5, seed: 2 }),
    betaInitializer: keel.initializers.randomNormal({ stddev: 1, seed: 3 }),
  });
  const x = keel.tensor(randomData(4, 16, 5, 3, 2), [16, 5]);
  const train = bn.apply(x, { training: true }).dataSync();
  const infer = bn.apply(x, { training: false }).dataSync();
  for (let i = 0; i < train.length; i++) assert.ok(Math.abs(train[i] - infer[i]) < 1e-4, `${i}: ${train[i]} vs ${infer[i]}`);
});

testOnEveryBackend('moving statistics follow moving·momentum + batch·(1 − momentum), with the biased variance', () => {
  const momentum = 0.9;
  const bn = keel.layers.batchNormalization({
    momentum,
    movingMeanInitializer: keel.initializers.constant({ value: 0.5 }),
    movingVarianceInitializer: keel.initializers.constant({ value: 2 }),
  });
  const rows = 10;
  const cols = 3;
  const data = randomData(5, rows, cols, 1, 3);
  bn.apply(keel.tensor(data, [rows, cols]), { training: true });
  const [, , movingMean, movingVariance] = bn.getWeights().map((w) => w.dataSync());
  for (let c = 0; c < cols; c++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += data[r * cols + c] / rows;
    let biased = 0;
    for (let r = 0; r < rows; r++) biased += (data[r * cols + c] - mean) ** 2 / rows;
    assert.ok(Math.abs(movingMean[c] - (0.5 * momentum + mean * (1 - momentum))) < 1e-5);
    assert.ok(Math.abs(movingVariance[c] - (2 * momentum + biased * (1 - momentum))) < 1e-4);
  }
  // Inference does not touch them.
  bn.apply(keel.tensor(data, [rows, cols]));
  assert.deepEqual(bn.getWeights()[2].dataSync(), movingMean);
});

testOnEveryBackend('inference uses the moving statistics: y = γ(x − μ)/sqrt(σ² + ε) + β (ε inside the root)', () => {
  const bn = keel.layers.batchNormalization({
    epsilon: 0.5,
    gammaInitializer: keel.initializers.constant({ value: 2 }),
    betaInitializer: keel.initializers.constant({ value: -1 }),
    movingMeanInitializer: keel.initializers.constant({ value: 3 }),
    movingVarianceInitializer: keel.initializers.constant({ value: 1.5 }),
  });
  const y = bn.apply(keel.tensor([[4, 5]])).dataSync();
  const expect = (x: number) => (2 * (x - 3)) / Math.sqrt(1.5 + 0.5) - 1;
  assert.ok(Math.abs(y[0] - expect(4)) < 1e-6 && Math.abs(y[1] - expect(5)) < 1e-6);
});

testOnEveryBackend('the same seed gives the same weights, shuffles and training run', async () => {
  const run = async () => {
    keel.setRandomSeed(42);
    const model = seedLikeModel();
    model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const { x, y } = blobs(1, 200);
    const history = await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    return { history: history.history, weights: model.getWeights().map((w) => Array.from(w.dataSync())) };
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b);
  keel.setRandomSeed(43);
  const other = seedLikeModel().getWeights()[2].dataSync();
  assert.notDeepEqual(Array.from(other), a.weights[2]);
});

testOnEveryBackend('the seed architecture learns a synthetic classification task (loss goes down, accuracy up)', async (backendName) => {
  keel.setRandomSeed(7);
  const model = seedLikeModel();
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const train = blobs(3, 1000);
  const valid = blobs(3, 300, 4); // same centers, other noise
  const history = await model.fit(train.x, train.y, { epochs: 5, batchSize: 32, validationData: [valid.x, valid.y], verbose: 0 });
  assert.equal(history.loss.length, 5);
  assert.ok(history.loss[4] < history.loss[0] * 0.5, `loss ${history.loss}`);
  assert.ok(history.val_accuracy[4] > 0.9, `val accuracy ${history.val_accuracy}`);
  const [loss, accuracy] = (model.evaluate(valid.x, valid.y) as keel.Tensor[]).map((t) => t.dataSync()[0]);
  assert.ok(Math.abs(loss - history.val_loss[4]) < 1e-5, `evaluate loss ${loss} vs ${history.val_loss[4]}`);
  assert.ok(Math.abs(accuracy - history.val_accuracy[4]) < 1e-6, `evaluate accuracy ${accuracy} vs ${history.val_accuracy[4]}`);
  // One instance at a time predicts as in a batch: exactly on the reference backend, up to float32
  // rounding on wasm, which sums a lone row with another micro-kernel than rows in whole panels.
  const batch = model.predict(valid.x).dataSync();
  const single = model.predict(keel.tensor(valid.x.dataSync().subarray(20, 40), [1, 20])).dataSync();
  if (backendName === 'js') assert.deepEqual(Array.from(single), Array.from(batch.subarray(10, 20)));
  assert.ok(maxRelDiff(single, batch.subarray(10, 20)) < 1e-6, `single vs batch: ${maxRelDiff(single, batch.subarray(10, 20))}`);
});

testOnEveryBackend('predict gives the same rows (to rounding) whatever the batch size, and never writes into its input', () => {
  keel.setRandomSeed(5);
  const model = seedLikeModel();
  const { x } = blobs(3, 70);
  const before = Array.from(x.dataSync());
  const byBatches = model.predict(x, { batchSize: 32 }).dataSync();
  const whole = model.predict(x, { batchSize: 70 }).dataSync(); // one batch: x itself goes through
  // Equal up to float32 rounding: a row's dot products may sum in another order on wasm, where
  // rows in whole 6-row panels and leftover rows take different micro-kernels.
  assert.ok(maxRelDiff(whole, byBatches) < 1e-6, `${maxRelDiff(whole, byBatches)}`);
  assert.deepEqual(Array.from(x.dataSync()), before, 'predict changed its input');
});

testOnEveryBackend('validationSplit holds out the last fraction, before shuffling (as Keras)', async () => {
  keel.setRandomSeed(1);
  const model = seedLikeModel();
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const { x, y } = blobs(5, 100);
  const seen: number[] = [];
  const history = await model.fit(x, y, {
    epochs: 1, batchSize: 10, validationSplit: 0.2, verbose: 0,
    callbacks: { onBatchEnd: (_b, logs) => void seen.push(logs!.size) },
  });
  assert.equal(seen.reduce((a, b) => a + b, 0), 80);
  assert.equal(history.params!.validationSamples, 20);
  assert.ok(history.val_loss.length === 1);
});

test('a last batch of one example is merged into the previous batch (BN cannot train on one)', () => {
  assert.deepEqual(batchBounds(33, 32), [[0, 33]]);
  assert.deepEqual(batchBounds(65, 32), [[0, 32], [32, 65]]);
  assert.deepEqual(batchBounds(64, 32), [[0, 32], [32, 64]]);
  assert.deepEqual(batchBounds(34, 32), [[0, 32], [32, 34]]);
});

testOnEveryBackend('initializers follow Keras: heNormal std after truncation is sqrt(2/fanIn), within 2 std', () => {
  const fanIn = 400;
  const w = keel.initializers.heNormal({ seed: 1 }).apply([fanIn, 300]).dataSync();
  const target = Math.sqrt(2 / fanIn);
  let sum = 0;
  let sq = 0;
  let max = 0;
  for (const v of w) {
    sum += v;
    sq += v * v;
    max = Math.max(max, Math.abs(v));
  }
  const std = Math.sqrt(sq / w.length - (sum / w.length) ** 2);
  assert.ok(Math.abs(std / target - 1) < 0.01, `std ${std} vs ${target}`);
  assert.ok(max <= (2 * target) / 0.87962566103423978 + 1e-6, 'values beyond the truncation');
  const g = keel.initializers.glorotUniform({ seed: 2 }).apply([100, 50]).dataSync();
  const limit = Math.sqrt(6 / 150);
  assert.ok(Math.max(...g.map(Math.abs)) <= limit && Math.max(...g.map(Math.abs)) > limit * 0.98);
  const lecun = keel.initializers.lecunUniform({ seed: 3 }).apply([300, 10]).dataSync();
  assert.ok(Math.max(...lecun.map(Math.abs)) <= Math.sqrt(3 / 300));
  const normal = keel.initializers.randomNormal({ seed: 4 }).apply([100, 100]).dataSync();
  const normalStd = Math.sqrt(normal.reduce((s, v) => s + v * v, 0) / normal.length);
  assert.ok(Math.abs(normalStd - 0.05) < 0.002, `randomNormal std ${normalStd}`);
  assert.deepEqual(
    Array.from(keel.initializers.heNormal({ seed: 9 }).apply([3, 3]).dataSync()),
    Array.from(keel.initializers.heNormal({ seed: 9 }).apply([3, 3]).dataSync()),
  );
});

/** Bytes held by typed arrays and wasm memories after a full garbage collection. */
function retainedBytes(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

testOnEveryBackend('memory stays flat over a long fit and 100,000 predict calls', async () => {
  keel.setRandomSeed(3);
  const model = seedLikeModel();
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const { x, y } = blobs(9, 330); // 330 = 10 batches of 32 and a last one of 10
  await model.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0, validationData: [x, y] });
  const one = keel.tensor(x.dataSync().subarray(0, 20), [1, 20]);
  for (let i = 0; i < 1000; i++) model.predict(one);
  const before = retainedBytes();
  await model.fit(x, y, { epochs: 30, batchSize: 32, verbose: 0, validationData: [x, y] });
  for (let i = 0; i < 100_000; i++) model.predict(one);
  const after = retainedBytes();
  // 30 epochs allocate ~100 MB of batches if buffers were not reused; 100,000 predictions ~50 MB.
  assert.ok(after - before < 2_000_000, `retained memory grew by ${after - before} bytes`);
});

testOnEveryBackend('the seed model itself (28×28 → 300 → 100 → 10 with BN) lowers its loss on a synthetic task', async () => {
  keel.setRandomSeed(5);
  // The summary test and the quickstart spell this model out layer by layer; here the zoo builds it.
  const model = keel.zoo.buildModel('seed', { kernelInitializer: 'heNormal' });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const r = new Random(6);
  const prototypes = Array.from({ length: 10 }, () => Float32Array.from({ length: 784 }, () => r.next()));
  const n = 640;
  const x = new Float32Array(n * 784);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 10;
    for (let j = 0; j < 784; j++) x[i * 784 + j] = Math.min(1, Math.max(0, prototypes[y[i]][j] + 0.5 * r.normal()));
  }
  const history = await model.fit(keel.tensor(x, [n, 28, 28]), keel.tensor(y), { epochs: 3, batchSize: 32, verbose: 0 });
  assert.ok(history.loss[2] < history.loss[0] * 0.5, `loss ${history.loss}`);
  assert.ok(history.accuracy[2] > history.accuracy[0], `accuracy ${history.accuracy}`);
});

testOnEveryBackend('dispose gives storage back at once and later use is refused', () => {
  const model = seedLikeModel();
  const x = keel.tensor(new Float32Array(20 * 4), [4, 20]);
  const p = model.predict(x);
  p.dispose();
  p.dispose(); // twice is harmless
  assert.throws(() => p.dataSync(), /was disposed/);
  x.dispose();
  assert.throws(() => model.predict(x), /predict: x was disposed/);
  // Storage given back is reused: many predict/dispose rounds need no new memory.
  const y = keel.tensor(new Float32Array(20 * 64), [64, 20]);
  for (let i = 0; i < 2000; i++) model.predict(y).dispose();
});
