/**
 * Bad input to the image layers: each a KeelError that names what was expected, what was received
 * and how to fix it, raised before any weight is allocated, leaving the model as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';

test('a rank-3 input to conv2d says to add a channels axis', () => {
  const conv = keel.layers.conv2d({ filters: 2, kernelSize: 3 });
  assert.throws(() => conv.apply(keel.zeros([2, 28, 28])), {
    name: 'ShapeError',
    message: /expected each example as an image \[height, width, channels\] \(channels last\), received shape \[28,28\] \(rank 3 with the batch axis; expected rank 4\)\. Add a channels axis: layers\.reshape\(\{targetShape: \[28, 28, 1\]\}\)/,
  });
  assert.equal(conv.isBuilt, false, 'no weight was made');
  assert.throws(() => keel.sequential({ layers: [keel.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [28, 28] })] }), /received shape \[28,28\]/);
});

test('a channels-first image is recognised and refused with the transpose to make', () => {
  const conv = keel.layers.conv2d({ filters: 2, kernelSize: 3 });
  assert.throws(() => conv.apply(keel.zeros([2, 3, 32, 32])), {
    name: 'ShapeError',
    message: /expected channels last, \[height, width, channels\], received \[3,32,32\], which looks channels-first .* Transpose the images to \[32, 32, 3\]/,
  });
  assert.throws(() => keel.layers.conv2d({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst' as never }), {
    name: 'ValueError', message: /expected dataFormat 'channelsLast' .* received 'channelsFirst'\. Keel has no channels-first layout/,
  });
});

test('a window larger than a valid input, or than the image under pooling, is refused before any weight exists', () => {
  assert.throws(() => keel.sequential({ layers: [keel.layers.conv2d({ filters: 4, kernelSize: 5, inputShape: [3, 3, 1], name: 'big' })] }), {
    name: 'ShapeError',
    message: /big: the window of 5×5 \(filter 5×5, dilation 1×1\) is larger than the input's 3×3 with padding 'valid'\. Use padding: 'same', a smaller window, or larger images\./,
  });
  const pool = keel.layers.maxPooling2d({ poolSize: 3, name: 'pool' });
  assert.throws(() => pool.apply(keel.zeros([1, 2, 2, 1])), /pool: the window of 3×3 .* larger than the input's 2×2/);
  // 'same' pads instead: the same window works.
  assert.deepEqual(keel.layers.maxPooling2d({ poolSize: 3, padding: 'same' }).apply(keel.zeros([1, 2, 2, 1])).shape, [1, 1, 1, 1]);
});

test('strides 0, a fractional kernel size, dilation with strides, a bad padding: clear ValueErrors', () => {
  assert.throws(() => keel.layers.conv2d({ filters: 2, kernelSize: 3, strides: 0 }), {
    name: 'ValueError', message: /Conv2D: expected strides to be a positive integer or a pair of them, received 0\. Example: strides: 3 or strides: \[3, 3\]\./,
  });
  assert.throws(() => keel.layers.conv2d({ filters: 2, kernelSize: 2.5 }), /expected kernelSize to be a positive integer or a pair of them, received 2\.5/);
  assert.throws(() => keel.layers.conv2d({ filters: 0, kernelSize: 3 }), /expected filters to be a positive integer, received 0/);
  assert.throws(() => keel.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2 }), /cannot be combined with strides/);
  assert.throws(() => keel.layers.averagePooling2d({ padding: 'causal' as never }), /expected padding 'valid' or 'same', received 'causal'/);
  assert.throws(() => keel.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 0 }), /expected depthMultiplier to be a positive integer, received 0/);
  assert.throws(() => keel.layers.globalAveragePooling2d({ poolSize: 2 } as never), /unknown option 'poolSize'/);
});

test('fit on images of the wrong shape leaves the CNN as it was', async () => {
  keel.setRandomSeed(1);
  const model = keel.sequential({ layers: [
    keel.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [6, 6, 1] }),
    keel.layers.batchNormalization(),
    keel.layers.flatten(),
    keel.layers.dense({ units: 2, activation: 'softmax' }),
  ] });
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  const before = model.getWeights().map((w) => w.dataSync().slice());
  await assert.rejects(model.fit(keel.zeros([4, 6, 6, 3]), keel.zeros([4]), { epochs: 1, verbose: 0 }), /expected .*\[null,6,6,1\].*received .*\[4,6,6,3\]/);
  model.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));
});

test('a huge value where an option goes is described, never printed whole', () => {
  const images = Array.from({ length: 2000 }, () => Array.from({ length: 28 }, () => Array(28).fill(0.5)));
  const attempts: [string, () => unknown][] = [
    ['filters', () => keel.layers.conv2d({ filters: images as never, kernelSize: 3 })],
    ['kernelSize', () => keel.layers.conv2d({ filters: 2, kernelSize: images as never })],
    ['depthMultiplier', () => keel.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: images as never })],
    ['targetShape', () => keel.layers.reshape({ targetShape: images as never })],
    ['padding', () => keel.layers.maxPooling2d({ padding: images as never })],
    ['backend', () => keel.setBackend(images as never)],
  ];
  for (const [what, attempt] of attempts) {
    assert.throws(attempt, (e: Error) => {
      assert.ok(e instanceof keel.KeelError, `${what}: ${e.name}`);
      assert.ok(e.message.length < 400, `${what}: a message of ${e.message.length} characters`);
      assert.match(e.message, /nested array of shape \[2000,28,28\]/, what);
      return true;
    });
  }
});
