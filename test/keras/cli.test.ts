/** `keel export MODEL_DIR --format keras --out FILE.keras [--fold]`, run as a user runs it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import { loadKerasModel } from 'keel-keras';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'keel-export-keras-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const random = new keel.Random(4);
const uniform = (shape: number[], low: number, high: number) =>
  keel.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => low + (high - low) * random.next()), shape);

function runKeel(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=keel-source', '--import', 'tsx', join(root, 'packages', 'keel-cli', 'src', 'keel.ts'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('export --format keras writes a .keras archive that loads back to the same predictions, folded or not; --opset is refused', async () => {
  keel.setRandomSeed(8);
  const original = keel.zoo.buildModel('seed');
  // Moving statistics away from their initial 0 and 1, so that a fold or a lost buffer shows.
  await keel.recomputeBatchNormStatistics(original, uniform([64, 28, 28], 0.1, 0.7));
  const saved = join(dir, 'seed');
  await original.save(`file://${saved}`);
  const x = uniform([5, 28, 28], 0, 1);
  const expected = original.predict(x).dataSync();

  const out = join(dir, 'seed.keras');
  const r = runKeel('export', saved, '--format', 'keras', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Keras 3/);
  const back = await loadKerasModel(new Uint8Array(readFileSync(out)));
  assert.equal(back.layers.filter((l) => l.getClassName() === 'BatchNormalization').length, 3);
  assert.deepEqual(Array.from(back.predict(x).dataSync()), Array.from(expected), 'same weights, same bits');

  const foldedOut = join(dir, 'seed-folded.keras');
  const f = runKeel('export', saved, '--format', 'keras', '--out', foldedOut, '--fold');
  assert.equal(f.code, 0, f.stderr);
  const folded = await loadKerasModel(new Uint8Array(readFileSync(foldedOut)));
  assert.ok(folded.layers.length < back.layers.length, 'BN folded away');
  const got = folded.predict(x).dataSync();
  assert.ok(got.every((v, i) => Math.abs(v - expected[i]) <= 1e-5));

  const bad = runKeel('export', saved, '--format', 'keras', '--out', join(dir, 'x.keras'), '--opset', '13');
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--opset applies to --format onnx, not --format keras; leave it out\./);
});
