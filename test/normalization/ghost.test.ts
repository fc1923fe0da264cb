/**
 * Ghost BN (`batchNormalization({virtualBatchSize})`), as tf.keras 2 defines it: Keel against an
 * independent oracle (test/golden/keras_renorm.json: Keras 3 BN in training mode on each virtual
 * batch, tf.keras's moving-average rule in numpy), the exact backward (finite differences in
 * float64), properties, inference and folding, the TF.js Layers format, and the refusal of a batch
 * that virtualBatchSize does not divide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as keel from 'keel';
import { BatchNormalization } from '../../packages/keel/src/layers/batchNormalization.js';
import { Random } from '../../packages/keel/src/core/random.js';
import { checkLayerGradients } from '../gradcheck.js';
import { maxRelDiff, relErr, testOnEveryBackend } from '../helpers.js';

const golden = JSON.parse(readFileSync(new URL('../golden/keras_renorm.json', import.meta.url), 'utf8'));

function tensorOf(values: ArrayLike<number>, shape: number[]): keel.Tensor {
  const t = keel.zeros(shape);
  t.values.set(values);
  return t;
}

function randomTensor(shape: number[], seed: number, scale = 1, offset = 0): keel.Tensor {
  const random = new Random(seed);
  return keel.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random.normal() * scale + offset), shape);
}

/** Examples j, j + G, j + 2G, ... of x (G = batch / v): tf.keras's virtual batch j. */
function virtualBatch(x: keel.Tensor, v: number, j: number): keel.Tensor {
  const groups = x.shape[0] / v;
  const size = x.size / x.shape[0];
  const out = keel.zeros([v, ...x.shape.slice(1)]);
  for (let i = 0; i < v; i++) out.values.set(x.values.subarray((i * groups + j) * size, (i * groups + j + 1) * size), i * size);
  return out;
}

// ---- the oracle ---------------------------------------------------------------------------

for (const c of golden.ghost) {
  testOnEveryBackend(`ghost BN matches Keras 3 BN per virtual batch and tf.keras's moving update: ${c.name}`, () => {
    const layer = keel.layers.batchNormalization({ virtualBatchSize: c.virtualBatchSize, momentum: c.momentum, epsilon: c.epsilon });
    const features = c.shape.at(-1);
    layer.build(c.shape.slice(1));
    layer.setWeights(['gamma', 'beta', 'moving_mean', 'moving_variance'].map((n) => tensorOf(c.initial[n], [features])));
    c.steps.forEach((s: any, k: number) => {
      const y = layer.forward(tensorOf(s.x, c.shape), true);
      assert.ok(relErr(y.values, s.y, 1e-3) < 2e-5, `${c.name} step ${k} y: ${relErr(y.values, s.y, 1e-3)}`);
      for (const w of layer.trainableWeights) w.grad!.values.fill(0);
      const dx = layer.backward(tensorOf(s.dy, c.shape), true)!;
      assert.ok(relErr(dx.values, s.dx, 1e-3) < 2e-5, `${c.name} step ${k} dx: ${relErr(dx.values, s.dx, 1e-3)}`);
      for (const w of layer.trainableWeights) {
        assert.ok(relErr(w.grad!.values, s.grads[w.shortName], 1e-3) < 2e-5, `${c.name} step ${k} d${w.shortName}`);
      }
      layer.commitState();
      for (const w of layer.nonTrainableWeights) {
        assert.ok(maxRelDiff(w.value.values, s.buffers[w.shortName]) < 2e-6, `${c.name} step ${k} ${w.shortName}: ${Array.from(w.value.values)} vs ${s.buffers[w.shortName]}`);
      }
    });
  });
}

testOnEveryBackend('each virtual batch is examples j, j + G, ... (tf.keras\'s reshape to [v, G, ...]), normalized as plain BN', () => {
  for (const shape of [[12, 3], [6, 2, 3, 4]]) {
    const v = shape[0] === 12 ? 4 : 3;
    const x = randomTensor(shape, 1, 2, 1);
    const ghost = keel.layers.batchNormalization({ virtualBatchSize: v, gammaInitializer: keel.initializers.randomNormal({ mean: 1, seed: 2 }) });
    const y = ghost.apply(x, { training: true });
    for (let j = 0; j < shape[0] / v; j++) {
      const plain = keel.layers.batchNormalization({ gammaInitializer: keel.initializers.randomNormal({ mean: 1, seed: 2 }) });
      const expected = plain.apply(virtualBatch(x, v, j), { training: true }).dataSync();
      assert.ok(relErr(virtualBatch(y, v, j).dataSync(), expected) < 1e-6, `virtual batch ${j} of ${formatShape(shape)}`);
    }
  }
});

function formatShape(shape: number[]): string {
  return `[${shape.join(',')}]`;
}

// ---- exact backward ---------------------------------------------------------------------------

