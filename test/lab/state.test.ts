/**
 * The lab's settings in the URL hash: a link must give back exactly the settings it was made
 * from, and a damaged link must fall back to the defaults key by key, saying which keys it ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeState, defaultState, encodeState, type LabState } from '../../packages/keel-lab/src/state.js';

test('a hash gives back the settings it was written from', () => {
  const state: LabState = {
    model: 'mlp', depth: 4, width: 64, activation: 'elu', initializer: 'normal001', learningRate: 0.00316,
    batchSize: 16, optimizer: 'rmsprop', seed: 123456,
    a: { norm: 'renorm', placement: 'after', layers: [true, false, true, false] },
    b: { norm: 'group', placement: 'before', layers: [false, false, true, true] },
    layer: 2, feature: 63,
  };
  const hash = encodeState(state);
  assert.equal(hash, 'model=mlp&depth=4&width=64&act=elu&init=normal001&lr=0.00316&batch=16&opt=rmsprop&seed=123456'
    + '&a=renorm.after.1010&b=group.before.0011&layer=2&feature=63');
  const { state: back, problems } = decodeState(`#${hash}`);
  assert.deepEqual(problems, []);
  assert.deepEqual(back, state);
});

test('the default state survives the hash, and an empty hash is the default state', () => {
  assert.deepEqual(decodeState(encodeState(defaultState())).state, defaultState());
  assert.deepEqual(decodeState('').state, defaultState());
});

test('unusable keys keep their defaults and are reported; the rest is read', () => {
  const { state, problems } = decodeState('#depth=9&act=softplus&lr=5&width=100&a=batch.sideways.11&seed=7&batch=33');
  const defaults = defaultState();
  assert.equal(state.depth, defaults.depth);
  assert.equal(state.activation, defaults.activation);
  assert.equal(state.learningRate, defaults.learningRate);
  assert.deepEqual(state.a, defaults.a);
  assert.equal(state.batchSize, defaults.batchSize);
  assert.equal(state.width, 100);
  assert.equal(state.seed, 7);
  assert.deepEqual(problems, [
    'depth=9 (expected a whole number from 1 to 5)',
    'act=softplus (expected one of relu, elu, tanh, sigmoid)',
    'lr=5 (expected a number from 0.0001 to 1)',
    'batch=33 (expected one of 8, 16, 32, 60, 64, 128, 256)',
    'a=batch.sideways.11 (expected kind.placement.layers, e.g. batch.after.111)',
  ]);
});

test('the per-layer switches follow the depth, and the charted layer and feature stay inside the network', () => {
  const { state } = decodeState('#depth=2&width=32&a=batch.after.1&b=none.after.11111&layer=5&feature=40');
  assert.deepEqual(state.a.layers, [true, true], 'a missing layer is normalized');
  assert.deepEqual(state.b.layers, [true, true], 'extra layers are dropped');
  assert.equal(state.layer, 2);
  assert.equal(state.feature, 31);
});
