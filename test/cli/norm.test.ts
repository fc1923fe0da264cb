/** `keel train --norm` and `keel summary --norm`, run as a user runs them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

function runKeel(...args: string[]) {
  const r = spawnSync(process.execPath, ['--conditions=keel-source', '--import', 'tsx', join(root, 'packages', 'keel-cli', 'src', 'keel.ts'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('keel summary --norm group shows GroupNormalization where seed has BN', () => {
  const r = runKeel('summary', '--norm', 'group');
  assert.equal(r.code, 0, r.stderr);
  // Keras's summary cuts the type column: the names say it.
  assert.equal((r.stdout.match(/^group_normalization(_\d)? +\(Group/gm) ?? []).length, 3);
  assert.doesNotMatch(r.stdout, /batch_normalization/);
});

test('keel train --norm ghost trains on whole batches, reports the norm in --json, and its model has virtual batches', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-norm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const report = join(dir, 'r.json');
  // 1,000 images in batches of 32 leave a last batch of 8, which virtual batches of 16 cannot split.
  const r = runKeel('train', '--norm', 'ghost', '--virtual-batch-size', '16', '--train-limit', '1000', '--epochs', '1', '--verbose', '0',
    '--json', report, '--save', join(dir, 'model'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--norm ghost: training on the first 992 of the 1,000 training images, a whole number of batches of 32/);
  assert.match(r.stdout, /Model seed with --norm ghost \(virtual batches of 16\)/);
  const json = JSON.parse(readFileSync(report, 'utf8'));
  assert.equal(json.options.norm, 'ghost');
  assert.equal(json.options.virtualBatchSize, 16);
  const saved = JSON.parse(readFileSync(join(dir, 'model', 'model.json'), 'utf8'));
  const bn = saved.modelTopology.config.layers.filter((l: { class_name: string }) => l.class_name === 'BatchNormalization');
  assert.equal(bn.length, 3);
  for (const l of bn) assert.equal(l.config.virtual_batch_size, 16);
});

test('keel train --norm: wrong combinations are refused in one line before any data are loaded', () => {
  const one = (r: ReturnType<typeof runKeel>, pattern: RegExp) => {
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  };
  one(runKeel('train', '--norm', 'ghost', '--virtual-batch-size', '12'),
    /^keel: --norm ghost: --virtual-batch-size 12 must divide --batch-size 32; use a batch size that is a multiple of 12, or a virtual batch size that divides 32\./);
  one(runKeel('train', '--virtual-batch-size', '8'), /^keel: --virtual-batch-size applies to --norm ghost, not --norm batch/);
  one(runKeel('train', '--model', 'plain', '--norm', 'layer'), /^keel: --norm layer: --model plain has no normalization to replace; use --model seed, seed-before, cnn or resnet\./);
  one(runKeel('train', '--norm', 'instance'), /--norm.*instance/);
});