testOnEveryBackend('gradient: ghost BN, rank 2 and NHWC, float64 finite differences', () => {
  const init = {
    dtype: 'float64' as const,
    gammaInitializer: keel.initializers.randomNormal({ mean: 1, stddev: 0.3, seed: 3 }),
    betaInitializer: keel.initializers.randomNormal({ stddev: 0.3, seed: 4 }),
  };
  checkLayerGradients(keel.layers.batchNormalization({ ...init, virtualBatchSize: 3 }), [9, 4], 'ghost(v 3 of 9)', 5);
  checkLayerGradients(keel.layers.batchNormalization({ ...init, virtualBatchSize: 2 }), [6, 2, 2, 3], 'ghost(NHWC, v 2 of 6)', 6);
  // v = 1 on NHWC: each example alone, over its H×W positions.
  checkLayerGradients(keel.layers.batchNormalization({ ...init, virtualBatchSize: 1 }), [3, 2, 3, 2], 'ghost(NHWC, v 1)', 7);
  checkLayerGradients(keel.layers.batchNormalization({ dtype: 'float64', virtualBatchSize: 2, scale: false, center: false }), [8, 3], 'ghost(no γ, β)', 8);
});

/** Renorm's r and d held after their first computation, as the stop-gradient holds them. */
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

testOnEveryBackend('gradient: ghost BN with renorm (r and d from the averaged statistics, shared), float64', () => {
  const args = {
    dtype: 'float64' as const, renorm: true, virtualBatchSize: 2,
    gammaInitializer: keel.initializers.randomNormal({ mean: 1, stddev: 0.3, seed: 9 }),
    movingMeanInitializer: keel.initializers.constant({ value: 0.4 }),
    movingVarianceInitializer: keel.initializers.constant({ value: 2 }),
  };
  checkLayerGradients(new HeldCorrection(args), [6, 3], 'ghost+renorm', 10);
  checkLayerGradients(new HeldCorrection(args), [4, 2, 2, 2], 'ghost+renorm(NHWC)', 11);
});

// ---- properties ---------------------------------------------------------------------------------

testOnEveryBackend('momentum 0 and one virtual batch: inference after a step equals that step\'s training output', () => {
  for (const shape of [[8, 3], [4, 3, 3, 2]]) {
    const x = randomTensor(shape, 12, 1.5, -0.5);
    const layer = keel.layers.batchNormalization({ virtualBatchSize: shape[0], momentum: 0, gammaInitializer: keel.initializers.randomNormal({ mean: 1, seed: 13 }) });
    const training = layer.apply(x, { training: true }).dataSync();
    const inference = layer.apply(x).dataSync();
    assert.ok(relErr(inference, training) < 1e-5, `${formatShape(shape)}: ${relErr(inference, training)}`);
    // With several virtual batches they differ: the moving statistics average the virtual batches'.
    const two = keel.layers.batchNormalization({ virtualBatchSize: shape[0] / 2, momentum: 0 });
    const t2 = two.apply(x, { training: true }).dataSync();
    assert.ok(relErr(two.apply(x).dataSync(), t2) > 1e-3);
  }
});

testOnEveryBackend('virtualBatchSize equal to the batch trains exactly as plain BN, bit for bit', () => {
  const x = randomTensor([10, 5], 14);
  const dy = randomTensor([10, 5], 15);
  const run = (layer: keel.layers.BatchNormalization) => {
    layer.build([5]);
    const y = Float32Array.from(layer.forward(x, true).values);
    for (const w of layer.trainableWeights) w.grad!.values.fill(0);
    const dx = Float32Array.from(layer.backward(dy, true)!.values);
    layer.commitState();
    return [y, dx, ...layer.trainableWeights.map((w) => w.grad!.values), ...layer.nonTrainableWeights.map((w) => w.value.values)];
  };
  const ghost = run(keel.layers.batchNormalization({ virtualBatchSize: 10, momentum: 0.5 }));
  const plain = run(keel.layers.batchNormalization({ momentum: 0.5 }));
  ghost.forEach((v, i) => assert.deepEqual(v, plain[i]));
});

testOnEveryBackend('inference takes any batch size (virtualBatchSize applies to training only)', () => {
  const layer = keel.layers.batchNormalization({ virtualBatchSize: 4 });
  const plain = keel.layers.batchNormalization();
  const x = randomTensor([7, 3], 16);
  assert.deepEqual(layer.apply(x).dataSync(), plain.apply(x).dataSync());
  assert.equal(layer.apply(keel.slice(x, 0, 1)).shape[0], 1);
});

// ---- bad input ------------------------------------------------------------------------------------

testOnEveryBackend('a batch that virtualBatchSize does not divide is refused before anything changes', () => {
  const layer = keel.layers.batchNormalization({ virtualBatchSize: 4, momentum: 0.5 });
  const good = randomTensor([8, 3], 17);
  layer.apply(good, { training: true });
  const before = layer.getWeights().map((w) => w.dataSync());
  const y = layer.forward(good, true);
  const outBefore = Float32Array.from(y.values);
  assert.throws(() => layer.apply(randomTensor([10, 3], 18), { training: true }), {
    name: 'ShapeError',
    message: /virtualBatchSize 4 must divide the training batch size .*received a batch of 10 \(shape \[10,3\]\)\. Use a batch size that is a multiple of 4 .*or a virtualBatchSize that divides 10\./,
  });
  layer.discardState();
  layer.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));
  assert.deepEqual(y.values, outBefore);
  // The layer still works afterwards, and the refused batch is fine for inference.
  layer.apply(randomTensor([10, 3], 18));
  layer.apply(good, { training: true });
});

