/**
 * Golden values from TF.js (CPU backend) with the same weights: the forward of every convolution
 * and pooling layer over both paddings, strides, dilations and odd sizes, on every backend.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { Conv2D } from '../../packages/keel/src/layers/conv2d.js';
import { DepthwiseConv2D } from '../../packages/keel/src/layers/depthwiseConv2d.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../packages/keel/src/layers/pooling.js';
import type { Layer } from '../../packages/keel/src/layers/layer.js';
import { relErr, testOnEveryBackend } from '../helpers.js';

await tf.setBackend('cpu');

function randomArray(n: number, random: Random): Float32Array {
  return Float32Array.from({ length: n }, () => random.normal());
}


/** Builds both layers, gives TF.js Keel's weights, and compares the outputs on the same input. */
function compare(keelLayer: Layer, tfLayer: tf.layers.Layer, inputShape: number[], seed: number, what: string): void {
  const random = new Random(seed);
  const x = randomArray(inputShape.reduce((a, b) => a * b, 1), random);
  keelLayer.build(inputShape.slice(1));
  // Random weights (biases too, so that a bias bug shows).
  const weights = keelLayer.getWeights().map((w) => keel.tensor(randomArray(w.size, random), w.shape));
  keelLayer.setWeights(weights);
  const tfOut = tfLayer.apply(tf.tensor(x, inputShape)) as tf.Tensor;
  tfLayer.setWeights(weights.map((w) => tf.tensor(w.dataSync(), [...w.shape])));
  const expected = (tfLayer.apply(tf.tensor(x, inputShape)) as tf.Tensor);
  tfOut.dispose();
  const actual = keelLayer.apply(keel.tensor(x, inputShape));
  assert.deepEqual(actual.shape, expected.shape, `${what}: output shape`);
  const err = relErr(actual.dataSync(), expected.dataSync());
  assert.ok(err < 2e-6, `${what}: relative error ${err.toExponential(2)} against TF.js`);
  expected.dispose();
}

