import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';

const classes = (m: keel.Sequential) => m.layers.map((l) => l.getClassName());

test('zoo norm: every normalization builds seed, seed-before and cnn, in place of each BN', () => {
  const expected: Record<string, string> = {
    batch: 'BatchNormalization', renorm: 'BatchNormalization', ghost: 'BatchNormalization',
    group: 'GroupNormalization', layer: 'LayerNormalization',
  };
  for (const model of ['seed', 'seed-before', 'cnn'] as const) {
    const bnCount = classes(keel.zoo.buildModel(model)).filter((c) => c === 'BatchNormalization').length;
    for (const [norm, className] of Object.entries(expected)) {
      const built = keel.zoo.buildModel(model, { norm: norm as keel.zoo.Normalization });
      assert.equal(classes(built).filter((c) => c === className).length, bnCount, `${model} with ${norm}`);
    }
  }
});

test("zoo norm 'none' gives the networks without normalization: seed is plain, cnn is cnn-plain", () => {
  const plain = keel.zoo.buildModel('plain');
  const seedNone = keel.zoo.buildModel('seed', { norm: 'none' });
  assert.deepEqual(classes(seedNone), classes(plain));
  assert.equal(seedNone.countParams(), plain.countParams());
  const cnnNone = keel.zoo.buildModel('cnn', { norm: 'none' });
  const cnnPlain = keel.zoo.buildModel('cnn-plain');
  assert.deepEqual(classes(cnnNone), classes(cnnPlain));
  assert.equal(cnnNone.countParams(), cnnPlain.countParams());
  // seed-before without normalization: each Dense gets its bias back.
  const before = keel.zoo.buildModel('seed-before', { norm: 'none' });
  assert.equal(before.countParams(), plain.countParams());
});

test('zoo norm group: the largest group count up to 32 that divides the width', () => {
  assert.deepEqual([784, 300, 100, 32, 64, 128, 7].map(keel.zoo.groupsFor), [28, 30, 25, 32, 32, 32, 7]);
  const m = keel.zoo.buildModel('seed', { norm: 'group' });
  const groups = m.layers.filter((l) => l.getClassName() === 'GroupNormalization').map((l) => (l.getConfig() as { groups: number }).groups);
  assert.deepEqual(groups, [28, 30, 25]);
});

test('zoo norm: ghost takes its virtual batch size, renorm the clipping of the paper', () => {
  const ghost = keel.zoo.buildModel('seed', { norm: 'ghost', virtualBatchSize: 8 });
  const bn = ghost.layers.find((l) => l.getClassName() === 'BatchNormalization')!;
  assert.equal((bn.getConfig() as { virtual_batch_size: number }).virtual_batch_size, 8);
  const renorm = keel.zoo.buildModel('seed', { norm: 'renorm' }).layers.find((l) => l.getClassName() === 'BatchNormalization')!;
  const config = renorm.getConfig() as { renorm: boolean; renorm_clipping: Record<string, number> };
  assert.equal(config.renorm, true);
  assert.deepEqual(config.renorm_clipping, { rmax: 3, rmin: 1 / 3, dmax: 5 });
});

test('zoo norm: an unknown norm, or a norm for a model without BN, is refused with the choices', () => {
  assert.throws(() => keel.zoo.buildModel('seed', { norm: 'instance' as never }), /unknown norm 'instance'\. Expected one of: batch, renorm, ghost, group, layer, none/);
  assert.throws(() => keel.zoo.buildModel('plain', { norm: 'layer' }), /model plain has no normalization to replace, received norm 'layer'; use seed, seed-before or cnn/);
});
