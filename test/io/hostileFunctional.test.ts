/**
 * Corrupt or hostile functional model files (TF.js's 'Model' topology) end in a ModelFormatError
 * that names the layer, before any layer is built: cycles, references to layers the file does not
 * define, dangling inputs and layers, shared layers, indices Keel has no use for, shapes that do
 * not merge, several outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';

// input → dense_a → add(dense_a, dense_b(input)) → out; every name fixed so that the cases can name them.
const L = keel.layers;
const x = keel.input({ shape: [3], name: 'x_in' });
const a = L.dense({ units: 4, name: 'dense_a' }).apply(x);
const b = L.dense({ units: 4, name: 'dense_b' }).apply(x);
const sum = L.add({ name: 'sum' }).apply([a, b]);
const out = L.dense({ units: 2, activation: 'softmax', name: 'out' }).apply(sum);
const model = keel.model({ inputs: x, outputs: out, name: 'hostile_base' });
let artifacts: keel.io.ModelArtifacts;
await model.save(keel.io.withSaveHandler(async (art) => { artifacts = art; }));
const modelJSON = () => JSON.parse(JSON.stringify(keel.io.artifactsToModelJSON(artifacts))) as Record<string, any>;

function load(json: unknown): keel.LayersModel {
  const { artifacts: parsed } = keel.io.parseModelJSON(JSON.stringify(json));
  const data = keel.io.weightBytes(artifacts.weightData);
  return keel.io.artifactsToModel({ ...parsed, weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer });
}

const layer = (j: any, name: string) => j.modelTopology.config.layers.find((l: any) => l.name === name);
const config = (j: any) => j.modelTopology.config;

test('the base file loads and predicts as the model it came from', () => {
  const loaded = load(modelJSON());
  const input = keel.tensor([[1, 2, 3], [0, -1, 0.5]]);
  assert.deepEqual(Array.from(loaded.predict(input).dataSync()), Array.from(model.predict(input).dataSync()));
});

const cases: [string, (j: any) => void, RegExp][] = [
  ['a cycle', (j) => { layer(j, 'dense_a').inbound_nodes = [[['out', 0, 0, {}]]]; }, /the layers form a cycle \(out → sum → dense_a → out\)/],
  ['a layer that reads itself', (j) => { layer(j, 'dense_b').inbound_nodes = [[['dense_b', 0, 0, {}]]]; }, /cycle \(.*dense_b → dense_b\)/],
  ['a missing layer in inbound_nodes', (j) => { layer(j, 'sum').inbound_nodes[0][1][0] = 'dense_c'; }, /names layer 'dense_c', which the file does not define \(missing layer\)/],
  ['a missing output layer', (j) => { config(j).output_layers = [['nope', 0, 0]]; }, /names layer 'nope', which the file does not define/],
  ['a missing input layer', (j) => { config(j).input_layers = [['ghost', 0, 0]]; }, /names layer 'ghost', which the file does not define/],
  ['an InputLayer missing from input_layers (dangling input)', (j) => {
    config(j).layers.push({ name: 'x2', class_name: 'InputLayer', config: { batch_input_shape: [null, 3], dtype: 'float32', name: 'x2' }, inbound_nodes: [] });
  }, /InputLayer 'x2' is not among input_layers \(a dangling input\)/],
  ['an input that leads to no output', (j) => {
    config(j).layers.push({ name: 'x2', class_name: 'InputLayer', config: { batch_input_shape: [null, 3], dtype: 'float32', name: 'x2' }, inbound_nodes: [] });
    config(j).input_layers.push(['x2', 0, 0]);
  }, /input 'x2' leads to no output \(a dangling input\)/],
  ['a layer that leads to no output', (j) => { layer(j, 'out').inbound_nodes = [[['dense_a', 0, 0, {}]]]; }, /layer '(sum|dense_b)' leads to no output/],
  ['an input that is not an InputLayer', (j) => { config(j).input_layers = [['dense_a', 0, 0]]; }, /'dense_a' is not an InputLayer/],
  ['a layer with no inbound node', (j) => { layer(j, 'dense_b').inbound_nodes = []; }, /layer 'dense_b' has no inbound node/],
  ['a shared layer (two inbound nodes)', (j) => { layer(j, 'dense_b').inbound_nodes.push([['x_in', 0, 0, {}]]); }, /'dense_b' is applied 2 times \(shared weights\)/],
  ['a node index other than 0', (j) => { layer(j, 'sum').inbound_nodes[0][0][1] = 1; }, /node 1, tensor 0 of layer 'dense_a'/],
  ['a tensor index other than 0', (j) => { layer(j, 'out').inbound_nodes[0][0][2] = 2; }, /node 0, tensor 2 of layer 'sum'/],
  ['call arguments', (j) => { layer(j, 'out').inbound_nodes[0][0][3] = { training: true }; }, /call arguments .* are not supported/],
  ['inputs of an InputLayer', (j) => { layer(j, 'x_in').inbound_nodes = [[['out', 0, 0, {}]]]; }, /InputLayer 'x_in' has inbound nodes/],
  ['an Add of one input', (j) => { layer(j, 'sum').inbound_nodes[0].pop(); }, /merges at least 2 inputs, but its inbound node gives 1/],
  ['a Dense of two inputs', (j) => { layer(j, 'out').inbound_nodes[0].push(['dense_a', 0, 0, {}]); }, /'out' \(Dense\) takes one input, but its inbound node gives 2/],
  ['an Add of shapes that differ', (j) => { layer(j, 'sum').inbound_nodes[0][1][0] = 'x_in'; }, /a Add layer needs inputs of one shape, but the file gives it \[null,4\], \[null,3\]/],
  ['two outputs', (j) => { config(j).output_layers.push(['dense_a', 0, 0]); }, /Keel loads models of one output, the file has 2/],
  ['an entry name that disagrees with its config', (j) => { layer(j, 'out').config.name = 'other'; }, /named "out" but its config "other"/],
  ['two layers of one name', (j) => { const l = layer(j, 'dense_b'); l.name = 'dense_a'; l.config.name = 'dense_a'; }, /two layers are named 'dense_a'/],
  ['a malformed reference', (j) => { layer(j, 'out').inbound_nodes[0][0] = 'sum'; }, /expected \[layerName, 0, 0\]/],
  ['no input_layers', (j) => { delete config(j).input_layers; }, /input_layers: expected a non-empty array/],
  ['weights of a layer the graph lacks', (j) => { j.weightsManifest[0].weights[0].name = 'dense_z/kernel'; }, /'dense_z\/kernel' belongs to no layer/],
];

for (const [what, mutate, message] of cases) {
  test(`hostile functional model.json: ${what}`, () => {
    const j = modelJSON();
    mutate(j);
    assert.throws(() => load(j), (e: Error) => {
      assert.equal(e.name, 'ModelFormatError', `${what}: ${e.name}: ${e.message}`);
      assert.match(e.message, message);
      return true;
    });
  });
}
