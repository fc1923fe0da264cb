/**
 * Damaged and hostile .keras archives: each is refused with a ModelFormatError that names what was
 * expected and what was received, by `kerasToArtifacts`, which reads and checks the archive but
 * builds no model (`loadKerasModel` builds one only from what it returns). The archives are made
 * here with fflate and h5wasm directly, not with keel-keras's writer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { strToU8, unzipSync, zipSync, type Zippable } from 'fflate';
import * as h5wasm from 'h5wasm';
import { kerasToArtifacts, loadKerasModel, toKeras } from 'keel-keras';

/** A tiny model's archive, as keel-keras writes it: Dense(3) → BatchNormalization on 4 inputs. */
async function validArchive(): Promise<Record<string, Uint8Array>> {
  keel.setRandomSeed(3);
  const model = keel.sequential({ layers: [keel.layers.dense({ units: 3, inputShape: [4], name: 'd' }), keel.layers.batchNormalization({ name: 'bn' })] });
  return unzipSync(await toKeras(model));
}

type Vars = Record<string, { shape: number[]; values?: number[] } | undefined>;

/** A weights file in Keras 3's layout with exactly these groups and datasets (float32, filled with 0.5 unless given). */
async function weightsFile(layers: Record<string, Vars>): Promise<Uint8Array> {
  await h5wasm.ready;
  const path = `/bad-input-${Math.random().toString(36).slice(2)}.h5`;
  const file = new h5wasm.File(path, 'w');
  const root = file.create_group('layers');
  for (const [key, vars] of Object.entries(layers)) {
    const group = root.create_group(key).create_group('vars');
    group.create_attribute('name', key);
    for (const [name, v] of Object.entries(vars)) {
      if (!v) continue;
      const size = v.shape.reduce((a, b) => a * b, 1);
      group.create_dataset({ name, data: Float32Array.from(v.values ?? new Array(size).fill(0.5)), shape: v.shape, dtype: '<f' });
    }
  }
  file.create_group('vars');
  file.close();
  const bytes = h5wasm.FS!.readFile(path);
  h5wasm.FS!.unlink(path);
  return bytes;
}

const goodVars = (): Record<string, Vars> => ({
  d: { 0: { shape: [4, 3] }, 1: { shape: [3] } },
  bn: { 0: { shape: [3] }, 1: { shape: [3] }, 2: { shape: [3] }, 3: { shape: [3] } },
});
/** Keras's keys are dense and batch_normalization (from the class names), not the layer names. */
const asKerasKeys = (v: Record<string, Vars>): Record<string, Vars> => ({ dense: v.d, batch_normalization: v.bn });

const zip = (files: Record<string, Uint8Array>) => zipSync(files as Zippable);

async function refused(bytes: Uint8Array, pattern: RegExp, args = {}): Promise<void> {
  for (const load of [kerasToArtifacts, loadKerasModel]) {
    await assert.rejects(load(bytes, args), (e: unknown) => {
      assert.ok(e instanceof keel.ModelFormatError, `expected a ModelFormatError, received ${String(e)}`);
      assert.match(e.message, pattern);
      return true;
    });
  }
}

test('a valid hand-made archive loads (the cases below differ from it in one thing each)', async () => {
  const files = await validArchive();
  files['model.weights.h5'] = await weightsFile(asKerasKeys(goodVars()));
  const model = await loadKerasModel(zip(files));
  assert.deepEqual(model.layers.map((l) => l.name), ['d', 'bn']);
});

test('an archive without model.weights.h5 is refused, naming the entries expected and found', async () => {
  const files = await validArchive();
  delete files['model.weights.h5'];
  await refused(zip(files), /expected an entry 'model\.weights\.h5' \(a Keras 3 archive holds config\.json, metadata\.json, model\.weights\.h5\), received 'metadata\.json', 'config\.json'/);
});

