/**
 * LayerNormalization and GroupNormalization as layers: clear errors for bad options and for
 * channels that do not divide into the groups (raised before anything is allocated, the model left
 * as it was), the per-group statistics of the output, the gotcha that training and inference
 * compute the same thing, freezing, the summary and parameter counts Keras prints, learning, and
 * memory that stays flat over a long fit on every backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { backend } from '../../packages/keel/src/backend/backend.js';
import { testOnEveryBackend } from '../helpers.js';

const { ValueError, ShapeError, KeelError } = keel;

test('bad options are ValueErrors that say what was expected', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => keel.layers.groupNormalization({ groups: 0 }), /expected groups to be a positive integer .* or -1 .*Instance Normalization.*received 0/],
    [() => keel.layers.groupNormalization({ groups: -2 }), /received -2/],
    [() => keel.layers.groupNormalization({ groups: 2.5 }), /received 2\.5/],
    [() => keel.layers.groupNormalization({ groups: '4' as never }), /received '4'|received "4"|received the string/],
    [() => keel.layers.groupNormalization({ axis: 1.5 }), /expected an integer axis/],
    [() => keel.layers.groupNormalization({ epsilon: -1 }), /expected epsilon > 0/],
    [() => keel.layers.groupNormalization({ group: 4 } as never), /unknown option 'group'.*Did you mean 'groups'\?/],
    [() => keel.layers.layerNormalization({ axis: 'last' as never }), /expected axis to be an integer such as -1, or a list/],
    [() => keel.layers.layerNormalization({ axis: [] }), /expected axis to be an integer/],
    [() => keel.layers.layerNormalization({ axis: [-1, -1] }), /expected distinct axes/],
    [() => keel.layers.layerNormalization({ epsilon: 0 }), /expected epsilon > 0 \(default 1e-3\)/],
    [() => keel.layers.layerNormalization({ center: 1 as never }), /expected center and scale to be true or false/],
  ];
  for (const [make, message] of cases) assert.throws(make, (e: unknown) => e instanceof ValueError && message.test((e as Error).message), String(message));
});

test('channels that do not divide into the groups: a ShapeError before anything is allocated, the model left as it was', () => {
  const model = keel.sequential({ layers: [keel.layers.dense({ units: 10, inputShape: [4] })] });
  const x = keel.tensor(new Float32Array(8).fill(0.5), [2, 4]);
  const before = model.predict(x).dataSync();
  const cases: [keel.layers.GroupNormalizationLayerArgs, RegExp][] = [
    [{}, /expected at most 10 groups \(one per channel\) for input \[null,10\].*received groups 32\. Use a number of groups that divides 10 \(1, 2, 5, 10\), or groups -1/],
    [{ groups: 3 }, /expected the 10 channels of input \[null,10\] to split into 3 equal groups, received groups 3, which does not divide 10\. Use a number of groups that divides 10 \(1, 2, 5, 10\)/],
    [{ groups: 11 }, /expected at most 10 groups/],
    [{ groups: -1 }, /each of the 10 groups .* would hold a single value .* output would be β whatever the input.*Use fewer groups/],
  ];
  for (const [args, message] of cases) {
    const layer = keel.layers.groupNormalization(args);
    assert.throws(() => model.add(layer), (e: unknown) => e instanceof ShapeError && message.test((e as Error).message), String(message));
    assert.equal(layer.isBuilt, false, 'the refused layer is not built');
    assert.equal(layer.weights.length, 0, 'and holds no weights');
    assert.equal(model.layers.length, 1, 'the model is as it was');
    assert.deepEqual(model.outputShape, [10]);
  }
  assert.deepEqual(model.predict(x).dataSync(), before);
  model.add(keel.layers.groupNormalization({ groups: 5 }));
  assert.deepEqual(model.outputShape, [10]);
  assert.equal(model.predict(x).shape[1], 10);
  // Many divisors: the first twelve, then an ellipsis.
  assert.throws(
    () => keel.sequential({ layers: [keel.layers.dense({ units: 360, inputShape: [2] }), keel.layers.groupNormalization({ groups: 7 })] }),
    (e: unknown) => e instanceof KeelError && /divides 360 \(1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 18, \.\.\.\)/.test((e as Error).message),
  );
  // 1×1 images, one channel per group: a single value per group.
  assert.throws(
    () => keel.sequential({ layers: [keel.layers.groupNormalization({ groups: -1, inputShape: [1, 1, 4] })] }),
    (e: unknown) => e instanceof ShapeError && /single value/.test((e as Error).message),
  );
});

test('LayerNormalization refuses axes that are not the last ones, and a single value, when built', () => {
  const cases: [keel.layers.LayerNormalizationLayerArgs, number[], typeof ValueError, RegExp][] = [
    [{ axis: 1 }, [4, 4, 3], ValueError, /expected the last axes of inputs of rank 4 .*received axis 1.*transpose/i],
    [{ axis: 0 }, [5], ValueError, /the batch axis 0 cannot be normalized/],
    [{ axis: [1, 3] }, [4, 4, 3], ValueError, /received axis \[1, 3\]/],
    [{ axis: 4 }, [4, 4, 3], ValueError, /rank 4/],
    [{}, [5, 1], ShapeError, /expected more than one value per sample.*holds 1.*output would be β/],
  ];
  for (const [args, inputShape, kind, message] of cases) {
    const layer = keel.layers.layerNormalization({ ...args, inputShape });
    assert.throws(() => keel.sequential({ layers: [layer] }), (e: unknown) => e instanceof kind && message.test((e as Error).message), String(message));
    assert.equal(layer.isBuilt, false);
  }
});

/** Mean and biased variance of each of a sample's groups of channels. */
function groupStats(values: ArrayLike<number>, batch: number, positions: number, channels: number, groups: number) {
  const per = channels / groups;
  const out: { mean: number; variance: number }[] = [];
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < groups; g++) {
      const v: number[] = [];
      for (let s = 0; s < positions; s++) for (let c = g * per; c < (g + 1) * per; c++) v.push(values[(n * positions + s) * channels + c]);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      out.push({ mean, variance: v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length });
    }
  }
  return out;
}

