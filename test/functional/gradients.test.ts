/**
 * Finite-difference gradient checks in float64 (see test/gradcheck.ts): every merge layer's
 * gradient with respect to each input, and a whole residual graph (fan-out, Add, Concatenate,
 * Multiply, BN in training mode) with respect to every trainable weight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { assertGradClose, checkModelGradients, randomTensor } from '../gradcheck.js';
import type { Tensor } from '../../packages/keel/src/core/tensor.js';

const H = 1e-6;

function checkMerge(make: () => keel.layers.Layer, shapes: number[][], what: string): void {
  const layer = make();
  const random = new Random(31);
  const xs = shapes.map((s) => randomTensor(s, random));
  layer.buildMany(shapes.map((s) => s.slice(1)));
  const y0 = layer.forwardMany(xs, true);
  const r = randomTensor([...y0.shape], random);
  const loss = () => {
    const y = layer.forwardMany(xs, true);
    let s = 0;
    for (let i = 0; i < y.size; i++) s += r.values[i] * y.values[i];
    return s;
  };
  layer.forwardMany(xs, true);
  const dxs = layer.backwardMany(r, xs.map(() => true)).map((d) => Float64Array.from(d!.values));
  xs.forEach((x, k) => {
    assert.equal(dxs[k].length, x.size, `${what}: dx${k} has the input's size`);
    for (let i = 0; i < x.size; i++) {
      const keep = x.values[i];
      x.values[i] = keep + H;
      const up = loss();
      x.values[i] = keep - H;
      const down = loss();
      x.values[i] = keep;
      assertGradClose(dxs[k][i], (up - down) / (2 * H), `${what} dL/dx${k}[${i}]`);
    }
  });
}

const f64 = { dtype: 'float64' as const };

test('gradient: Add, Average and Multiply of 2 and 3 inputs, in float64', () => {
  checkMerge(() => keel.layers.add(f64), [[2, 3, 4], [2, 3, 4]], 'add of 2');
  checkMerge(() => keel.layers.add(f64), [[2, 5], [2, 5], [2, 5]], 'add of 3');
  checkMerge(() => keel.layers.average(f64), [[3, 4], [3, 4], [3, 4]], 'average of 3');
  checkMerge(() => keel.layers.multiply(f64), [[2, 2, 3], [2, 2, 3]], 'multiply of 2');
  checkMerge(() => keel.layers.multiply(f64), [[2, 4], [2, 4], [2, 4]], 'multiply of 3');
});

test('gradient: Concatenate along the last, a middle and a negative axis, in float64', () => {
  checkMerge(() => keel.layers.concatenate(f64), [[2, 3, 2], [2, 3, 4]], 'concatenate -1');
  checkMerge(() => keel.layers.concatenate({ axis: 1, ...f64 }), [[2, 1, 3], [2, 2, 3], [2, 3, 3]], 'concatenate 1 of 3');
  checkMerge(() => keel.layers.concatenate({ axis: -2, ...f64 }), [[2, 2, 3, 2], [2, 2, 4, 2]], 'concatenate -2');
});

test('Multiply passes the exact gradient at an input of 0 (the product of the others, not y / x)', () => {
  const layer = keel.layers.multiply(f64);
  const a = keel.tensor([0, 2], [1, 2], 'float64');
  const b = keel.tensor([3, 0], [1, 2], 'float64');
  layer.buildMany([[2], [2]]);
  layer.forwardMany([a, b], true);
  const [da, db] = layer.backwardMany(keel.tensor([1, 1], [1, 2], 'float64'), [true, true]);
  assert.deepEqual(Array.from(da!.values), [3, 0]);
  assert.deepEqual(Array.from(db!.values), [0, 2]);
});

/** A small residual graph in float64 where tensors fan out to two and three readers. */
function residualGraph(): keel.LayersModel {
  const L = keel.layers;
  const x = keel.input({ shape: [4, 4, 2], dtype: 'float64' });
  const c1 = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', ...f64 }).apply(x);
  const b1 = L.batchNormalization(f64).apply(c1);
  const h = L.activation({ activation: 'tanh', ...f64 }).apply(b1); // h: read by the block, the shortcut and the multiply
  const c2 = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', useBias: false, ...f64 }).apply(h);
  const b2 = L.batchNormalization(f64).apply(c2);
  const sum = L.add(f64).apply([b2, h]);
  const gate = L.multiply(f64).apply([sum, h]);
  const both = L.concatenate(f64).apply([gate, sum]); // sum: read by the multiply and the concatenate
  const pooled = L.globalAveragePooling2d(f64).apply(both);
  const out = L.dense({ units: 3, activation: 'softmax', ...f64 }).apply(pooled);
  return keel.model({ inputs: x, outputs: out });
}

test('gradient: a residual graph with fan-out, Add, Multiply, Concatenate and BN, every weight, in float64', () => {
  keel.setRandomSeed(9);
  const model = residualGraph();
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  const random = new Random(12);
  const x = randomTensor([5, 4, 4, 2], random);
  const y = keel.tensor([0, 1, 2, 1, 0]);
  assert.equal(model.trainableWeights.length, 9);
  checkModelGradients(model, x, y, 9);
});

test('gradient: a two-input model, each input through its own layers, then concatenated', () => {
  keel.setRandomSeed(10);
  const L = keel.layers;
  const a = keel.input({ shape: [3], dtype: 'float64' });
  const b = keel.input({ shape: [2], dtype: 'float64' });
  const ha = L.dense({ units: 4, activation: 'tanh', ...f64 }).apply(a);
  const hb = L.batchNormalization(f64).apply(L.dense({ units: 2, ...f64 }).apply(b));
  const out = L.dense({ units: 2, activation: 'softmax', ...f64 }).apply(L.concatenate(f64).apply([ha, hb, b]));
  const model = keel.model({ inputs: [a, b], outputs: out });
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  const random = new Random(13);
  const xs = [randomTensor([6, 3], random), randomTensor([6, 2], random)];
  const y = keel.tensor([0, 1, 1, 0, 1, 0]);
  checkModelGradients(model, xs, y);
});