const convCases: { what: string; args: Record<string, unknown>; input: number[] }[] = [
  { what: '3×3 same', args: { filters: 4, kernelSize: 3, padding: 'same' }, input: [2, 5, 6, 3] },
  { what: '3×3 valid stride 2', args: { filters: 3, kernelSize: 3, strides: 2 }, input: [2, 7, 6, 2] },
  { what: '2×2 same stride 2 (extra padding bottom/right)', args: { filters: 2, kernelSize: 2, strides: 2, padding: 'same' }, input: [1, 5, 5, 2] },
  { what: '4×4 same (even window)', args: { filters: 2, kernelSize: 4, padding: 'same' }, input: [2, 6, 5, 2] },
  { what: '3×2 same strides [2, 3]', args: { filters: 3, kernelSize: [3, 2], strides: [2, 3], padding: 'same' }, input: [2, 7, 5, 1] },
  { what: 'dilation 2 same', args: { filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same' }, input: [1, 6, 7, 2] },
  { what: '7×7 on 3×3 same', args: { filters: 2, kernelSize: 7, padding: 'same' }, input: [2, 3, 3, 2] },
  { what: '1×1 relu', args: { filters: 5, kernelSize: 1, activation: 'relu' }, input: [2, 3, 4, 3] },
  { what: 'stride 3, 3 channels', args: { filters: 4, kernelSize: 3, strides: 3 }, input: [2, 9, 10, 3] },
  { what: '1×1 image, 1 channel, same', args: { filters: 3, kernelSize: 3, padding: 'same' }, input: [3, 1, 1, 1] },
];

for (const c of convCases) {
  testOnEveryBackend(`golden (TF.js): Conv2D ${c.what}`, () => {
    compare(new Conv2D(c.args as never), tf.layers.conv2d(c.args as never), c.input, 7, `conv2d ${c.what}`);
  });
}

const depthwiseCases: { what: string; args: Record<string, unknown>; input: number[] }[] = [
  { what: '3×3 same', args: { kernelSize: 3, padding: 'same' }, input: [2, 5, 4, 3] },
  { what: 'multiplier 2 stride 2 valid', args: { kernelSize: 3, depthMultiplier: 2, strides: 2 }, input: [2, 7, 6, 2] },
  { what: '2×2 same stride 2', args: { kernelSize: 2, strides: 2, padding: 'same' }, input: [2, 5, 5, 4] },
];

for (const c of depthwiseCases) {
  testOnEveryBackend(`golden (TF.js): DepthwiseConv2D ${c.what}`, () => {
    compare(new DepthwiseConv2D(c.args as never), tf.layers.depthwiseConv2d(c.args as never), c.input, 8, `depthwise ${c.what}`);
  });
}

// TF.js 4.22's DepthwiseConv2D layer ignores dilationRate (its call passes null); Keras honours it,
// and so does TF.js's depthwiseConv2d op, which is the golden here.
testOnEveryBackend('golden (TF.js op): DepthwiseConv2D with dilation 2, same', () => {
  const random = new Random(13);
  const inputShape = [2, 6, 5, 3];
  const x = randomArray(2 * 6 * 5 * 3, random);
  const layer = new DepthwiseConv2D({ kernelSize: 3, dilationRate: 2, padding: 'same', depthMultiplier: 2 });
  layer.build(inputShape.slice(1));
  const [kernel, bias] = layer.getWeights().map((w) => keel.tensor(randomArray(w.size, random), w.shape));
  layer.setWeights([kernel, bias]);
  const expected = tf.add(
    tf.depthwiseConv2d(tf.tensor4d(x, inputShape as never), tf.tensor4d(kernel.dataSync(), kernel.shape as never), 1, 'same', 'NHWC', 2),
    tf.tensor1d(bias.dataSync()));
  const actual = layer.apply(keel.tensor(x, inputShape));
  assert.deepEqual(actual.shape, expected.shape);
  const err = relErr(actual.dataSync(), expected.dataSync());
  assert.ok(err < 2e-6, `relative error ${err.toExponential(2)} against TF.js`);
});

const poolCases: { what: string; args: Record<string, unknown>; input: number[] }[] = [
  { what: '2×2', args: { poolSize: 2 }, input: [2, 4, 6, 3] },
  { what: '3×3 stride 2 same, odd sizes', args: { poolSize: 3, strides: 2, padding: 'same' }, input: [2, 5, 7, 2] },
  { what: '2×2 same on odd sizes', args: { poolSize: 2, padding: 'same' }, input: [1, 5, 3, 2] },
  { what: '3×3 stride 1 same', args: { poolSize: 3, strides: 1, padding: 'same' }, input: [2, 4, 5, 3] },
  { what: '3×3 stride 3 valid', args: { poolSize: 3, strides: 3 }, input: [2, 7, 7, 1] },
];

for (const c of poolCases) {
  testOnEveryBackend(`golden (TF.js): MaxPooling2D ${c.what}`, () => {
    compare(new MaxPooling2D(c.args as never), tf.layers.maxPooling2d(c.args as never), c.input, 9, `maxPool ${c.what}`);
  });
  testOnEveryBackend(`golden (TF.js): AveragePooling2D ${c.what}`, () => {
    compare(new AveragePooling2D(c.args as never), tf.layers.averagePooling2d(c.args as never), c.input, 10, `avgPool ${c.what}`);
  });
}

testOnEveryBackend('golden (TF.js): GlobalAveragePooling2D and GlobalMaxPooling2D', () => {
  compare(new GlobalAveragePooling2D(), tf.layers.globalAveragePooling2d({}), [3, 4, 5, 2], 11, 'globalAvg');
  compare(new GlobalMaxPooling2D(), tf.layers.globalMaxPooling2d({}), [3, 4, 5, 2], 12, 'globalMax');
});