testOnEveryBackend('with γ = 1 and β = 0 every normalized group has mean 0 and standard deviation 1', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 0, max: 1000 }), fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: 0.5, max: 20, noNaN: true }),
    (batch, positions, groupsIn, per, seed, offset, scale) => {
      if (positions * per === 1) per = 2; // a group of one value is refused
      const channels = groupsIn * per;
      const random = new Random(seed);
      const shape = positions === 1 ? [batch, channels] : [batch, positions, channels];
      const x = keel.tensor(Float32Array.from({ length: batch * positions * channels }, () => offset + scale * random.normal()), shape);
      const epsilon = 1e-5;
      const check = (y: ArrayLike<number>, stats: { mean: number; variance: number }[], xStats: { mean: number; variance: number }[]) => {
        stats.forEach(({ mean, variance }, i) => {
          assert.ok(Math.abs(mean) < 1e-4, `group ${i}: mean ${mean}`);
          // ε inside the square root: variance v/(v + ε), which is 1 for v ≫ ε.
          const expected = xStats[i].variance / (xStats[i].variance + epsilon);
          assert.ok(Math.abs(variance - expected) < 1e-3, `group ${i}: variance ${variance}, expected ${expected}`);
          assert.ok(xStats[i].variance < 1000 * epsilon || Math.abs(Math.sqrt(variance) - 1) < 1e-3, `group ${i}: std ${Math.sqrt(variance)}`);
        });
        void y;
      };
      const gn = keel.layers.groupNormalization({ groups: groupsIn, epsilon });
      const y = gn.apply(x).dataSync();
      check(y, groupStats(y, batch, positions, channels, groupsIn), groupStats(x.dataSync(), batch, positions, channels, groupsIn));
      const ln = keel.layers.layerNormalization({ epsilon, axis: positions === 1 ? -1 : [-2, -1] });
      const z = ln.apply(x).dataSync();
      check(z, groupStats(z, batch, 1, positions * channels, 1), groupStats(x.dataSync(), batch, 1, positions * channels, 1));
    },
  ), { numRuns: 40, seed: 17 });
});

