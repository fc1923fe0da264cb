/** The `keel` command, run as a user runs it (a child process). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import * as datasets from 'keel-datasets';
import { runWithClosedPipe } from './closedPipe.js';

const root = join(import.meta.dirname, '..', '..');

function runKeel(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  return runKeelWith({}, ...args);
}

function runKeelWith(env: Record<string, string>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=keel-source', '--import', 'tsx', join(root, 'packages', 'keel-cli', 'src', 'keel.ts'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, FORCE_COLOR: '0', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Exit code 2, one line on stderr, no stack trace. */
function assertUsageError(r: ReturnType<typeof runKeel>, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, received:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

test('--help of the program and of every command', () => {
  const top = runKeel('--help');
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Usage: keel \[options\] \[command\]/);
  assert.match(top.stdout, /summary .*\n.*train /s);
  const summary = runKeel('summary', '--help');
  assert.equal(summary.code, 0);
  assert.match(summary.stdout, /Usage: keel summary/);
  assert.match(summary.stdout, /choices: "seed",\s+"seed-before", "plain"/);
  const train = runKeel('train', '--help');
  assert.equal(train.code, 0);
  for (const flag of ['--model', '--dataset', '--epochs', '--batch-size', '--optimizer', '--learning-rate', '--activation',
    '--kernel-initializer', '--seed', '--train-limit', '--save', '--json', '--no-scale', '--data-dir', '--verbose', '--debug']) {
    assert.ok(train.stdout.includes(flag), `train --help lacks ${flag}`);
  }
  assert.equal(runKeel('help', 'train').code, 0);
});

test('summary prints the Keras-style table of each model', () => {
  const seed = runKeel('summary');
  assert.equal(seed.code, 0);
  assert.match(seed.stdout, /batch_normalization \(BatchNo \(None, 784\)\s+3136/);
  assert.match(seed.stdout, /Total params: 271,346/);
  const before = runKeel('summary', '--model', 'seed-before');
  assert.match(before.stdout, /dense \(Dense\)\s+\(None, 300\)\s+235200/); // no bias
  assert.match(before.stdout, /activation \(Activation\)/);
  const plain = runKeel('summary', '-m', 'plain');
  assert.doesNotMatch(plain.stdout, /BatchNo/);
  assert.match(plain.stdout, /Total params: 266,610/);
});

test('bad flags and values: one line, exit code 2, no stack', () => {
  assertUsageError(runKeel('train', '--epoch', '3'), /^keel train: unknown option '--epoch' \(Did you mean --epochs\?\)/);
  assertUsageError(runKeel('train', '--model', 'big'), /argument 'big' is invalid\. Allowed choices are seed, seed-before, plain/);
  assertUsageError(runKeel('train', '--epochs', '0'), /expected a positive integer, received '0'/);
  assertUsageError(runKeel('train', '--learning-rate', 'fast'), /expected a positive number/);
  assertUsageError(runKeel('train', '--kernel-initializer', 'he_norml'), /Allowed choices are glorotUniform/);
  assertUsageError(runKeel('train', '--dataset', 'cifar'), /Allowed choices are fashion-mnist, mnist/);
  assertUsageError(runKeel(), /^keel: missing command: use one of summary, train, experiment, fold, evaluate, predict, export, lab, e\.g\. 'keel train'/);
  assertUsageError(runKeel('tran'), /^keel: unknown command 'tran' \(Did you mean train\?\)/);
  assertUsageError(runKeel('summary', 'extra'), /too many arguments/);
  assertUsageError(
    runKeel('train', '--train-limit', '70000'),
    /^keel: --train-limit 70,000 is larger than the 55,000 training images of fashion-mnist; use at most 55,000, or leave --train-limit out/,
  );
  // Counts may be typed as the messages print them.
  assertUsageError(runKeel('train', '--train-limit', '70,000'), /^keel: --train-limit 70,000 is larger than the 55,000 training images/);
});

test('flags that training would trip on fail before any data are loaded, in the words of the flags', (t) => {
  const dir = tempDir(t);
  const before = (r: ReturnType<typeof runKeel>, pattern: RegExp) => {
    assertUsageError(r, pattern);
    assert.equal(r.stdout, '', 'nothing was loaded or trained');
  };
  before(runKeel('train', '--batch-size', '1'),
    /^keel: --batch-size 1: batch normalization needs at least 2 examples per batch; use --batch-size 2 or more/);
  before(runKeel('train', '--model', 'seed-before', '-b', '1'), /--batch-size 1: batch normalization needs/);
  before(runKeel('train', '--json', join(dir, 'missing', 'r.json')),
    new RegExp(`^keel: --json \\S+r\\.json: the folder ${dir}/missing does not exist; create it first, or choose another path`));
  before(runKeel('train', '--json', dir), /^keel: --json \S+: that is a folder; give a file name/);
  writeFileSync(join(dir, 'file'), '');
  before(runKeel('train', '--save', join(dir, 'file', 'model')), /^keel: --save \S+: \S+file is a file, not a folder; choose another path/);
  // One rule and one message for every --train-limit below 2.
  for (const limit of ['0', '1', '-1', 'x']) {
    before(runKeel('train', '--train-limit', limit),
      new RegExp(`^keel train: option '--train-limit <n>' argument '${limit}' is invalid\\. expected an integer ≥ 2 \\(the number of training images to keep\\), received '${limit}'`));
  }
  before(runKeel('train', '--model', 'seeed'), /Allowed choices are seed, seed-before, plain.*\(Did you mean seed\?\)/);
  before(runKeel('train', '--optimizer', 'adamm'), /\(Did you mean adam\?\)/);
  before(runKeel('experiment', 'placment'), /\(Did you mean placement\?\)/);
  before(runKeel('train', '--kernel-initializer', 'he_norml'), /\(Did you mean heNormal\?\)/);
});

test('a reader that goes away (keel train | head -1) ends the command quietly, with exit code 0', async () => {
  const r = await runWithClosedPipe(['train', '--train-limit', '200', '--epochs', '50']);
  assert.equal(r.signal, null, 'the command had to be killed');
  assert.match(r.stdout, /^fashion-mnist: 200 train \/ 5,000 validation \/ 10,000 test images/);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
});

test('a closed stderr drops the message but keeps the exit code', async () => {
  const r = await runWithClosedPipe(['train', '--batch-size', '1'], { stream: 'stderr', atOnce: true });
  assert.equal(r.signal, null, 'the command had to be killed');
  assert.equal(r.code, 2);
});

test('a cache folder that cannot be made (under /proc) never stops training, and the reason is shown', { skip: process.platform !== 'linux' && '/proc is Linux only' }, () => {
  const r = runKeelWith({ KEEL_CACHE_DIR: '/proc/keel-cache-test/sub' }, 'train', '--train-limit', '200', '--epochs', '1', '--verbose', '0');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\(cache: built, not written\)/);
  assert.equal(
    r.stderr,
    'keel: warning: the data cache was not written: cannot create the folder /proc/keel-cache-test (ENOENT); ' +
      'set KEEL_CACHE_DIR to a writable folder. Going on without it.\n',
  );
  assert.match(r.stdout, /Test accuracy: 0\.\d{4}/);
});