test('missing, extra and misshaped weights are refused with the layer, the expected and the received shapes', async () => {
  const files = await validArchive();
  const variants: [Record<string, Vars>, RegExp][] = [
    [{ ...goodVars(), bn: { 0: { shape: [3] }, 1: { shape: [3] }, 2: { shape: [3] } } },
      /\/layers\/batch_normalization\/vars \(layer 'bn', BatchNormalization\): expected 4 weights \(gamma \[3\], beta \[3\], moving_mean \[3\], moving_variance \[3\]\), received 3 \(\[3\], \[3\], \[3\]\); missing weights/],
    [{ ...goodVars(), d: { 0: { shape: [4, 3] }, 1: { shape: [3] }, 2: { shape: [3] } } }, /expected 2 weights \(kernel \[4, 3\], bias \[3\]\), received 3 .*; extra weights/],
    [{ ...goodVars(), d: { 0: { shape: [5, 3] }, 1: { shape: [3] } } }, /\/layers\/dense\/vars \(layer 'd', Dense\)\/0: expected kernel of shape \[4, 3\] \(from config\.json\), received shape \[5, 3\]/],
    [{ ...goodVars(), d: undefined as never }, /expected 2 weights \(kernel \[4, 3\], bias \[3\]\), received 0/],
  ];
  for (const [vars, pattern] of variants) {
    const kerasVars = asKerasKeys(vars);
    if (!vars.d) delete kerasVars.dense;
    files['model.weights.h5'] = await weightsFile(kerasVars);
    await refused(zip(files), pattern);
  }
  // A group for a layer the config does not have.
  files['model.weights.h5'] = await weightsFile({ ...asKerasKeys(goodVars()), conv2d: { 0: { shape: [3, 3, 1, 2] } } });
  await refused(zip(files), /'\/layers\/conv2d' \(1 weights\) belongs to no layer of config\.json, whose layers are stored as dense, batch_normalization; extra weights/);
  // Weights that are not finite never reach a model.
  files['model.weights.h5'] = await weightsFile(asKerasKeys({ ...goodVars(), d: { 0: { shape: [4, 3], values: [NaN, ...new Array(11).fill(0)] }, 1: { shape: [3] } } }));
  await assert.rejects(loadKerasModel(zip(files)), (e: unknown) => e instanceof keel.ModelFormatError && /'d\/kernel' holds NaN/.test(e.message));
});

test('an unknown or custom layer class is refused, with the classes Keel reads', async () => {
  const files = await validArchive();
  const config = JSON.parse(new TextDecoder().decode(files['config.json']));
  const dense = config.config.layers[1];
  for (const [change, pattern] of [
    [{ class_name: 'Conv1D' }, /config\.json layers\[1\]: unknown layer class 'Conv1D'; expected one of the layers Keel has: Dense, BatchNormalization, .*InputLayer\. Replace the layer/],
    [{ module: 'my_project', registered_name: 'Custom>Dense' }, /unknown layer class 'Dense' \(custom: module "my_project", registered_name "Custom>Dense"\)/],
  ] as const) {
    config.config.layers[1] = { ...dense, ...change };
    files['config.json'] = strToU8(JSON.stringify(config));
    await refused(zip(files), pattern);
  }
  config.config.layers[1] = dense;
  for (const [key, value, pattern] of [
    ['dtype', { module: 'keras', class_name: 'DTypePolicy', config: { name: 'mixed_float16' } }, /dtype: expected the float32 dtype policy, received "mixed_float16"/],
    ['quantization_config', { mode: 'int8' }, /quantization_config: Keel's Dense has no quantization_config; expected null, received \{"mode":"int8"\}/],
    ['activation', 'gelu', /layer 'd' \(Dense\): Unknown activation 'gelu'\. Expected one of: linear, relu/],
  ] as const) {
    config.config.layers[1] = { ...dense, config: { ...dense.config, [key]: value } };
    files['config.json'] = strToU8(JSON.stringify(config));
    await refused(zip(files), pattern);
  }
});

/** The archive with the inflated size that its local and central headers declare for `name` replaced. */
function forgeDeclaredSize(bytes: Uint8Array, name: string, size: number): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  let forged = 0;
  for (let i = 0; i + 46 < out.length; i++) {
    const signature = view.getUint32(i, true);
    const [nameAt, sizeAt] = signature === 0x02014b50 ? [46, 24] : signature === 0x04034b50 ? [30, 22] : [-1, -1];
    if (nameAt < 0) continue;
    const length = view.getUint16(i + (signature === 0x02014b50 ? 28 : 26), true);
    if (new TextDecoder().decode(out.subarray(i + nameAt, i + nameAt + length)) !== name) continue;
    view.setUint32(i + sizeAt, size, true);
    forged++;
  }
  assert.equal(forged, 2, 'the local and the central header');
  return out;
}

