/**
 * GroupNormalization against Keras 3 (JAX backend): the fixture test/golden/keras_group_norm.json
 * is written by test/golden/keras_group_norm.py, never by Keel. For each case (Dense features,
 * sequences, NHWC images; groups 1, some, -1; center or scale off; 1×1 images) Keel's forward
 * and its dL/dx, dL/dγ, dL/dβ for L = Σ r·y match Keras's, in float32 on every backend and in
 * float64; Keel reads each layer's Keras get_config() and counts the parameters Keras counts.
 *
 * Keras 3 normalizes in float32 even for float64 layers (the fixture records compute_dtype), so
 * the golden values carry float32 rounding: tolerances are float32's, for float64 too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as keel from 'keel';
import type { DType } from '../../packages/keel/src/core/tensor.js';
import { GroupNormalization } from '../../packages/keel/src/layers/groupNormalization.js';
import { relErr, testOnEveryBackend } from '../helpers.js';

interface Case {
  name: string;
  shape: number[];
  options: { groups: number; center?: boolean; scale?: boolean; epsilon?: number };
  keras_config: Record<string, unknown>;
  count_params: number;
  x: number[]; r: number[]; gamma: number[] | null; beta: number[] | null;
  y: number[]; loss: number; dx: number[]; dgamma: number[] | null; dbeta: number[] | null;
}

const fixture = JSON.parse(readFileSync(new URL('../golden/keras_group_norm.json', import.meta.url), 'utf8')) as {
  keras: string; backend: string; compute_dtype: string; cases: Case[];
};

test('the fixture comes from Keras 3 on JAX', () => {
  assert.match(fixture.keras, /^3\./);
  assert.equal(fixture.backend, 'jax');
  assert.ok(fixture.cases.length >= 10);
});

/** Keel's forward and backward on a case; L = Σ r·y, as the Python script. */
function run(c: Case, dtype: DType) {
  const layer = new GroupNormalization({ ...c.options, dtype });
  layer.build(c.shape.slice(1));
  const weights: keel.Tensor[] = [];
  if (c.gamma) weights.push(keel.tensor(c.gamma, [c.gamma.length], dtype));
  if (c.beta) weights.push(keel.tensor(c.beta, [c.beta.length], dtype));
  layer.setWeights(weights);
  const x = keel.tensor(c.x, c.shape, dtype);
  const y = layer.forward(x, true);
  const yCopy = Float64Array.from(y.values);
  for (const w of layer.trainableWeights) w.grad!.values.fill(0);
  const dx = Float64Array.from(layer.backward(keel.tensor(c.r, c.shape, dtype), true)!.values);
  const grad = (name: string) => layer.trainableWeights.find((w) => w.shortName === name)?.grad?.values ?? null;
  return { layer, y: yCopy, dx, dgamma: grad('gamma'), dbeta: grad('beta') };
}

/**
 * The size of dx's first term, γ·dy/sqrt(σ² + ε): the rest nearly cancels it in small groups (2
 * values), so float32 rounding, Keras's included, is relative to it rather than to dx.
 */
function dxScale(c: Case): number {
  const channels = c.shape[c.shape.length - 1];
  const groups = c.options.groups === -1 ? channels : c.options.groups;
  const per = channels / groups, positions = c.x.length / c.shape[0] / channels;
  let worst = 0;
  for (let n = 0; n < c.shape[0]; n++) {
    for (let g = 0; g < groups; g++) {
      const values: number[] = [];
      for (let s = 0; s < positions; s++) for (let k = 0; k < per; k++) values.push(c.x[(n * positions + s) * channels + g * per + k]);
      const mu = values.reduce((a, v) => a + v, 0) / values.length;
      const variance = values.reduce((a, v) => a + (v - mu) ** 2, 0) / values.length;
      worst = Math.max(worst, 1 / Math.sqrt(variance + (c.options.epsilon ?? 1e-3)));
    }
  }
  return worst * Math.max(1, ...(c.gamma ?? [1])) * Math.max(...c.r.map(Math.abs));
}

function compare(c: Case, got: ReturnType<typeof run>, tolerance: number): void {
  const check = (key: string, actual: ArrayLike<number> | null, expected: number[] | null) => {
    assert.equal(actual === null, expected === null, `${c.name}: ${key} present in both or neither`);
    if (!actual || !expected) return;
    assert.equal(actual.length, expected.length, `${c.name}: ${key} length`);
    const err = relErr(actual, expected, key === 'dx' ? dxScale(c) : 1e-3);
    assert.ok(err < tolerance, `${c.name}: ${key} relative error ${err.toExponential(2)} against Keras`);
  };
  check('y', got.y, c.y);
  check('dx', got.dx, c.dx);
  check('dgamma', got.dgamma, c.dgamma);
  check('dbeta', got.dbeta, c.dbeta);
}

for (const c of fixture.cases) {
  testOnEveryBackend(`golden (Keras ${fixture.keras}): GroupNormalization ${c.name}, float32`, () => {
    compare(c, run(c, 'float32'), 5e-6);
  });

  test(`golden (Keras ${fixture.keras}): GroupNormalization ${c.name}, float64, config and parameter count`, () => {
    const got = run(c, 'float64');
    compare(c, got, 5e-6);
    assert.equal(got.layer.countParams(), c.count_params, 'parameters, as Keras counts them');
    // Keel reads the config Keras wrote (DTypePolicy, initializers with module and registered_name).
    const fromKeras = keel.layers.layerFromJSON({ class_name: 'GroupNormalization', config: c.keras_config }) as GroupNormalization;
    assert.equal(fromKeras.dtype, 'float64');
    assert.equal(fromKeras.groups, c.keras_config.groups);
    assert.equal(fromKeras.epsilon, c.keras_config.epsilon);
    assert.equal(fromKeras.center, c.keras_config.center);
    assert.equal(fromKeras.scale, c.keras_config.scale);
    // And writes the keys Keras writes.
    const written = keel.layers.layerToJSON(fromKeras).config;
    for (const key of Object.keys(c.keras_config)) assert.ok(key in written, `${c.name}: Keel writes Keras's key ${key}`);
  });
}
