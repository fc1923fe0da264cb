/** The stratified split of the fashion-mnist package: exact per-class counts, deterministic. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';

const { stratifiedSplit } = keel.data;

/** 3 classes of 20, 25 and 30 images, interleaved. */
const labels = [...Array(20).fill(0), ...Array(25).fill(1), ...Array(30).fill(2)].sort((a, b) => (a * 7919) % 13 - (b * 7919) % 13);

function countByClass(indices: Int32Array): number[] {
  const counts = [0, 0, 0];
  for (const i of indices) counts[labels[i]]++;
  return counts;
}

test('each part holds exactly the requested number of images of each class, with no overlap', () => {
  const split = stratifiedSplit(labels, 3, { trainPerClass: 15, testPerClass: 4, validationPerClass: 5, seed: 1 });
  assert.deepEqual(countByClass(split.train), [10, 10, 10]);
  assert.deepEqual(countByClass(split.validation), [5, 5, 5]);
  assert.deepEqual(countByClass(split.test), [4, 4, 4]);
  const all = [...split.train, ...split.validation, ...split.test];
  assert.equal(new Set(all).size, all.length);
});

test('same seed, same split; another seed, another split', () => {
  const args = { trainPerClass: 15, testPerClass: 4, validationPerClass: 5 };
  const a = stratifiedSplit(labels, 3, { ...args, seed: 7 });
  const b = stratifiedSplit(labels, 3, { ...args, seed: 7 });
  const c = stratifiedSplit(labels, 3, { ...args, seed: 8 });
  assert.deepEqual(a, b);
  assert.notDeepEqual([...a.test], [...c.test]);
  // Pinned: a change to the recipe or to the generator would silently change users' splits.
  const pinned = stratifiedSplit([0, 0, 0, 0, 1, 1, 1, 1], 2, { trainPerClass: 3, testPerClass: 1, validationPerClass: 1, seed: 42 });
  assert.deepEqual({ train: [...pinned.train], validation: [...pinned.validation], test: [...pinned.test] }, { train: [3, 1, 5, 7], validation: [0, 6], test: [4, 2] });
});

test('a class too small for the split, or a bad label, is an error that says so', () => {
  assert.throws(() => stratifiedSplit(labels, 3, { trainPerClass: 20, testPerClass: 1, validationPerClass: 2 }), /class 0 has 20 images, fewer than the 20 \+ 1 the split needs/);
  assert.throws(() => stratifiedSplit([0, 1, 3], 3, { trainPerClass: 1, testPerClass: 0, validationPerClass: 0 }), /label 3 at index 2 is not a class index in \[0, 3\)/);
  assert.throws(() => stratifiedSplit(labels, 3, { trainPerClass: 2, validationPerClass: 3 }), /validationPerClass \(3\) cannot exceed trainPerClass \(2\)/);
});
