/**
 * Finite-difference checks in float64 of LayerNormalization's and GroupNormalization's exact
 * backward: dL/dx, dL/dγ and dL/dβ, on Dense features (rank 2), sequences (rank 3) and NHWC images
 * (rank 4), with several group counts (1, some, one channel per group with -1), and with center
 * or scale off. Inputs are offset from 0, so that the mean's part of the gradient matters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { checkLayerGradients } from '../gradcheck.js';

const layerNormCases: { what: string; args: keel.layers.LayerNormalizationLayerArgs; input: number[] }[] = [
  { what: 'rank 2, axis -1', args: {}, input: [4, 6] },
  { what: 'rank 2, axis 1, epsilon 1e-5', args: { axis: 1, epsilon: 1e-5 }, input: [3, 5] },
  { what: 'rank 2, no center', args: { center: false }, input: [3, 6] },
  { what: 'rank 2, no scale', args: { scale: false }, input: [3, 6] },
  { what: 'rank 2, neither center nor scale', args: { center: false, scale: false }, input: [3, 4] },
  { what: 'rank 3, axes [-2, -1]', args: { axis: [-2, -1] }, input: [2, 3, 4] },
  { what: 'rank 4, axis -1', args: { axis: -1 }, input: [2, 3, 3, 4] },
  { what: 'rank 4, axes [1, 2, 3]', args: { axis: [1, 2, 3] }, input: [2, 2, 3, 3] },
  { what: 'rank 4, axes [3, 1, 2] (listed out of order)', args: { axis: [3, 1, 2] }, input: [2, 2, 2, 3] },
];

for (const c of layerNormCases) {
  test(`LayerNormalization gradients: ${c.what}`, () => {
    const layer = keel.layers.layerNormalization({ ...c.args, dtype: 'float64' });
    const grads = checkLayerGradients(layer, c.input, `layerNormalization ${c.what}`, 11, 1.5);
    assert.equal(grads.length, 1 + (c.args.scale === false ? 0 : 1) + (c.args.center === false ? 0 : 1));
  });
}

const groupNormCases: { what: string; args: keel.layers.GroupNormalizationLayerArgs; input: number[] }[] = [
  { what: 'rank 2, groups 1', args: { groups: 1 }, input: [3, 8] },
  { what: 'rank 2, groups 2', args: { groups: 2 }, input: [3, 8] },
  { what: 'rank 2, groups 4 (2 channels per group)', args: { groups: 4 }, input: [3, 8] },
  { what: 'rank 2, groups 3, no center', args: { groups: 3, center: false }, input: [2, 9] },
  { what: 'rank 2, groups 2, no scale', args: { groups: 2, scale: false }, input: [2, 6] },
  { what: 'rank 3, groups 3', args: { groups: 3 }, input: [2, 4, 6] },
  { what: 'rank 4, groups 1', args: { groups: 1 }, input: [2, 3, 3, 4] },
  { what: 'rank 4, groups 2', args: { groups: 2 }, input: [2, 3, 3, 6] },
  { what: 'rank 4, groups 3', args: { groups: 3 }, input: [2, 2, 3, 6] },
  { what: 'rank 4, groups -1 (instance norm)', args: { groups: -1 }, input: [2, 3, 3, 5] },
  { what: 'rank 4, groups 6 (= channels)', args: { groups: 6 }, input: [2, 2, 2, 6] },
  { what: 'rank 4, groups -1, one channel', args: { groups: -1 }, input: [2, 4, 3, 1] },
  { what: 'rank 4, 1×1 images, groups 2', args: { groups: 2 }, input: [3, 1, 1, 8] },
  { what: 'rank 4, groups 2, no center', args: { groups: 2, center: false }, input: [2, 3, 2, 4] },
  { what: 'rank 4, groups -1, no scale, epsilon 1e-5', args: { groups: -1, scale: false, epsilon: 1e-5 }, input: [2, 3, 2, 3] },
  { what: 'rank 4, groups 2, neither center nor scale', args: { groups: 2, center: false, scale: false }, input: [2, 2, 3, 4] },
];

for (const c of groupNormCases) {
  test(`GroupNormalization gradients: ${c.what}`, () => {
    const layer = keel.layers.groupNormalization({ ...c.args, dtype: 'float64' });
    const grads = checkLayerGradients(layer, c.input, `groupNormalization ${c.what}`, 12, -2);
    assert.equal(grads.length, 1 + (c.args.scale === false ? 0 : 1) + (c.args.center === false ? 0 : 1));
  });
}

test('non-trivial γ and β change the gradients, and the checks still hold', () => {
  for (const layer of [
    keel.layers.layerNormalization({ dtype: 'float64', gammaInitializer: keel.initializers.randomUniform({ minval: 0.5, maxval: 2, seed: 1 }), betaInitializer: keel.initializers.randomNormal({ seed: 2 }) }),
    keel.layers.groupNormalization({ groups: 2, dtype: 'float64', gammaInitializer: keel.initializers.randomUniform({ minval: 0.5, maxval: 2, seed: 3 }), betaInitializer: keel.initializers.randomNormal({ seed: 4 }) }),
  ]) {
    checkLayerGradients(layer, [3, 2, 2, 4], `${layer.getClassName()} with random γ, β`, 13, 0.5);
  }
});