test('fit with a batch size virtualBatchSize does not divide: refused at the first step, the model left as it was', async () => {
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 4, inputShape: [3] }),
    keel.layers.batchNormalization({ virtualBatchSize: 4 }),
    keel.layers.dense({ units: 2, activation: 'softmax' }),
  ] });
  model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
  const x = randomTensor([12, 3], 19);
  const y = keel.tensor(Float32Array.from({ length: 24 }, (_, i) => i % 2), [12, 2]);
  const before = model.getWeights().map((w) => w.dataSync());
  await assert.rejects(model.fit(x, y, { batchSize: 6, epochs: 1, verbose: 0 }), { name: 'ShapeError', message: /virtualBatchSize 4 must divide.*a batch of 6/ });
  model.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));
  await model.fit(x, y, { batchSize: 4, epochs: 1, verbose: 0 });
});

test('bad virtualBatchSize values: a ValueError with what was expected and received', () => {
  for (const v of [0, -2, 2.5, '4', NaN]) {
    assert.throws(() => keel.layers.batchNormalization({ virtualBatchSize: v as number }),
      { name: 'ValueError', message: /expected virtualBatchSize to be a positive integer that divides the training batch size .*received/ });
  }
  assert.throws(() => keel.layers.batchNormalization({ virtualBatchSize: 1 }).apply(randomTensor([4, 3], 20), { training: true }),
    { name: 'ShapeError', message: /more than 1 value per feature in each virtual batch, but virtualBatchSize 1 leaves 1/ });
});

// ---- folding and the file format ---------------------------------------------------------------------

testOnEveryBackend('a trained Conv2D → BN(virtualBatchSize) model folds into the convolution and predicts the same within 1e-5', async () => {
  const model = keel.sequential({ layers: [
    keel.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [6, 6, 2], kernelInitializer: keel.initializers.randomNormal({ seed: 21 }) }),
    keel.layers.batchNormalization({ virtualBatchSize: 4, momentum: 0.5 }),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.flatten(),
    keel.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: keel.initializers.randomNormal({ seed: 22 }) }),
  ] });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.05 }), loss: 'categoricalCrossentropy' });
  const x = randomTensor([16, 6, 6, 2], 23);
  const y = keel.tensor(Float32Array.from({ length: 32 }, (_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 1 : 0)), [16, 2]);
  await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
  const { model: folded, folded: report, notFolded } = keel.foldBatchNorm(model);
  assert.deepEqual(report.map((r) => r.direction), ['intoPrevious']);
  assert.deepEqual(notFolded, []);
  const diff = relErr(folded.predict(x).dataSync(), model.predict(x).dataSync(), 1);
  assert.ok(diff < 1e-5, `max |diff| ${diff}`);
});

test('virtual_batch_size round-trips through TF.js JSON; hostile values are a ModelFormatError', () => {
  const layer = keel.layers.batchNormalization({ virtualBatchSize: 8, renorm: true, renormClipping: { rmax: 3 }, name: 'bn' });
  const json = JSON.parse(JSON.stringify(keel.layers.layerToJSON(layer, [4])));
  assert.equal(json.config.virtual_batch_size, 8);
  const back = keel.layers.layerFromJSON(json) as BatchNormalization;
  assert.equal(back.virtualBatchSize, 8);
  assert.deepEqual(keel.layers.layerToJSON(back, [4]), json);
  assert.equal('virtual_batch_size' in keel.layers.layerToJSON(keel.layers.batchNormalization()).config, false);
  assert.equal(keel.layers.layerFromJSON({ class_name: 'BatchNormalization', config: { name: 'b', virtual_batch_size: null } }).getConfig().virtual_batch_size, undefined);
  for (const v of [0, -4, 2.5, '8', [8], 2 ** 40]) {
    assert.throws(() => keel.layers.layerFromJSON({ class_name: 'BatchNormalization', config: { name: 'b', virtual_batch_size: v } }, 'layers[2]'),
      { name: 'ModelFormatError', message: /layers\[2\]\.config\.virtual_batch_size: expected a positive integer/ }, JSON.stringify(v));
  }
});

testOnEveryBackend('memory stays flat: repeated training steps reuse the same buffers (ghost and renorm)', () => {
  const layer = keel.layers.batchNormalization({ virtualBatchSize: 2, renorm: true, renormClipping: { rmax: 2, dmax: 1 } });
  const x = randomTensor([6, 2, 2, 3], 24);
  const dy = randomTensor([6, 2, 2, 3], 25);
  layer.build([2, 2, 3]);
  const step = () => {
    const y = layer.forward(x, true);
    const dx = layer.backward(dy, true)!;
    layer.commitState();
    return [y, dx];
  };
  const [y1, dx1] = step();
  for (let i = 0; i < 3; i++) {
    const [y, dx] = step();
    assert.equal(y, y1);
    assert.equal(dx, dx1);
  }
});
