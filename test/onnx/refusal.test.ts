/** What toOnnx refuses, with an OnnxExportError (a keel.ValueError) that names the layer and the fix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { OnnxExportError, toOnnx } from 'keel-onnx';

const { layers } = keel;

/** A user's layer: y = 2x. Nothing in ONNX says what its forward computes. */
class Doubling extends keel.layers.Layer {
  constructor(args: keel.layers.LayerArgs = {}) {
    super(args, 'Doubling', []);
  }
  getClassName(): string { return 'Doubling'; }
  computeOutputShape(inputShape: readonly number[]): number[] { return [...inputShape]; }
  forward(x: keel.Tensor): keel.Tensor { return keel.tensor(x.dataSync().map((v) => 2 * v), x.shape); }
  backward(dy: keel.Tensor): keel.Tensor { return dy; }
}

/** A subclass of Dense, which may compute something else than Dense. */
class ScaledDense extends keel.layers.Dense {}

function refusal(fn: () => unknown, pattern: RegExp, fields?: { layerName: string; className: string }): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OnnxExportError && e instanceof keel.ValueError && e instanceof keel.KeelError, String(e));
    assert.match(e.message, pattern);
    if (fields) assert.deepEqual({ layerName: e.layerName, className: e.className }, fields);
    return true;
  });
}

test('a layer class the exporter does not know is refused, naming the layer, its class and what to do', () => {
  const model = keel.sequential({ layers: [layers.dense({ units: 4, inputShape: [3] }), new Doubling({ name: 'twice' }), layers.dense({ units: 2 })] });
  refusal(() => toOnnx(model), /^toOnnx: layer 'twice' \(class Doubling\) has no ONNX conversion: The exporter writes Dense, BatchNormalization, .*GlobalAveragePooling2D, Add, Multiply, Average, Concatenate\. Replace the layer by those, or export the part of the model without it\.$/,
    { layerName: 'twice', className: 'Doubling' });
  // The same check guards folding: refused before foldBatchNorm runs.
  refusal(() => toOnnx(model, { foldBatchNorm: true }), /layer 'twice' \(class Doubling\)/);
});

test('a subclass of a known layer is refused rather than written as its parent', () => {
  const model = keel.sequential({ layers: [new ScaledDense({ units: 2, inputShape: [3], name: 'scaled' })] });
  refusal(() => toOnnx(model), /layer 'scaled' \(class Dense, a subclass of Dense\) has no ONNX conversion: a subclass may compute something other than Dense/);
});

test('float64 layers are refused', () => {
  const model = keel.sequential({ layers: [layers.dense({ units: 2, inputShape: [3], dtype: 'float64', name: 'wide' })] });
  refusal(() => toOnnx(model), /layer 'wide' \(class Dense\) is float64; the exporter writes float32 models/);
});

test('bad options and what is not a model', () => {
  const model = keel.zoo.buildModel('plain');
  for (const opset of [12, 22, 17.5, '17', Number.NaN]) {
    refusal(() => toOnnx(model, { opset: opset as number }), /^toOnnx: expected opset to be an integer from 13 to 21, received .*; leave it out for 17\.$/);
  }
  refusal(() => toOnnx(model, { foldBatchNorm: 'yes' as unknown as boolean }), /expected foldBatchNorm to be true or false, received string yes/);
  assert.throws(() => toOnnx(model, { opsets: 17 } as never), (e: unknown) => e instanceof keel.ValueError && /unknown option 'opsets'.*Did you mean 'opset'/.test((e as Error).message));
  refusal(() => toOnnx({} as keel.Sequential), /^toOnnx: expected a Keel model \(keel\.sequential\(\.\.\.\), keel\.model\(\.\.\.\) or keel\.loadLayersModel\(\.\.\.\)\), received an object of class Object\.$/);
  refusal(() => toOnnx(undefined as unknown as keel.Sequential), /received undefined/);
  refusal(() => toOnnx(keel.sequential({ name: 'empty' })), /model 'empty' has no layers/);
});