testOnEveryBackend('the gotcha: no moving statistics, so training and inference compute the same, one sample at a time too', () => {
  const random = new Random(9);
  const x = keel.tensor(Float32Array.from({ length: 4 * 3 * 3 * 6 }, () => 2 + random.normal()), [4, 3, 3, 6]);
  for (const layer of [keel.layers.groupNormalization({ groups: 3 }), keel.layers.layerNormalization({ axis: [1, 2, 3] })]) {
    const inference = layer.apply(x).dataSync();
    assert.deepEqual(layer.apply(x, { training: true }).dataSync(), inference, `${layer.getClassName()}: training = inference`);
    assert.equal(layer.nonTrainableWeights.length, 0, 'no moving statistics');
    const one = layer.apply(keel.slice(x, [1, 0, 0, 0], [1, 3, 3, 6])).dataSync();
    assert.deepEqual([...one], [...inference.subarray(54, 108)], `${layer.getClassName()}: a sample's output does not depend on its batch`);
  }
});

testOnEveryBackend('a frozen layer keeps γ and β, still passes gradients back, and computes as before', async () => {
  keel.setRandomSeed(2);
  const gn = keel.layers.groupNormalization({ groups: 2 });
  const ln = keel.layers.layerNormalization();
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 8, inputShape: [5] }), gn, keel.layers.dense({ units: 6 }), ln, keel.layers.dense({ units: 2, activation: 'softmax' }),
  ] });
  const random = new Random(3);
  const gammaOf = (l: keel.layers.Layer) => l.getWeights().map((w) => [...w.dataSync()]);
  gn.setWeights(gn.getWeights().map((w) => keel.tensor(Float32Array.from(w.dataSync(), () => random.normal()), w.shape)));
  gn.trainable = false;
  ln.trainable = false;
  const frozen = [gammaOf(gn), gammaOf(ln)];
  const first = model.layers[0].getWeights()[0].dataSync().slice();
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
  const x = keel.tensor(Float32Array.from({ length: 40 }, () => random.normal()), [8, 5]);
  const y = keel.tensor(Float32Array.from({ length: 8 }, (_, i) => i % 2), [8]);
  await model.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0 });
  assert.deepEqual([gammaOf(gn), gammaOf(ln)], frozen, 'γ and β unchanged');
  assert.equal(model.trainableWeights.length, 6, 'only the Dense layers train');
  assert.notDeepEqual(model.layers[0].getWeights()[0].dataSync(), first, 'the layer below still learns through them');
});

testOnEveryBackend('models with GroupNormalization and LayerNormalization learn', async () => {
  keel.setRandomSeed(4);
  const random = new Random(5);
  const n = 64;
  const labels = Float32Array.from({ length: n }, (_, i) => i % 3);
  const x = keel.tensor(Float32Array.from({ length: n * 12 }, (_, i) => 3 + random.normal() + (labels[Math.floor(i / 12)] === i % 3 ? 2 : 0)), [n, 12]);
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 16, inputShape: [12], activation: 'relu' }),
    keel.layers.groupNormalization({ groups: 4 }),
    keel.layers.dense({ units: 8, activation: 'relu' }),
    keel.layers.layerNormalization(),
    keel.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  model.compile({ optimizer: keel.optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const history = await model.fit(x, keel.tensor(labels, [n]), { epochs: 30, batchSize: 16, verbose: 0 });
  const loss = history.history.loss as number[];
  assert.ok(loss[loss.length - 1] < 0.5 * loss[0], `loss ${loss[0]} → ${loss[loss.length - 1]}`);
});

test('summary() and the parameter counts, as Keras prints them', () => {
  const model = keel.sequential({ name: 'normalized', layers: [
    keel.layers.conv2d({ filters: 8, kernelSize: 3, inputShape: [8, 8, 1], name: 'conv' }),
    keel.layers.groupNormalization({ groups: 4, name: 'gn' }),
    keel.layers.layerNormalization({ axis: [1, 2, 3], name: 'ln_image' }),
    keel.layers.flatten({ name: 'flatten_1' }),
    keel.layers.dense({ units: 10, name: 'logits' }),
    keel.layers.layerNormalization({ name: 'ln' }),
  ] });
  const lines: string[] = [];
  model.summary(undefined, undefined, (l) => lines.push(l));
  const rule = '_'.repeat(65);
  assert.deepEqual(lines, [
    'Model: "normalized"',
    rule,
    'Layer (type)                 Output Shape              Param #   ',
    '='.repeat(65),
    'conv (Conv2D)                (None, 6, 6, 8)           80        ', rule,
    'gn (GroupNormalization)      (None, 6, 6, 8)           16        ', rule,
    'ln_image (LayerNormalization (None, 6, 6, 8)           576       ', rule,
    'flatten_1 (Flatten)          (None, 288)               0         ', rule,
    'logits (Dense)               (None, 10)                2890      ', rule,
    'ln (LayerNormalization)      (None, 10)                20        ',
    '='.repeat(65),
    'Total params: 3,582',
    'Trainable params: 3,582',
    'Non-trainable params: 0',
    rule,
  ]);
  assert.deepEqual(model.layers[2].weights.map((w) => [w.shortName, [...w.shape]]), [['gamma', [6, 6, 8]], ['beta', [6, 6, 8]]]);
  assert.deepEqual(model.layers[1].weights.map((w) => [w.shortName, [...w.shape]]), [['gamma', [8]], ['beta', [8]]]);
  // Default names, Keras's.
  assert.match(keel.layers.groupNormalization().name, /^group_normalization(_\d+)?$/);
  assert.match(keel.layers.layerNormalization().name, /^layer_normalization(_\d+)?$/);
});

