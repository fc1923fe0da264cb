/**
 * The layer registry (layers/serialization.ts): every built-in class round-trips through its
 * TF.js JSON; a class registered by its author saves and loads like a built-in one, and is built
 * only after its weights were checked against the manifest; regularizers and constraints, which
 * Keel does not have yet, are refused by name rather than dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';

/** y = x · scale, one scale per feature: a small layer with one weight, written as a user would. */
class Scale extends keel.layers.Layer {
  scale!: keel.layers.LayerVariable;
  constructor(args: keel.layers.LayerArgs = {}) {
    super(args, 'Scale', []);
  }
  getClassName(): string {
    return 'Scale';
  }
  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }
  override build(inputShape: readonly number[]): void {
    super.build(inputShape);
    this.scale = this.addWeight('scale', keel.ones([inputShape[inputShape.length - 1]], this.dtype), 'parameter');
  }
  forward(x: keel.Tensor): keel.Tensor {
    const y = keel.zeros(x.shape, x.dtype);
    const s = this.scale.value.values;
    for (let i = 0; i < x.size; i++) y.values[i] = x.values[i] * s[i % s.length];
    return y;
  }
  backward(): keel.Tensor | null {
    throw new Error('Scale is not trained in these tests');
  }
}

let scalesCreated = 0;
const scaleEntry: keel.layers.LayerClassSerializer<Scale> = {
  className: 'Scale',
  layerClass: Scale,
  writeConfig: () => ({}),
  parseConfig: () => ({}),
  weights: (_args, inputShape) => [{ name: 'scale', shape: [inputShape[inputShape.length - 1]] }],
  outputShape: (_args, inputShape) => [...inputShape],
  create: (args) => {
    scalesCreated++;
    return new Scale(args as keel.layers.LayerArgs);
  },
};

async function artifactsOf(model: keel.Sequential): Promise<keel.io.ModelArtifacts> {
  let artifacts: keel.io.ModelArtifacts | undefined;
  await model.save(keel.io.withSaveHandler(async (a) => { artifacts = a; }));
  return artifacts!;
}

/** Artifacts with a deep copy of the topology, so that a test may edit it. */
const withTopology = (a: keel.io.ModelArtifacts, edit: (layers: any[]) => void): keel.io.ModelArtifacts => {
  const modelTopology = JSON.parse(JSON.stringify(a.modelTopology));
  edit(modelTopology.config.layers);
  return { ...a, modelTopology };
};

test('the built-in classes are registered, in the order error messages list them', () => {
  assert.deepEqual(keel.layers.registeredLayerClasses(), [
    'Dense', 'BatchNormalization', 'Flatten', 'Activation', 'Dropout',
    'Conv2D', 'DepthwiseConv2D', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'Reshape', 'LayerNormalization', 'GroupNormalization', 'Add', 'Multiply', 'Average', 'Concatenate',
  ]);
});

test('every built-in class round-trips through its TF.js JSON, options included', () => {
  const layers = [
    keel.layers.dense({ units: 3, activation: 'relu', useBias: false, kernelInitializer: 'heNormal', name: 'd' }),
    keel.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, center: false, name: 'bn' }),
    keel.layers.flatten({ name: 'f' }),
    keel.layers.activation({ activation: 'leakyRelu', name: 'a' }),
    keel.layers.dropout({ rate: 0.25, name: 'drop' }),
  ];
  for (const layer of layers) {
    const json = JSON.parse(JSON.stringify(keel.layers.layerToJSON(layer, [4])));
    assert.equal(json.class_name, layer.getClassName());
    assert.deepEqual(json.config.batch_input_shape, [null, 4]);
    const back = keel.layers.layerFromJSON(json);
    assert.equal(back.constructor, layer.constructor);
    assert.deepEqual(keel.layers.layerToJSON(back, [4]), json, layer.getClassName());
  }
});

test('a class nobody registered can be neither written nor read, and the errors list what can', async () => {
  const model = keel.sequential({ layers: [keel.layers.dense({ units: 2, inputShape: [3] }), new Scale({ name: 'scale_unregistered' })] });
  await assert.rejects(model.save(keel.io.withSaveHandler(async () => {})), {
    name: 'ModelFormatError',
    message: /layer 'scale_unregistered' of class Scale cannot be written; expected one of Dense, BatchNormalization, Flatten, Activation, Dropout, Conv2D, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Reshape, LayerNormalization, GroupNormalization, Add, Multiply, Average, Concatenate\./,
  });
  assert.throws(() => keel.layers.layerFromJSON({ class_name: 'Scale', config: { name: 's' } }, 'layers[1]'), {
    name: 'ModelFormatError',
    message: /layers\[1\]: unknown layer class 'Scale'\. Keel reads Dense, BatchNormalization, Flatten, Activation, Dropout, Conv2D, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Reshape, LayerNormalization, GroupNormalization, Add, Multiply, Average, Concatenate \(and InputLayer\)/,
  });
});

