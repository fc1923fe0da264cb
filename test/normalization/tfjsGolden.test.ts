/**
 * LayerNormalization against TF.js 4.22's (CPU backend) with the same weights: the forward, and the
 * gradients of L = Σ r·y with respect to x (tf.grad) and to γ and β (tf.variableGrads), on every
 * backend and in float64, over axes -1, [-2, -1], [1, 2, 3] (γ of shape [H, W, C]) and an
 * out-of-order list, with center or scale off and another ε.
 *
 * TF.js 4.22 cannot differentiate its LayerNormalization with center or scale off (tf.grad throws
 * inside its batchNorm gradient: "Cannot read properties of undefined"), so those cases compare
 * the forward only; gradients.test.ts checks their backward by finite differences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import type { DType } from '../../packages/keel/src/core/tensor.js';
import { LayerNormalization } from '../../packages/keel/src/layers/layerNormalization.js';
import { relErr, testOnEveryBackend } from '../helpers.js';

await tf.setBackend('cpu');

const cases: { what: string; args: { axis?: number | number[]; epsilon?: number; center?: boolean; scale?: boolean }; input: number[] }[] = [
  { what: 'rank 2, default axis', args: {}, input: [5, 7] },
  { what: 'rank 2, axis 1, epsilon 1e-5', args: { axis: 1, epsilon: 1e-5 }, input: [4, 9] },
  { what: 'rank 2, 2 features', args: {}, input: [3, 2] },
  { what: 'rank 3, axes [-2, -1]', args: { axis: [-2, -1] }, input: [3, 4, 5] },
  { what: 'rank 4, axis -1', args: { axis: -1 }, input: [2, 3, 4, 5] },
  { what: 'rank 4, axes [1, 2, 3]', args: { axis: [1, 2, 3] }, input: [2, 3, 2, 4] },
  { what: 'rank 4, axes [2, 3]', args: { axis: [2, 3] }, input: [2, 2, 3, 5] },
  { what: 'rank 4, axes [3, 1, 2] (out of order)', args: { axis: [3, 1, 2] }, input: [2, 2, 3, 2] },
  { what: 'rank 2, no center', args: { center: false }, input: [4, 6] },
  { what: 'rank 2, no scale', args: { scale: false }, input: [4, 6] },
  { what: 'rank 4, neither center nor scale', args: { center: false, scale: false, axis: [1, 2, 3] }, input: [2, 2, 2, 3] },
];

/** TF.js's layer with these weights: y, and dL/dx, dL/dγ, dL/dβ for L = Σ r·y. */
function tfjsReference(args: (typeof cases)[number]['args'], shape: number[], x: Float32Array, r: Float32Array, weights: Float32Array[]) {
  const differentiable = args.center !== false && args.scale !== false;
  const result = { y: new Float32Array(0) as Float32Array, paramShape: [] as number[], params: 0, dx: null as Float32Array | null, dgamma: null as Float32Array | null, dbeta: null as Float32Array | null };
  tf.tidy(() => {
    const layer = tf.layers.layerNormalization(args);
    const xt = tf.tensor(x, shape), rt = tf.tensor(r, shape);
    layer.apply(xt); // builds
    layer.setWeights(layer.getWeights().map((w, i) => tf.tensor(weights[i], w.shape)));
    result.y = (layer.apply(xt) as tf.Tensor).dataSync().slice() as Float32Array;
    const loss = (input: tf.Tensor) => tf.sum(tf.mul(rt, layer.apply(input) as tf.Tensor)) as tf.Scalar;
    result.paramShape = layer.getWeights()[0]?.shape ?? [];
    result.params = layer.countParams();
    if (!differentiable) return;
    result.dx = tf.grad(loss)(xt).dataSync().slice() as Float32Array;
    const variables = layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const { grads } = tf.variableGrads(() => loss(xt), variables);
    const grad = (short: string) => grads[variables.find((w) => w.name.split('/').pop()!.startsWith(short))!.name].dataSync().slice() as Float32Array;
    result.dgamma = grad('gamma');
    result.dbeta = grad('beta');
  });
  return result;
}

