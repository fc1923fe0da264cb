/** `keel export MODEL_DIR --format onnx --out FILE [--fold] [--opset N]`, run as a user runs it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import onnxProto from 'onnx-proto';
import { writeFileAtomically } from '../../packages/keel-cli/src/export.js';
import { OutputPathError } from '../../packages/keel-cli/src/files.js';
import { images, relativeDifference, runOnnx, trainedLookingWeights } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');

function runKeel(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=keel-source', '--import', 'tsx', join(root, 'packages', 'keel-cli', 'src', 'keel.ts'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Several command lines in one process (runCommands.ts calls the command's run() for each). */
function runMany(commands: string[][]): { code: number; stdout: string; stderr: string }[] {
  const r = spawnSync(process.execPath, ['--conditions=keel-source', '--import', 'tsx', join(import.meta.dirname, 'runCommands.ts'), JSON.stringify(commands)], {
    cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, FORCE_COLOR: '0' },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const dir = mkdtempSync(join(tmpdir(), 'keel-export-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A cnn with trained-looking weights, saved as keel train --save saves it (model.save). */
async function savedCnn(): Promise<string> {
  const saved = join(dir, 'cnn');
  keel.setRandomSeed(5);
  const model = keel.zoo.buildModel('cnn');
  trainedLookingWeights(model);
  await model.save(`file://${saved}`);
  return saved;
}

test('export --format onnx: the file predicts what the saved model predicts, folded or not, at the default opset or another', async () => {
  const saved = await savedCnn();
  const model = await keel.loadLayersModel(`file://${saved}/model.json`);
  const x = images(3, model.inputShape);
  const expected = model.predict(x).dataSync();
  const runs = [[], ['--fold'], ['--opset', '21']].map((flags) => ({ flags, out: join(dir, `cnn${flags.join('')}.onnx`) }));
  const results = runMany(runs.map(({ flags, out }) => ['export', saved, '--format', 'onnx', '--out', out, ...flags]));
  for (const [i, { flags, out }] of runs.entries()) {
    const r = results[i];
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Exported \\d+ layers \\([\\d,]+ parameters\\) as ONNX opset ${flags[1] ?? 17} to ${out} \\([\\d,]+ bytes\\)`));
    if (flags[0] === '--fold') assert.match(r.stdout, /folded batch_normalization\S* into conv2d/);
    const bytes = new Uint8Array(readFileSync(out));
    assert.equal(Number(onnxProto.onnx.ModelProto.decode(bytes).opsetImport![0].version), Number(flags[1] ?? 17));
    const got = await runOnnx(bytes, x);
    assert.ok(relativeDifference(got.values, expected) <= 1e-5, flags.join(' '));
  }
  // No temporary file left beside the outputs.
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('export of a saved functional model (resnet), folded', async () => {
  const saved = join(dir, 'resnet');
  keel.setRandomSeed(6);
  const original = keel.zoo.buildModel('resnet');
  trainedLookingWeights(original);
  await original.save(`file://${saved}`);
  const out = join(dir, 'resnet.onnx');
  const r = runKeel('export', saved, '--format', 'onnx', '--out', out, '--fold');
  assert.equal(r.code, 0, r.stderr);
  const x = images(2, original.inputShape);
  const got = await runOnnx(new Uint8Array(readFileSync(out)), x);
  assert.ok(relativeDifference(got.values, original.predict(x).dataSync()) <= 1e-5);
});

test('export of a model trained and saved by keel train --save, given as its model.json; an existing file is replaced', () => {
  const saved = join(dir, 'trained');
  const train = runKeel('train', '--train-limit', '300', '--epochs', '1', '--verbose', '0', '--save', saved);
  assert.equal(train.code, 0, train.stderr);
  const out = join(dir, 'trained.onnx');
  writeFileSync(out, 'old');
  const r = runKeel('export', join(saved, 'model.json'), '-f', 'onnx', '-o', out, '--opset', '13');
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual(readFileSync(out, 'utf8').slice(0, 3), 'old');
});

test('export: clear errors for a missing folder, a folder without a model, an unknown format, a bad opset, an unwritable output', async () => {
  const saved = await savedCnn();
  const empty = join(dir, 'empty');
  mkdirSync(empty, { recursive: true });
  const cases: [string[], RegExp][] = [
    [['export', join(dir, 'nowhere'), '--format', 'onnx', '--out', join(dir, 'a.onnx')], /^keel: keel export .*nowhere: .*nowhere does not exist; give the folder that keel train --save \(or model\.save\) wrote\.\n$/],
    [['export', empty, '--format', 'onnx', '--out', join(dir, 'a.onnx')], /^keel: keel export .*empty: .*empty holds no model\.json; give the folder that keel train --save/],
    [['export', saved, '--format', 'onxx', '--out', join(dir, 'a.onnx')], /^keel export: option '-f, --format <name>' argument 'onxx' is invalid\. Allowed choices are onnx, keras\. \(Did you mean onnx\?\) \(see keel export --help\)\n$/],
    [['export', saved, '--out', join(dir, 'a.onnx')], /^keel export: required option '-f, --format <name>' not specified/],
    [['export', saved, '--format', 'onnx'], /^keel export: required option '-o, --out <file>' not specified/],
    [['export', saved, '--format', 'onnx', '--out', join(dir, 'a.onnx'), '--opset', '9'], /argument '9' is invalid\. expected an ONNX opset from 13 to 21 \(default 17\), received '9'\./],
    [['export', saved, '--format', 'onnx', '--out', join(dir, 'no-folder', 'a.onnx')], /^keel: --out .*a\.onnx: the folder .*no-folder does not exist; create it first, or choose another path\.\n$/],
    [['export', saved, '--format', 'onnx', '--out', dir], /^keel: --out .*: that is a folder; give a file name/],
    [['export', saved, '--format', 'onnx', '--out', '/proc/self/model.onnx'], /^keel: --out \/proc\/self\/model\.onnx: the folder \/proc\/self is not writable; choose another path\.\n$/],
  ];
  const results = runMany(cases.map(([args]) => args));
  for (const [i, [args, pattern]] of cases.entries()) {
    const r = results[i];
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, '');
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('a.onnx') || f.endsWith('.tmp')), []);
});

test('the atomic write: a write that fails leaves what was there and no temporary file, with a typed error', () => {
  // Renaming a file over a folder that holds files fails (for root too), after the data were written.
  const target = join(dir, 'occupied');
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, 'keep'), 'kept');
  assert.throws(() => writeFileAtomically('--out', target, new Uint8Array(1000)), (e: unknown) => {
    assert.ok(e instanceof OutputPathError);
    assert.match((e as Error).message, /^--out .*occupied: could not write the file \((EISDIR|ENOTEMPTY|EEXIST)\); the file there before, if any, is unchanged\./);
    return true;
  });
  assert.equal(readFileSync(join(target, 'keep'), 'utf8'), 'kept');
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  const file = join(dir, 'atomic.bin');
  writeFileAtomically('--out', file, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(file)], [1, 2, 3]);
});

test('export --help lists the formats and flags', () => {
  const r = runKeel('export', '--help');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: keel export \[options\] <model>.*--format <name>.*onnx: ONNX.*--out <file>.*--fold.*--opset <n>/s);
});
