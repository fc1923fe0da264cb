/** `keel fold`, `keel evaluate`, `keel predict`, `keel train --recompute-bn-stats`, `keel experiment`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWithClosedPipe } from './closedPipe.js';

const root = join(import.meta.dirname, '..', '..');

function runKeel(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=keel-source', '--import', 'tsx', join(root, 'packages', 'keel-cli', 'src', 'keel.ts'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'keel-deploy-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('--help of experiment, fold, evaluate and predict', () => {
  for (const [command, pattern] of [
    ['experiment', /placement.*depth.*paper-figure-1.*runtime-penalty.*all.*--quick.*--out.*--seeds.*--epochs.*--dataset/s],
    ['fold', /Usage: keel fold \[options\] <model> <out>/],
    ['evaluate', /Usage: keel evaluate \[options\] <model>.*--dataset.*--no-scale/s],
    ['predict', /Usage: keel predict \[options\] <model>.*--index/s],
  ] as const) {
    const r = runKeel(command, '--help');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, pattern);
  }
});

test('train --recompute-bn-stats, then fold, evaluate and predict the saved model', () => {
  const saved = join(dir, 'model');
  const folded = join(dir, 'folded');
  const json = join(dir, 'report.json');
  const train = runKeel('train', '--train-limit', '2000', '--epochs', '1', '--verbose', '0', '--recompute-bn-stats', '--save', saved, '--json', json);
  assert.equal(train.code, 0, train.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  const recomputed = report.recomputedBatchNormStatistics.testAccuracy;
  assert.ok(recomputed > 0.1 && recomputed <= 1);
  assert.match(train.stdout, new RegExp(`Test accuracy with BN moving averages ${report.test.accuracy.toFixed(4)} → with exact statistics over the 2,000 training images ${recomputed.toFixed(4)}`));

  const fold = runKeel('fold', join(saved, 'model.json'), folded);
  assert.equal(fold.code, 0, fold.stderr);
  assert.match(fold.stdout, /folded batch_normalization into dense \(the next layer\)/);
  assert.match(fold.stdout, /271,346 parameters → 266,610; 7 layers → 4/);
  assert.ok(existsSync(join(folded, 'model.json')) && existsSync(join(folded, 'weights.bin')));

  // The folded model scores what the original (with its recomputed statistics) scored.
  const evaluate = runKeel('evaluate', folded);
  assert.equal(evaluate.code, 0, evaluate.stderr);
  const accuracy = Number(/accuracy (\d\.\d{4})/.exec(evaluate.stdout)![1]);
  assert.ok(Math.abs(accuracy - recomputed) <= 0.0002, `folded ${accuracy} vs original ${recomputed}`);
  assert.match(evaluate.stdout, /Confusion matrix/);

  const predict = runKeel('predict', folded, '--index', '17');
  assert.equal(predict.code, 0, predict.stderr);
  assert.match(predict.stdout, /test image 17: predicted \d \S.* \(\d+\.\d%\), true class 7 Sneaker/);
  assert.match(predict.stdout, /[@%#]/); // the image is drawn
  const lines = predict.stdout.split('\n').filter((l) => /^ {2}\d /.test(l));
  assert.equal(lines.length, 10);
});

test('keel evaluate ... | head -1: a reader that goes away ends the command quietly, with exit code 0', async () => {
  const r = await runWithClosedPipe(['evaluate', join(dir, 'folded')]);
  assert.equal(r.signal, null, 'the command had to be killed');
  assert.match(r.stdout, /^fashion-mnist test set, 10,000 images: accuracy 0\.\d{4}/);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
});

test('bad input to the deploy commands: one line, exit 2', () => {
  const missing = runKeel('fold', join(dir, 'nothing-here'), join(dir, 'out'));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^keel: loadLayersModel: no model file at .*nothing-here\/model\.json/);
  assert.equal(missing.stderr.trimEnd().split('\n').length, 1);
  const unknown = runKeel('experiment', 'placment');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /value 'placment' is invalid for argument 'name'\. Allowed choices are placement, depth/);
  const index = runKeel('predict', join(dir, 'model'), '--index', '10000');
  assert.equal(index.code, 2);
  assert.match(index.stderr, /--index 10000 is outside the test set of 10,000 images; use 0 to 9,999/);
  // The counts in messages can be typed back as they are printed.
  const typed = runKeel('predict', join(dir, 'model'), '--index', '9,999');
  assert.equal(typed.code, 0, typed.stderr);
  assert.match(typed.stdout, /test image 9999: predicted/);
});
