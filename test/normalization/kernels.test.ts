/**
 * The group-normalization kernels (layer normalization is their one-group, one-position case):
 * every backend against the js reference at awkward sizes (1 channel per group, odd sizes, 1×1
 * images, widths that leave SIMD tails), and the js reference against the definition written out
 * here in float64, with γ and β far apart so that a swap anywhere between op and kernel shows.
 */
import assert from 'node:assert/strict';
import { Random } from '../../packages/keel/src/core/random.js';
import { backend } from '../../packages/keel/src/backend/backend.js';
import { createJsBackend } from '../../packages/keel/src/backend/js/index.js';
import { empty } from '../../packages/keel/src/ops/tensor.js';
import { groupNorm, groupNormGrad, layerNorm, layerNormGrad } from '../../packages/keel/src/ops/normalization.js';
import { relErr, testOnEveryBackend } from '../helpers.js';

/** [batch, positions, channels, groups] */
const SIZES: [number, number, number, number][] = [
  [1, 1, 2, 1], // the smallest layer normalization
  [3, 1, 7, 7], // one value per group (variance 0: output β)
  [2, 1, 7, 1], // layer normalization over an odd width
  [2, 5, 3, 3], // instance normalization, 3 channels
  [1, 1, 1, 1], // a 1×1 image with one channel
  [4, 1, 9, 3], // groups on Dense features
  [2, 4, 13, 1], // odd channels, one group over all positions
  [2, 9, 12, 4], // 3 channels per group
  [1, 1, 33, 1], // SIMD groups of 8 and a tail of 1
  [2, 7, 5, 5], // odd positions, instance norm
  [3, 1, 1, 1],
  [2, 6, 16, 2], // 8 channels per group: whole SIMD lanes
  [2, 3, 20, 5], // 4 channels per group
  [2, 64, 32, 8], // a 8×8 image with 32 channels
];

function filled(n: number, f: (i: number) => number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => f(i));
}

testOnEveryBackend('groupNorm and groupNormGrad agree with the js reference at awkward sizes', () => {
  const js = createJsBackend();
  const be = backend();
  const random = new Random(3);
  for (const [batch, positions, channels, groups] of SIZES) {
    const what = `batch ${batch}, positions ${positions}, channels ${channels}, groups ${groups}`;
    const n = batch * positions * channels, stats = batch * groups;
    // An offset far from 0 so that a one-pass variance would cancel in float32.
    const xs = filled(n, () => 40 + 3 * random.normal());
    const dys = filled(n, () => random.normal());
    const gs = filled(channels, () => 0.5 + random.next());
    const bs = filled(channels, () => random.normal());
    const run = (b: typeof be) => {
      const a = (src: Float32Array) => { const t = b.alloc(src.length, 'float32'); t.set(src); return t; };
      const x = a(xs), dy = a(dys), gamma = a(gs), beta = a(bs);
      const y = b.alloc(n, 'float32'), mean = b.alloc(stats, 'float32'), invStd = b.alloc(stats, 'float32');
      b.groupNorm(x, gamma, beta, 1e-3, batch, positions, channels, groups, y, mean, invStd);
      const dx = b.alloc(n, 'float32');
      const dgamma = a(filled(channels, () => 5)), dbeta = a(filled(channels, () => -5)); // accumulated onto
      b.groupNormGrad(x, dy, gamma, mean, invStd, batch, positions, channels, groups, dx, dgamma, dbeta);
      return { y, mean, invStd, dx, dgamma, dbeta };
    };
    const expected = run(js);
    const actual = run(be);
    // dx = γ·invStd·dy − (terms that nearly cancel it when a group is small): measured against the
    // size of that first term, since float32 rounding is relative to it.
    const dxScale = Math.max(...gs) * Math.max(...expected.invStd) * Math.max(...dys.map(Math.abs));
    for (const key of ['y', 'mean', 'invStd', 'dx', 'dgamma', 'dbeta'] as const) {
      const err = relErr(actual[key], expected[key], key === 'dx' ? dxScale : 1e-3);
      assert.ok(err < 2e-5, `${what}: ${key} relative error ${err.toExponential(2)}`);
    }
    if (positions * channels / groups === 1) {
      assert.deepEqual([...actual.y], [...expected.y], `${what}: a group of one value gives β`);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(actual.y[i] - bs[i % channels]) < 1e-6);
    }
  }
});

testOnEveryBackend('groupNormGrad may write dx over dy', () => {
  const be = backend();
  const random = new Random(4);
  const [batch, positions, channels, groups] = [2, 5, 6, 3];
  const n = batch * positions * channels;
  const x = be.alloc(n, 'float32'), dy = be.alloc(n, 'float32'), y = be.alloc(n, 'float32');
  for (let i = 0; i < n; i++) { x[i] = random.normal(); dy[i] = random.normal(); }
  const gamma = be.alloc(channels, 'float32'), beta = be.alloc(channels, 'float32');
  gamma.fill(1.5);
  const mean = be.alloc(batch * groups, 'float32'), invStd = be.alloc(batch * groups, 'float32');
  be.groupNorm(x, gamma, beta, 1e-3, batch, positions, channels, groups, y, mean, invStd);
  const dx = be.alloc(n, 'float32');
  const dg = be.alloc(channels, 'float32'), db = be.alloc(channels, 'float32');
  be.groupNormGrad(x, dy, gamma, mean, invStd, batch, positions, channels, groups, dx, dg, db);
  be.groupNormGrad(x, dy, gamma, mean, invStd, batch, positions, channels, groups, dy, dg, db);
  assert.deepEqual([...dy], [...dx]);
});