test('a zip bomb is refused before inflating: declared sizes above the bound, forged or real', async () => {
  const files = await validArchive();
  const forged = forgeDeclaredSize(zip(files), 'model.weights.h5', 0xfffffff0);
  const started = performance.now();
  await refused(forged, /'model\.weights\.h5' declares 4294967280 bytes once inflated .* more than the bound of 1073741824 bytes; refused before inflating \(a zip bomb/);
  assert.ok(performance.now() - started < 2000, 'refused without inflating 4 GB');
  // 64 MiB of zeros deflate to 64 KiB; with a bound of 16 MiB they are refused.
  const bomb = zipSync({ ...files, 'model.weights.h5': new Uint8Array(64 << 20) } as Zippable, { level: 9 });
  assert.ok(bomb.byteLength < 1 << 20);
  await refused(bomb, /declares 67108864 bytes once inflated .* more than the bound of 16777216 bytes/, { maxUncompressedBytes: 16 << 20 });
});

test('entries whose paths leave the archive are refused whole, even if Keel would not extract them', async () => {
  const files = await validArchive();
  for (const [name, pattern] of [
    ['../evil.sh', /entry "\.\.\/evil\.sh" has a '\.\.' segment that leaves the archive; expected names inside the archive such as 'config\.json'/],
    ['assets/../../evil.sh', /has a '\.\.' segment/],
    ['/etc/cron.d/evil', /entry "\/etc\/cron\.d\/evil" has an absolute path/],
    ['C:/Windows/evil.dll', /has an absolute path/],
    ['assets\\..\\evil', /has a backslash/],
  ] as const) {
    await refused(zip({ ...files, [name]: strToU8('x') }), pattern);
  }
});

test('bytes that are not a zip, and a weights entry that is not HDF5, are refused', async () => {
  await refused(new Uint8Array(1000).fill(7), /expected a zip archive \(Keras 3's \.keras format\), received 1000 bytes that are not one/);
  const files = await validArchive();
  await refused(zip({ ...files, 'model.weights.h5': new Uint8Array(4096).fill(1) }), /model\.weights\.h5: not an HDF5 file that can be opened/);
  await refused(zip({ ...files, 'config.json': strToU8('{"class_name": "Sequential", ') }), /'config\.json' is not valid UTF-8 JSON/);
  const subclassed = JSON.parse(new TextDecoder().decode(files['config.json']));
  subclassed.class_name = 'MyModel';
  await refused(zip({ ...files, 'config.json': strToU8(JSON.stringify(subclassed)) }), /Keel loads Sequential and functional Keras models; received class_name "MyModel"\. A subclassed model/);
});

test('a bound that is not a positive number is a ValueError, not a file problem', async () => {
  const bytes = zip(await validArchive());
  for (const bound of [0, -1, Number.NaN]) {
    await assert.rejects(loadKerasModel(bytes, { maxUncompressedBytes: bound }), (e: unknown) =>
      e instanceof keel.ValueError && !(e instanceof keel.ModelFormatError) && /maxUncompressedBytes must be a positive number of bytes, received/.test(e.message));
  }
});

test('functional configs: merges of unequal shapes, shared layers, cycles and dangling names are refused before any weight is read', async () => {
  keel.setRandomSeed(5);
  const a = keel.input({ shape: [4], name: 'a' });
  const b = keel.input({ shape: [4], name: 'b' });
  const sum = keel.layers.add({ name: 'sum' }).apply([keel.layers.dense({ units: 3, name: 'left' }).apply(a), keel.layers.dense({ units: 3, name: 'right' }).apply(b)]);
  const files = unzipSync(await toKeras(keel.model({ inputs: [a, b], outputs: keel.layers.dense({ units: 2, name: 'out' }).apply(sum) })));
  assert.ok(await loadKerasModel(zip(files)));
  const config = () => JSON.parse(new TextDecoder().decode(files['config.json']));
  const layer = (c: { config: { layers: { name: string }[] } }, name: string) => c.config.layers.find((l) => l.name === name) as unknown as Record<string, any>;
  const edits: [(c: any) => void, RegExp][] = [
    [(c) => { layer(c, 'sum').inbound_nodes[0].args[0][1].config.keras_history[0] = 'a'; }, /layer 'sum' \(Add\): expected inputs of one shape, received \[null, 3\], \[null, 4\]/],
    [(c) => { layer(c, 'left').inbound_nodes.push(layer(c, 'left').inbound_nodes[0]); }, /inbound_nodes: expected one call of the layer, received 2; Keel has no shared layers/],
    [(c) => { layer(c, 'left').inbound_nodes[0].args[0].config.keras_history[0] = 'sum'; }, /its inputs depend on its own output \(a cycle\)/],
    [(c) => { layer(c, 'out').inbound_nodes[0].args[0].config.keras_history[0] = 'nowhere'; }, /reads the output of 'nowhere', which is no layer of the model/],
    [(c) => { layer(c, 'left').inbound_nodes[0].kwargs = { training: true }; }, /kwargs: Keel calls layers without arguments .* received \{"training":true\}/],
  ];
  for (const [edit, pattern] of edits) {
    const c = config();
    edit(c);
    await refused(zip({ ...files, 'config.json': strToU8(JSON.stringify(c)) }), pattern);
  }
});
