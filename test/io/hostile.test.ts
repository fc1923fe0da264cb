/**
 * Corrupt or hostile model files end in a typed, clear error (ModelFormatError, a KeelError) and
 * never in a half-built model: truncated or oversized weights, a manifest that disagrees with the
 * topology, unknown classes, shapes that do not multiply out, paths leaving the folder, NaN.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import { seedModel } from './helpers.js';

const model = seedModel('seed-before', [4, 4], [6, 5]);
let artifacts: keel.io.ModelArtifacts;
await model.save(keel.io.withSaveHandler(async (a) => { artifacts = a; }));
const modelJSON = () => JSON.parse(JSON.stringify(keel.io.artifactsToModelJSON(artifacts))) as keel.io.ModelJSON & Record<string, unknown>;
const weights = () => keel.io.weightBytes(artifacts.weightData);

/** Loads a model.json document and weight bytes through the in-memory path. */
function load(json: unknown, data: Uint8Array = weights()): keel.Sequential {
  const { artifacts: parsed } = keel.io.parseModelJSON(typeof json === 'string' ? json : JSON.stringify(json));
  return keel.io.artifactsToModel({ ...parsed, weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer });
}

type Mutate = (j: keel.io.ModelJSON & Record<string, any>) => void;
const layersOf = (j: any) => j.modelTopology.config.layers;
const specsOf = (j: any) => j.weightsManifest[0].weights;