function keelRun(args: (typeof cases)[number]['args'], shape: number[], x: Float32Array, r: Float32Array, weights: Float32Array[], dtype: DType) {
  const layer = new LayerNormalization({ ...args, dtype });
  layer.build(shape.slice(1));
  layer.setWeights(layer.getWeights().map((w, i) => keel.tensor(weights[i], w.shape, dtype)));
  const y = Float64Array.from(layer.forward(keel.tensor(x, shape, dtype), true).values);
  for (const w of layer.trainableWeights) w.grad!.values.fill(0);
  const dx = Float64Array.from(layer.backward(keel.tensor(r, shape, dtype), true)!.values);
  const grad = (name: string) => layer.trainableWeights.find((w) => w.shortName === name)?.grad?.values ?? null;
  return { layer, y, dx, dgamma: grad('gamma'), dbeta: grad('beta') };
}

/** max γ·|r|/sqrt(σ² + ε) over the samples: the size of dx's first term. */
function dxScale(x: Float32Array, shape: number[], args: (typeof cases)[number]['args'], weights: Float32Array[], r: Float32Array): number {
  const per = x.length / shape[0];
  let inv = 0;
  for (let n = 0; n < shape[0]; n++) {
    const v = x.subarray(n * per, (n + 1) * per);
    const mu = v.reduce((a, b) => a + b, 0) / per;
    const variance = v.reduce((a, b) => a + (b - mu) ** 2, 0) / per;
    inv = Math.max(inv, 1 / Math.sqrt(variance + (args.epsilon ?? 1e-3)));
  }
  const gamma = args.scale === false ? [1] : [...weights[0]];
  return inv * Math.max(...gamma) * Math.max(...[...r].map(Math.abs));
}

function data(c: (typeof cases)[number], seed: number) {
  const random = new Random(seed);
  const size = c.input.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: size }, () => 2 * random.normal() + 1.5);
  const r = Float32Array.from({ length: size }, () => random.normal());
  // Weights in Keel's order (γ then β), of the normalized axes' shape.
  const probe = new LayerNormalization(c.args);
  probe.build(c.input.slice(1));
  const weights = probe.weights.map((w) => Float32Array.from({ length: w.value.size }, () =>
    (w.shortName === 'gamma' ? 0.5 + random.next() * 1.5 : random.normal())));
  return { x, r, weights, probe };
}

for (const c of cases) {
  const dtypes: DType[] = ['float32', 'float64'];
  for (const dtype of dtypes) {
    const body = () => {
      const { x, r, weights, probe } = data(c, 21);
      const expected = tfjsReference(c.args, c.input, x, r, weights);
      const got = keelRun(c.args, c.input, x, r, weights, dtype);
      if (expected.paramShape.length) assert.deepEqual([...probe.weights[0].shape], expected.paramShape, 'γ/β shape as TF.js builds it');
      assert.equal(got.layer.countParams(), expected.params, 'parameters, as TF.js counts them');
      const differentiable = c.args.center !== false && c.args.scale !== false;
      for (const key of ['y', 'dx', 'dgamma', 'dbeta'] as const) {
        if (key !== 'y' && !differentiable) continue;
        const a = got[key], e = expected[key];
        assert.ok(a && e, `${key} computed by both`);
        // dx's terms nearly cancel in small groups: its float32 rounding is relative to γ·dy/σ.
        const err = relErr(a, e, key === 'dx' ? dxScale(x, c.input, c.args, weights, r) : 1e-3);
        assert.ok(err < 1e-5, `${c.what} (${dtype}): ${key} relative error ${err.toExponential(2)} against TF.js`);
      }
    };
    if (dtype === 'float32') testOnEveryBackend(`golden (TF.js): LayerNormalization ${c.what}, float32`, body);
    else test(`golden (TF.js): LayerNormalization ${c.what}, float64`, body);
  }
}

test('TF.js and Keel agree on the defaults: axis -1, epsilon 1e-3, center and scale', () => {
  const tfLayer = tf.layers.layerNormalization({});
  const tfConfig = tfLayer.getConfig();
  const layer = keel.layers.layerNormalization();
  assert.equal(layer.axis, tfConfig.axis);
  assert.equal(layer.epsilon, tfConfig.epsilon);
  assert.equal(layer.center, tfConfig.center);
  assert.equal(layer.scale, tfConfig.scale);
  assert.equal(layer.getClassName(), tfLayer.getClassName());
});