test('a registered class saves and loads like a built-in one, weights checked before it is built', async () => {
  keel.layers.registerLayerClass(scaleEntry);
  assert.equal(keel.layers.registeredLayerClasses().at(-1), 'Scale');
  const model = keel.sequential({ layers: [keel.layers.dense({ units: 2, inputShape: [3] }), new Scale({ name: 'scale' })] });
  (model.layers[1] as Scale).scale.value.values.set([2, -3]);
  const artifacts = await artifactsOf(model);
  assert.equal((artifacts.modelTopology as any).config.layers[1].class_name, 'Scale');
  const dense = model.layers[0].name;
  assert.deepEqual(artifacts.weightSpecs.map((s) => s.name), [`${dense}/kernel`, `${dense}/bias`, 'scale/scale']);

  const created = scalesCreated;
  const loaded = await keel.loadLayersModel(keel.io.fromMemory(artifacts));
  assert.equal(scalesCreated, created + 1);
  assert.ok(loaded.layers[1] instanceof Scale);
  const x = keel.tensor([[1, 2, 3], [-1, 0, 0.5]]);
  assert.deepEqual(loaded.predict(x).dataSync(), model.predict(x).dataSync());

  // The manifest disagrees with the plan: refused before the layer is constructed.
  const wrong = { ...artifacts, weightSpecs: artifacts.weightSpecs.map((s) => s.name === 'scale/scale' ? { ...s, shape: [3] } : s) };
  assert.throws(() => keel.io.artifactsToModel(wrong), { name: 'ModelFormatError', message: /'scale\/scale' has shape \[3\], but the topology needs \[2\]/ });
  assert.equal(scalesCreated, created + 1);
});

test('registering a class twice, InputLayer, or an incomplete entry is refused', () => {
  assert.throws(() => keel.layers.registerLayerClass(scaleEntry), { name: 'ValueError', message: /class 'Scale' is already registered/ });
  assert.throws(() => keel.layers.registerLayerClass({ ...scaleEntry, className: 'Dense' }), { name: 'ValueError', message: /'Dense' is already registered/ });
  assert.throws(() => keel.layers.registerLayerClass({ ...scaleEntry, className: 'InputLayer' }), { name: 'ValueError', message: /'InputLayer' is already registered/ });
  assert.throws(() => keel.layers.registerLayerClass({ ...scaleEntry, className: 'Scale2', weights: undefined as never }), {
    name: 'ValueError', message: /the entry for 'Scale2' lacks weights/,
  });
  assert.throws(() => keel.layers.registerLayerClass({ ...scaleEntry, className: 'no spaces' }), { name: 'ValueError', message: /expected an entry with a className/ });
  assert.ok(!keel.layers.registeredLayerClasses().includes('Scale2'));
});

