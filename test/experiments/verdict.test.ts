import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combine, compare, describe, mean, meanStd, std } from '../../packages/keel-cli/src/experiments/verdict.js';

const base = { label: 'x', direction: 'higher' as const, margin: 0.01 };

test('a clear effect in the claimed direction is supported', () => {
  const r = compare({ ...base, favoured: [0.88, 0.87, 0.885], other: [0.83, 0.832, 0.829] });
  assert.equal(r.verdict, 'supported');
  assert.ok(Math.abs(r.difference - (mean([0.88, 0.87, 0.885]) - mean([0.83, 0.832, 0.829]))) < 1e-12);
});

test('data that contradict the claim come out "not supported"', () => {
  assert.equal(compare({ ...base, favoured: [0.80, 0.81, 0.79], other: [0.85, 0.86, 0.84] }).verdict, 'not supported');
  assert.equal(compare({ ...base, favoured: [0.85, 0.85], other: [0.85, 0.85] }).verdict, 'not supported');
  // "lower is better" claims (e.g. epochs to reach a target, train/validation gap) flip the sign.
  assert.equal(compare({ ...base, direction: 'lower', favoured: [5, 6, 5], other: [2, 2, 3] }).verdict, 'not supported');
  assert.equal(compare({ ...base, direction: 'lower', favoured: [2, 2, 3], other: [5, 6, 5], margin: 1 }).verdict, 'supported');
});

test('a small or noisy effect is mixed', () => {
  assert.equal(compare({ ...base, favoured: [0.855, 0.856, 0.854], other: [0.85, 0.851, 0.85] }).verdict, 'mixed');
  // Large mean difference but seeds disagree wildly: within noise.
  assert.equal(compare({ ...base, favoured: [0.95, 0.80, 0.96], other: [0.85, 0.86, 0.84] }).verdict, 'mixed');
});

test('NaN (a diverged run) never supports a claim', () => {
  assert.equal(compare({ ...base, favoured: [NaN, 0.9], other: [0.8, 0.8] }).verdict, 'not supported');
});

test('combining comparisons', () => {
  const s = compare({ ...base, favoured: [0.9, 0.91], other: [0.8, 0.81] });
  const n = compare({ ...base, favoured: [0.7, 0.71], other: [0.8, 0.81] });
  assert.equal(combine([s, s]), 'supported');
  assert.equal(combine([n, n]), 'not supported');
  assert.equal(combine([s, n]), 'mixed');
  assert.equal(combine([]), 'not supported');
});

test('mean ± sample std', () => {
  assert.equal(std([1, 2, 3]), 1);
  assert.equal(meanStd([1, 2, 3], 2), '2.00 ± 1.00');
  assert.equal(meanStd([0.5], 2), '0.50');
});

test('"not worse" claims: equal is supported, clearly worse is not', async () => {
  const { compareNotWorse } = await import('../../packages/keel-cli/src/experiments/verdict.js');
  assert.equal(compareNotWorse({ ...base, favoured: [0.85, 0.852, 0.849], other: [0.851, 0.85, 0.85] }).verdict, 'supported');
  assert.equal(compareNotWorse({ ...base, favoured: [0.80, 0.79, 0.81], other: [0.85, 0.86, 0.85] }).verdict, 'not supported');
  assert.equal(compareNotWorse({ ...base, favoured: [0.84, 0.80, 0.86], other: [0.85, 0.85, 0.85] }).verdict, 'mixed');
  // Lower is better (prediction time): a folded model 1% slower than the plain one, margin 5%.
  assert.equal(compareNotWorse({ ...base, direction: 'lower', margin: 0.05, favoured: [1.01, 1.0, 1.02], other: [1, 1, 1] }).verdict, 'supported');
  assert.equal(compareNotWorse({ ...base, direction: 'lower', margin: 0.05, favoured: [1.3, 1.31, 1.29], other: [1, 1, 1] }).verdict, 'not supported');
});

test('a report line says when one seed gives no standard error, instead of printing 0', () => {
  const one = describe(compare({ ...base, favoured: [0.88], other: [0.85] }));
  assert.equal(one, 'x: supported (difference +0.0300 in the claimed direction, margin 0.01, one seed gives no standard error; 0.8800 vs 0.8500)');
  const three = describe(compare({ ...base, favoured: [0.88, 0.87, 0.885], other: [0.83, 0.832, 0.829] }));
  assert.match(three, /margin 0\.01, standard error 0\.\d{4};/);
});