test('data errors: bad IDX files give one line with exit code 2, and the stack only with --debug', (t) => {
  const dir = tempDir(t);
  for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    writeFileSync(join(dir, name), new Uint8Array([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]));
  }
  assertUsageError(runKeel('train', '--dataset', 'mnist', '--data-dir', dir), /train-images-idx3-ubyte: bad magic number 0x12345678/);
  const debug = runKeel('train', '--dataset', 'mnist', '--data-dir', dir, '--debug');
  assert.equal(debug.code, 2);
  assert.match(debug.stderr, /\n\s+at /);
  assertUsageError(runKeel('train', '--data-dir', join(dir, 'missing')), /data folder not found/);
});

test('train on a tiny subset finishes, writes a well-formed --json report and saves the model', async (t) => {
  const dir = tempDir(t);
  const report = join(dir, 'report.json');
  const saved = join(dir, 'model');
  const r = runKeel('train', '--train-limit', '2000', '--epochs', '1', '--json', report, '--seed', '3', '--save', saved);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  // Not a terminal: no live bar, one line for the epoch.
  assert.match(r.stdout, /Epoch 1\/1\n63\/63 \[={30}\] - \d+s \d+ms\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}\n/);
  assert.match(r.stdout, /Test accuracy: 0\.\d{4}/);
  assert.match(r.stdout, /9 Ankle boot\s+(\d+\s+){10}\s*0\.\d{3}/);
  assert.match(r.stdout, /batch_normalization_2 \(100\)\s+moving mean \[-?\d/);
  const json = JSON.parse(readFileSync(report, 'utf8'));
  assert.equal(json.options.model, 'seed');
  assert.equal(json.options.seed, 3);
  assert.equal(json.data.train, 2000);
  assert.equal(json.data.validation, 5000);
  assert.deepEqual(json.history.epoch, [0]);
  for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) assert.equal(json.history[key].length, 1, key);
  assert.ok(json.test.accuracy > 0.3 && json.test.accuracy <= 1, `test accuracy ${json.test.accuracy}`);
  const matrix: number[][] = json.confusionMatrix.rowsTrueColumnsPredicted;
  assert.equal(matrix.flat().reduce((a, b) => a + b, 0), 10000);
  assert.ok(Math.abs(matrix.reduce((correct, row, i) => correct + row[i], 0) / 10000 - json.test.accuracy) < 1e-6);
  assert.equal(json.batchNormalization.length, 3);
  assert.ok(json.seconds.train > 0 && json.samplesPerSecond > 0);
  assert.ok(Math.abs(json.samplesPerSecond - 2000 / json.seconds.train) < 1e-6 * json.samplesPerSecond);

  // The saved model is the trained one: it reproduces the reported test accuracy.
  assert.equal(json.savedTo, saved);
  const model = await keel.loadLayersModel(`file://${saved}/model.json`);
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const data = await datasets.fashionMnist({ trainLimit: 2 });
  const [, accuracy] = model.evaluate(data.test.xs, data.test.ys, { batchSize: 256 }) as keel.Tensor[];
  assert.ok(Math.abs(accuracy.dataSync()[0] - json.test.accuracy) < 1e-6);
});