test('a registered class whose weights() disagrees with what create() builds fails with a KeelError that says so', async () => {
  class Mislabelled extends Scale {
    override getClassName(): string {
      return 'Mislabelled';
    }
  }
  keel.layers.registerLayerClass<Mislabelled>({
    ...scaleEntry, className: 'Mislabelled', layerClass: Mislabelled,
    weights: (_args, inputShape) => [{ name: 'gain', shape: [inputShape[inputShape.length - 1]] }],
    create: (args) => new Mislabelled(args as keel.layers.LayerArgs),
  });
  const model = keel.sequential({ layers: [new Mislabelled({ name: 'm', inputShape: [2] })] });
  const artifacts = await artifactsOf(model);
  // As a file written by a serializer that agreed with itself would name it.
  const renamed = { ...artifacts, weightSpecs: [{ ...artifacts.weightSpecs[0], name: 'm/gain' }] };
  assert.throws(() => keel.io.artifactsToModel(renamed), (e: Error) => {
    assert.ok(e instanceof keel.KeelError, `${e.name}: ${e.message}`);
    assert.match(e.message, /layer weight 'm\/scale' \[2\] is not among the weights its layer class's serializer declared \(m\/gain \[2\]\)/);
    return true;
  });
});

const REFUSED: [layerIndex: number, key: string][] = [
  [0, 'kernel_regularizer'], [0, 'bias_regularizer'], [0, 'activity_regularizer'], [0, 'kernel_constraint'], [0, 'bias_constraint'],
  [1, 'beta_regularizer'], [1, 'gamma_regularizer'], [1, 'beta_constraint'], [1, 'gamma_constraint'],
];

test('a loaded layer with a regularizer or a constraint is refused, naming the layer, the key and the value', async () => {
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 3, inputShape: [2], name: 'hidden' }), keel.layers.batchNormalization({ name: 'norm' }),
  ] });
  const artifacts = await artifactsOf(model);
  // Keel writes every one of these keys, as null; null loads.
  const written = (artifacts.modelTopology as any).config.layers;
  for (const [i, key] of REFUSED) assert.equal(written[i].config[key], null, key);
  assert.equal(keel.io.artifactsToModel(artifacts).countParams(), model.countParams());

  for (const [i, key] of REFUSED) {
    const value = key.endsWith('_regularizer')
      ? { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } }
      : { class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } };
    const edited = withTopology(artifacts, (layers) => { layers[i].config[key] = value; });
    const kind = key.endsWith('_regularizer') ? 'regularizer' : 'constraint';
    assert.throws(() => keel.io.artifactsToModel(edited), (e: Error) => {
      assert.ok(e instanceof keel.ModelFormatError, `${e.name}: ${e.message}`);
      assert.match(e.message, new RegExp(`layers\\[${i}\\]\\.config\\.${key}: layer '${i === 0 ? 'hidden' : 'norm'}' \\(${i === 0 ? 'Dense' : 'BatchNormalization'}\\) has a ${kind}, \\{"class_name":"${value.class_name}"`));
      assert.match(e.message, /Keel has no regularizers or constraints yet/);
      assert.match(e.message, new RegExp(`Remove it from the model before saving \\(or set ${key} to null in model\\.json\\)`));
      return true;
    });
  }
});

test('a hostile regularizer value is described in a few characters, not printed whole', () => {
  const huge = { class_name: 'L2', config: { l2: 'x'.repeat(100_000) } };
  const deep = JSON.parse('['.repeat(5_000) + ']'.repeat(5_000));
  for (const value of [huge, deep, 'l2']) {
    assert.throws(() => keel.layers.layerFromJSON({ class_name: 'Dense', config: { name: 'd', units: 2, kernel_regularizer: value } }), (e: Error) => {
      assert.ok(e instanceof keel.ModelFormatError);
      assert.match(e.message, /kernel_regularizer: layer 'd' \(Dense\) has a regularizer/);
      assert.ok(e.message.length < 500, `${e.message.length} characters`);
      return true;
    });
  }
});

test('regularizer and constraint options given to a layer constructor are refused as unknown options', () => {
  const cases: [() => unknown, string][] = [
    [() => keel.layers.dense({ units: 2, kernelRegularizer: 'l2' } as never), 'kernelRegularizer'],
    [() => keel.layers.dense({ units: 2, biasRegularizer: 'l2' } as never), 'biasRegularizer'],
    [() => keel.layers.dense({ units: 2, activityRegularizer: 'l1' } as never), 'activityRegularizer'],
    [() => keel.layers.dense({ units: 2, kernelConstraint: 'maxNorm' } as never), 'kernelConstraint'],
    [() => keel.layers.dense({ units: 2, biasConstraint: 'nonNeg' } as never), 'biasConstraint'],
    [() => keel.layers.batchNormalization({ betaRegularizer: 'l2' } as never), 'betaRegularizer'],
    [() => keel.layers.batchNormalization({ gammaRegularizer: 'l2' } as never), 'gammaRegularizer'],
    [() => keel.layers.batchNormalization({ betaConstraint: 'maxNorm' } as never), 'betaConstraint'],
    [() => keel.layers.batchNormalization({ gammaConstraint: 'maxNorm' } as never), 'gammaConstraint'],
  ];
  for (const [make, key] of cases) {
    assert.throws(make, (e: Error) => {
      assert.ok(e instanceof keel.ValueError, `${key}: ${e.name}`);
      assert.match(e.message, new RegExp(`unknown option .${key}.\\. Expected one of: `));
      return true;
    }, key);
  }
});