const cases: [string, Mutate, RegExp][] = [
  ['unknown layer class', (j) => { layersOf(j)[2].class_name = 'SeparableConv2D'; }, /unknown layer class 'SeparableConv2D'\. Keel reads Dense, BatchNormalization/],
  ['graph model', (j) => { (j as any).format = 'graph-model'; }, /expected format 'layers-model'/],
  // A Sequential's layer list read as a functional model: its layers have no inbound nodes.
  ['Sequential layers under a functional class name', (j) => { j.modelTopology.class_name = 'Model'; }, /layer 'flatten[^']*' has no inbound node/],
  ['unknown model class', (j) => { j.modelTopology.class_name = 'Graph'; }, /loads Sequential and functional \('Model', 'Functional'\) models, received "Graph"/],
  ['renamed weight', (j) => { specsOf(j)[0].name = 'nope/gamma'; }, /'nope\/gamma' belongs to no layer/],
  ['missing weight', (j) => { specsOf(j).pop(); }, /missing weights .*moving_variance/],
  ['duplicate weight', (j) => { specsOf(j)[1] = { ...specsOf(j)[0] }; }, /listed twice/],
  ['kernel shape disagrees with units', (j) => { layersOf(j)[2].config.units = 7; }, /has shape \[16,6\], but the topology needs \[16,7\]/],
  ['huge units (no allocation)', (j) => { layersOf(j)[2].config.units = 2 ** 30; }, /but the topology needs \[16,1073741824\]/],
  ['negative dimension', (j) => { specsOf(j)[2].shape = [-16, 6]; }, /expected a positive integer, received -16/],
  ['fractional dimension', (j) => { specsOf(j)[2].shape = [1.5, 6]; }, /expected a positive integer, received 1\.5/],
  ['dimensions overflowing', (j) => { specsOf(j)[2].shape = [2 ** 31 - 1, 2 ** 31 - 1]; }, /more than any file Keel can read/],
  ['float16 weights', (j) => { specsOf(j)[0].dtype = 'float16'; }, /float32 weights only, received "float16"/],
  ['quantized weights', (j) => { specsOf(j)[0].quantization = { dtype: 'uint8', scale: 1, min: 0 }; }, /quantized weights are not supported/],
  ['path leaving the folder', (j) => { j.weightsManifest[0].paths = ['../weights.bin']; }, /leaves the model's folder/],
  ['absolute path', (j) => { j.weightsManifest[0].paths = ['/etc/passwd']; }, /leaves the model's folder/],
  ['nested escape', (j) => { j.weightsManifest[0].paths = ['a/../../b']; }, /leaves the model's folder/],
  ['Windows path', (j) => { j.weightsManifest[0].paths = ['..\\weights.bin']; }, /leaves the model's folder/],
  ['URL path', (j) => { j.weightsManifest[0].paths = ['http://evil/w.bin']; }, /leaves the model's folder/],
  ['no input shape', (j) => { delete layersOf(j)[0].config.batch_input_shape; }, /declares no input shape/],
  ['duplicate layer names', (j) => { layersOf(j)[4].config.name = layersOf(j)[2].config.name; }, /two layers are named/],
  ['unknown activation', (j) => { layersOf(j)[4].config.activation = 'gelu_new'; }, /Unknown activation 'gelu_new'/],
  ['bad momentum', (j) => { layersOf(j)[1].config.momentum = 7; }, /expected momentum in \[0, 1\]/],
  ['string units', (j) => { layersOf(j)[2].config.units = '6'; }, /units: expected a positive integer, received "6"/],
  ['unknown initializer', (j) => { layersOf(j)[2].config.kernel_initializer = { class_name: 'Orthogonal', config: {} }; }, /unknown initializer class 'Orthogonal'/],
  ['layers not an array', (j) => { (j as any).modelTopology.config.layers = { 0: 1 }; }, /expected a non-empty array of layers/],
  ['null topology', (j) => { (j as any).modelTopology = null; }, /modelTopology: expected an object, received null/],
];

for (const [name, mutate, message] of cases) {
  test(`hostile model.json: ${name}`, () => {
    const j = modelJSON();
    mutate(j);
    assert.throws(() => load(j), (e: Error) => {
      assert.ok(e instanceof keel.ModelFormatError || e instanceof keel.ValueError, `${e.name}: ${e.message}`);
      assert.match(e.message, message);
      return true;
    });
  });
}

test('not JSON, or truncated JSON', () => {
  const text = JSON.stringify(modelJSON());
  assert.throws(() => load(text.slice(0, text.length / 2)), { name: 'ModelFormatError', message: /not valid JSON.*truncated/ });
  assert.throws(() => load('[1, 2]'), { name: 'ModelFormatError', message: /model\.json: expected an object/ });
});

test('truncated, oversized and NaN weights', () => {
  const data = weights();
  assert.throws(() => load(modelJSON(), data.subarray(0, data.length - 4)), { name: 'ModelFormatError', message: /describes \d+ bytes, but \d+ were given \(truncated\)/ });
  const bigger = new Uint8Array(data.length + 8);
  bigger.set(data);
  assert.throws(() => load(modelJSON(), bigger), { name: 'ModelFormatError', message: /\(oversized\)/ });
  const nan = weights();
  new DataView(nan.buffer).setFloat32(4 * 3, NaN, true);
  assert.throws(() => load(modelJSON(), nan), { name: 'ModelFormatError', message: /holds NaN at flat index 3; weights must be finite/ });
  new DataView(nan.buffer).setFloat32(4 * 3, Infinity, true);
  assert.throws(() => load(modelJSON(), nan), { name: 'ModelFormatError', message: /holds Infinity/ });
});

test('on disk: a weights path that escapes through a symbolic link, a missing file, a truncated file', async () => {
  const root = await mkdtemp(join(tmpdir(), 'keel-hostile-'));
  try {
    const dir = join(root, 'model');
    await model.save(`file://${dir}`);
    const original = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const bytes = await readFile(join(dir, 'weights.bin'));
    await writeFile(join(root, 'secret.bin'), bytes);
    await symlink(join(root, 'secret.bin'), join(dir, 'link.bin'));
    const withPath = (p: string) => writeFile(join(dir, 'model.json'), JSON.stringify({ ...original, keel: undefined, weightsManifest: [{ ...original.weightsManifest[0], paths: [p] }] }));
    await withPath('link.bin');
    await assert.rejects(keel.loadLayersModel(`file://${dir}`), { name: 'ModelFormatError', message: /resolves outside the model's folder/ });
    await withPath('missing.bin');
    await assert.rejects(keel.loadLayersModel(`file://${dir}`), { name: 'ModelFormatError', message: /weight file 'missing.bin' is missing/ });
    await writeFile(join(dir, 'short.bin'), bytes.subarray(0, 100));
    await withPath('short.bin');
    await assert.rejects(keel.loadLayersModel(`file://${dir}`), { name: 'ModelFormatError', message: /files hold 100 \(truncated\)/ });
    // A flipped bit in a Keel-saved weights.bin is caught by its CRC-32.
    await writeFile(join(dir, 'model.json'), JSON.stringify(original));
    bytes[10] ^= 1;
    await writeFile(join(dir, 'weights.bin'), bytes);
    await assert.rejects(keel.loadLayersModel(`file://${dir}`), { name: 'ModelFormatError', message: /does not match the CRC-32/ });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('weights in several shards and groups load as one', () => {
  const j = modelJSON();
  const specs = specsOf(j);
  const data = weights();
  const firstBytes = 4 * specs.slice(0, 3).reduce((n: number, s: { shape: number[] }) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  j.weightsManifest = [
    { paths: ['a.bin'], weights: specs.slice(0, 3) },
    { paths: ['b1.bin', 'b2.bin'], weights: specs.slice(3) },
  ];
  const { groups } = keel.io.parseModelJSON(JSON.stringify(j));
  assert.deepEqual(groups.map((g) => g.bytes), [firstBytes, data.length - firstBytes]);
  const loaded = load(j, data);
  assert.equal(loaded.countParams(), model.countParams());
});

test('weight data split into several buffers (as TF.js 4.x may give it) loads as one; anything else is refused', () => {
  const data = weights();
  const { artifacts: parsed } = keel.io.parseModelJSON(JSON.stringify(modelJSON()));
  const split = [data.slice(0, 10).buffer, data.slice(10).buffer] as ArrayBuffer[];
  assert.equal(keel.io.artifactsToModel({ ...parsed, weightData: split }).countParams(), model.countParams());
  assert.throws(() => keel.io.artifactsToModel({ ...parsed, weightData: 'abc' as never }), { name: 'ModelFormatError', message: /expected an ArrayBuffer/ });
});

test('deeply nested values anywhere give a typed error, not a stack overflow', () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const text = JSON.stringify(modelJSON());
  const spec = JSON.stringify(specsOf(modelJSON())[0]);
  const replacements: [string, string][] = [
    ['"format":"layers-model"', `"format":${deep}`],
    ['"class_name":"Sequential"', `"class_name":${deep}`],
    ['"class_name":"Flatten","config":{', `"class_name":"Flatten","config":{"data_format":${deep},`],
    ['"units":6', `"units":${deep}`],
    ['"paths":["weights.bin"]', `"paths":${deep}`],
    [spec, spec.replace('"dtype":"float32"', `"dtype":${deep}`)],
    [spec, spec.replace(/"shape":\[\d+\]/, `"shape":${deep}`)],
    ['"mode":"fan_in"', `"mode":${deep}`],
  ];
  for (const [from, to] of replacements) {
    assert.ok(text.includes(from), from);
    assert.throws(() => load(text.replace(from, to)), { name: 'ModelFormatError' }, from);
  }
  // Artifacts given in memory are checked as thoroughly as model.json.
  const { artifacts: parsed } = keel.io.parseModelJSON(text);
  for (const weightSpecs of [null, [{ name: 'x', shape: 'no', dtype: 'float32' }], [{ shape: [1], dtype: 'float32' }], [7]]) {
    assert.throws(() => keel.io.artifactsToModel({ ...parsed, weightSpecs: weightSpecs as never, weightData: weights().buffer as ArrayBuffer }),
      { name: 'ModelFormatError' });
  }
});
