/**
 * Every zoo model, exported with and without folding, predicts in ONNX Runtime what Keel predicts,
 * on one image and on a batch, with trained-looking weights (helpers.ts). Checked on the softmax
 * output and on the features before the last Dense (not squashed by the softmax); the image runs
 * the nodes as written, the batch with ONNX Runtime's default graph optimizations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { toOnnx } from 'keel-onnx';
import { images, relativeDifference, runOnnx, trainedLookingWeights } from './helpers.js';

const TOLERANCE = 1e-5;

/**
 * Every model of the zoo with every `norm` it takes: the zoo refuses a norm for the models that have
 * no normalization to replace (plain, cnn-plain), and only that refusal leaves a pair out.
 */
function zooModels(): { name: string; norm: keel.zoo.Normalization }[] {
  const pairs: { name: string; norm: keel.zoo.Normalization }[] = [];
  for (const name of keel.zoo.MODEL_NAMES) {
    for (const norm of keel.zoo.NORMALIZATIONS) {
      try {
        keel.zoo.buildModel(name, { norm });
        pairs.push({ name, norm });
      } catch (e) {
        if (!(e instanceof keel.ValueError && /has no normalization to replace/.test(e.message))) throw e;
      }
    }
  }
  return pairs;
}

const MODELS = zooModels();

test('the zoo models under test include the BN chapter\'s five and the resnet, with each of their norms', () => {
  const names = (norm: string) => MODELS.filter((m) => m.norm === norm).map((m) => m.name);
  for (const name of ['seed', 'seed-before', 'plain', 'cnn', 'cnn-plain', 'resnet']) assert.ok(names('batch').includes(name), name);
  for (const norm of keel.zoo.NORMALIZATIONS) for (const name of ['seed', 'seed-before', 'cnn', 'resnet']) assert.ok(names(norm).includes(name), `${name} ${norm}`);
});

/**
 * The model without its last layer (the softmax Dense), sharing its layers and weights: a
 * Sequential of the others, or a functional model ending at the last layer's input.
 */
function features(model: keel.LayersModel): keel.LayersModel {
  if (model instanceof keel.Sequential) return keel.sequential({ layers: model.layers.slice(0, -1) });
  const graph = model.getGraph();
  const last = graph.nodes[graph.nodes.length - 1];
  const byId = new Map<number, keel.SymbolicTensor>();
  const copies: [keel.layers.Layer, keel.layers.Layer][] = [];
  const copyLayer = (layer: keel.layers.Layer) => {
    const copy = keel.layers.layerFromJSON(keel.layers.layerToJSON(layer));
    copies.push([layer, copy]);
    return copy;
  };
  graph.inputs.forEach((id, i) => byId.set(id, keel.input({ shape: graph.shapes[id], name: `features_input_${i}` })));
  for (const node of graph.nodes.slice(0, -1)) {
    const inputs = node.inputs.map((id) => byId.get(id)!);
    byId.set(node.output, copyLayer(node.layer).apply(inputs.length === 1 ? inputs[0] : inputs));
  }
  const cut = keel.model({ inputs: graph.inputs.map((id) => byId.get(id)!), outputs: byId.get(last.inputs[0])! });
  for (const [layer, copy] of copies) copy.setWeights(layer.getWeights());
  return cut;
}

async function check(model: keel.LayersModel, opset: number | undefined, label: string): Promise<void> {
  const x = images(5, model.inputShape);
  const one = keel.slice(x, 0, 1);
  for (const [which, m] of [['output', model], ['features', features(model)]] as const) {
    for (const foldBatchNorm of [false, true]) {
      const bytes = toOnnx(m, { foldBatchNorm, ...(opset ? { opset } : {}) });
      for (const input of [one, x]) {
        const expected = m.predict(input);
        const got = await runOnnx(bytes, input, input === one ? 'disabled' : 'all');
        assert.deepEqual(got.shape, expected.shape, `${label} ${which}`);
        const diff = relativeDifference(got.values, expected.dataSync());
        assert.ok(diff <= TOLERANCE, `${label} ${which}${foldBatchNorm ? ' folded' : ''} batch ${input.shape[0]}: ${diff}`);
      }
    }
  }
}

for (const { name, norm } of MODELS) {
  const label = `${name} norm ${norm}`;
  test(`zoo ${label}: ONNX Runtime predicts what Keel predicts, folded or not`, async () => {
    keel.setRandomSeed(11);
    const model = keel.zoo.buildModel(name, { norm });
    trainedLookingWeights(model);
    await check(model, undefined, label);
  });
}

for (const opset of [13, 18, 21]) {
  for (const norm of ['batch', 'layer', 'group'] as const) {
    for (const name of ['seed', 'cnn']) {
      test(`zoo ${name} norm ${norm} at opset ${opset}`, async () => {
        keel.setRandomSeed(12);
        const model = keel.zoo.buildModel(name, { norm });
        trainedLookingWeights(model, 8);
        await check(model, opset, `${name} norm ${norm} opset ${opset}`);
      });
    }
  }
}