testOnEveryBackend('after the first steps, the layers allocate nothing: a training step allocates as much as without them', async () => {
  const be = backend();
  const stack = (norm: boolean) => [
    keel.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', inputShape: [6, 6, 2] }),
    ...(norm ? [keel.layers.groupNormalization({ groups: 2 }), keel.layers.layerNormalization({ axis: [1, 2, 3] })] : []),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.flatten(),
    keel.layers.dense({ units: 6 }),
    ...(norm ? [keel.layers.layerNormalization(), keel.layers.groupNormalization({ groups: 3 })] : []),
  ];
  const random = new Random(6);
  const x = keel.tensor(Float32Array.from({ length: 8 * 72 }, () => random.normal()), [8, 6, 6, 2]);
  const y = keel.tensor(Float32Array.from({ length: 8 * 6 }, () => random.normal()), [8, 6]);
  const allocationsPerStep = async (norm: boolean) => {
    const model = keel.sequential({ layers: stack(norm) });
    model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01 }), loss: 'meanSquaredError' });
    for (let i = 0; i < 3; i++) await model.trainOnBatch(x, y);
    let count = 0;
    const alloc = be.alloc;
    be.alloc = (size, dtype) => { count++; return alloc(size, dtype); };
    try {
      for (let i = 0; i < 10; i++) await model.trainOnBatch(x, y);
    } finally {
      be.alloc = alloc;
    }
    return count / 10;
  };
  const without = await allocationsPerStep(false);
  const withNorm = await allocationsPerStep(true);
  assert.equal(withNorm, without, `allocations per step: ${withNorm} with the normalization layers, ${without} without`);
});

/** Bytes held by typed arrays, wasm memories and the JS heap after a full garbage collection. */
async function retainedBytes(): Promise<number> {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

testOnEveryBackend('memory stays flat over a long fit of a CNN with GroupNormalization and LayerNormalization', async () => {
  keel.setRandomSeed(8);
  const model = keel.sequential({ layers: [
    keel.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, inputShape: [8, 8, 1] }),
    keel.layers.groupNormalization({ groups: 2 }),
    keel.layers.activation({ activation: 'relu' }),
    keel.layers.layerNormalization({ axis: [1, 2, 3] }),
    keel.layers.maxPooling2d(),
    keel.layers.groupNormalization({ groups: -1 }),
    keel.layers.globalAveragePooling2d(),
    keel.layers.dense({ units: 3 }),
    keel.layers.layerNormalization(),
    keel.layers.activation({ activation: 'softmax' }),
  ] });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
  const random = new Random(2);
  const n = 90; // batches of 16 and a last one of 10
  const x = keel.tensor(Float32Array.from({ length: n * 64 }, () => random.normal()), [n, 8, 8, 1]);
  const y = keel.tensor(Float32Array.from({ length: n }, (_, i) => i % 3), [n]);
  await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, validationData: [x, y] });
  const before = await retainedBytes();
  await model.fit(x, y, { epochs: 30, batchSize: 16, verbose: 0, validationData: [x, y] });
  const after = await retainedBytes();
  // 30 epochs allocate about 20 MB of activations and gradients if buffers were not reused.
  assert.ok(after - before < 1_500_000, `retained memory grew by ${after - before} bytes`);
});