/** The definition, in float64: per sample and group, biased variance, ε inside the square root. */
function reference(x: Float32Array, gamma: Float32Array, beta: Float32Array, batch: number, positions: number, channels: number, groups: number, epsilon: number) {
  const per = channels / groups;
  const y = new Float64Array(x.length);
  const xhat = new Float64Array(x.length);
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let s = 0; s < positions; s++) for (let c = g * per; c < (g + 1) * per; c++) idx.push((n * positions + s) * channels + c);
      const mu = idx.reduce((a, i) => a + x[i], 0) / idx.length;
      const v = idx.reduce((a, i) => a + (x[i] - mu) ** 2, 0) / idx.length;
      for (const i of idx) {
        xhat[i] = (x[i] - mu) / Math.sqrt(v + epsilon);
        y[i] = gamma[i % channels] * xhat[i] + beta[i % channels];
      }
    }
  }
  return { y, xhat };
}

testOnEveryBackend('the ops normalize with γ as the scale and β as the offset, per group', () => {
  const random = new Random(5);
  const [batch, positions, channels, groups, epsilon] = [3, 4, 6, 2, 0.01];
  const x = empty([batch, positions, channels], 'float32');
  for (let i = 0; i < x.size; i++) x.values[i] = 2 * random.normal() + 3;
  const gamma = empty([channels], 'float32'), beta = empty([channels], 'float32');
  for (let c = 0; c < channels; c++) { gamma.values[c] = 2 + c; beta.values[c] = -10 - c; }
  const layout = { batch, positions, channels, groups };
  const y = empty(x.shape, 'float32');
  const saved = { mean: empty([batch, groups], 'float32'), invStd: empty([batch, groups], 'float32') };
  groupNorm(x, { gamma, beta, epsilon }, layout, y, saved);
  const ref = reference(x.values as Float32Array, gamma.values as Float32Array, beta.values as Float32Array, batch, positions, channels, groups, epsilon);
  assert.ok(relErr(y.values, ref.y) < 1e-6, 'y');
  // dβ = Σ dy and dγ = Σ dy·x̂ per channel, added to what the buffers held.
  const dy = empty(x.shape, 'float32');
  for (let i = 0; i < dy.size; i++) dy.values[i] = random.normal();
  const grads = { dx: empty(x.shape, 'float32'), dGamma: empty([channels], 'float32'), dBeta: empty([channels], 'float32') };
  grads.dGamma.values.fill(100);
  grads.dBeta.values.fill(-100);
  groupNormGrad(x, dy, gamma, layout, saved, grads);
  for (let c = 0; c < channels; c++) {
    let sDy = 0, sDyXhat = 0;
    for (let i = c; i < x.size; i += channels) { sDy += dy.values[i]; sDyXhat += dy.values[i] * ref.xhat[i]; }
    assert.ok(Math.abs(grads.dBeta.values[c] - (sDy - 100)) < 1e-4, `dβ[${c}]`);
    assert.ok(Math.abs(grads.dGamma.values[c] - (sDyXhat + 100)) < 1e-4, `dγ[${c}]`);
  }
  // Layer normalization: one group over each sample's last axis, γ and β per element of it.
  const rows = empty([5, 7], 'float32');
  for (let i = 0; i < rows.size; i++) rows.values[i] = random.normal() - 4;
  const g7 = empty([7], 'float32'), b7 = empty([7], 'float32');
  for (let c = 0; c < 7; c++) { g7.values[c] = 1 + c / 2; b7.values[c] = 20 + c; }
  const out = empty(rows.shape, 'float32');
  const savedRows = { mean: empty([5], 'float32'), invStd: empty([5], 'float32') };
  layerNorm(rows, { gamma: g7, beta: b7, epsilon }, out, savedRows);
  const refRows = reference(rows.values as Float32Array, g7.values as Float32Array, b7.values as Float32Array, 5, 1, 7, 1, epsilon);
  assert.ok(relErr(out.values, refRows.y) < 1e-6, 'layer norm y');
  const dOut = empty(rows.shape, 'float32');
  dOut.values.fill(1);
  const rowGrads = { dx: empty(rows.shape, 'float32'), dGamma: empty([7], 'float32'), dBeta: empty([7], 'float32') };
  layerNormGrad(rows, dOut, g7, savedRows, rowGrads);
  // With dy = 1 everywhere, Σĝ·x̂ = Σγ·x̂ and dx is not 0 unless γ is constant; dβ counts the rows.
  assert.deepEqual([...rowGrads.dBeta.values], new Array(7).fill(5));
});
