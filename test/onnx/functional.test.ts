/**
 * Functional models (keel.model): residual connections, concatenations, several inputs. Each is
 * checked against Keel's predictions in ONNX Runtime, folded and not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import onnxProto from 'onnx-proto';
import { toOnnx } from 'keel-onnx';
import { images, relativeDifference, runOnnx, trainedLookingWeights } from './helpers.js';

const { layers } = keel;

function opTypes(bytes: Uint8Array): string[] {
  return onnxProto.onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);
}

/** Checks ORT against Keel on batches of 1 and 3, folded and not; returns the unfolded bytes. */
async function agrees(model: keel.LayersModel): Promise<Uint8Array> {
  trainedLookingWeights(model);
  let unfolded: Uint8Array | null = null;
  for (const foldBatchNorm of [false, true]) {
    const bytes = toOnnx(model, { foldBatchNorm });
    unfolded ??= bytes;
    for (const n of [1, 3]) {
      const xs = model.inputShapes.map((shape, i) => images(n, shape, 10 * n + i));
      const expected = model.predict(xs.length === 1 ? xs[0] : xs);
      const got = await runOnnx(bytes, xs, 'all');
      assert.deepEqual(got.shape, expected.shape);
      const diff = relativeDifference(got.values, expected.dataSync());
      assert.ok(diff <= 1e-5, `${foldBatchNorm ? 'folded ' : ''}batch ${n}: ${diff}`);
    }
  }
  return unfolded!;
}

test('a residual block: Add of two convolution branches, then Concatenate on the channels, with no transpose between', async () => {
  const x = keel.input({ shape: [12, 10, 3] });
  const stem = layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }).apply(x);
  const a = layers.activation({ activation: 'relu' }).apply(layers.batchNormalization().apply(stem));
  const b = layers.batchNormalization().apply(layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(a));
  const sum = layers.activation({ activation: 'relu' }).apply(layers.add().apply([b, stem]));
  const joined = layers.concatenate().apply([sum, stem]);
  const pooled = layers.globalAveragePooling2d().apply(layers.maxPooling2d().apply(joined));
  const y = layers.dense({ units: 5, activation: 'softmax' }).apply(pooled);
  const ops = opTypes(await agrees(keel.model({ inputs: x, outputs: y })));
  assert.equal(ops.filter((o) => o === 'Transpose').length, 1, ops.join(' '));
  assert.ok(ops.includes('Add') && ops.includes('Concat'));
});

test('Concatenate along height and width of NHWC tensors kept channels-first, and of flattened features', async () => {
  for (const axis of [1, 2, -2, -3]) {
    const x = keel.input({ shape: [6, 5, 2] });
    const p = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(x);
    const q = layers.conv2d({ filters: 4, kernelSize: 1 }).apply(x);
    const joined = layers.concatenate({ axis }).apply([p, q, layers.activation({ activation: 'tanh' }).apply(q)]);
    const y = layers.dense({ units: 3 }).apply(layers.flatten().apply(layers.conv2d({ filters: 2, kernelSize: 2 }).apply(joined)));
    await agrees(keel.model({ inputs: x, outputs: y }));
  }
});

test('two inputs, keeping their names; Multiply, Average and Add of three (Sum)', async () => {
  const a = keel.input({ shape: [6], name: 'left' });
  const b = keel.input({ shape: [4], name: 'right' });
  const p = layers.dense({ units: 5, activation: 'tanh' }).apply(a);
  const q = layers.dense({ units: 5 }).apply(b);
  const r = layers.dense({ units: 5, activation: 'sigmoid' }).apply(layers.concatenate().apply([a, b]));
  const merged = layers.concatenate({ axis: -1 }).apply([
    layers.multiply().apply([p, q, r]), layers.average().apply([p, q, r]), layers.add().apply([p, q, r]), layers.add().apply([q, r]),
  ]);
  const y = layers.dense({ units: 2, activation: 'softmax' }).apply(layers.batchNormalization().apply(merged));
  const bytes = await agrees(keel.model({ inputs: [a, b], outputs: y }));
  const graph = onnxProto.onnx.ModelProto.decode(bytes).graph!;
  assert.deepEqual(graph.input!.map((i) => i.name), ['left', 'right']);
  assert.deepEqual(graph.output!.map((o) => o.name), ['output']);
  const ops = opTypes(bytes);
  for (const op of ['Mul', 'Mean', 'Sum', 'Add', 'Concat']) assert.ok(ops.includes(op), op);
});

test('the resnet zoo model: one Transpose (in), an Add per basic block, the projections as 1×1 convolutions', () => {
  const bytes = toOnnx(keel.zoo.buildModel('resnet'));
  const ops = opTypes(bytes);
  const count = (op: string) => ops.filter((o) => o === op).length;
  assert.deepEqual([count('Transpose'), count('Add'), count('Conv'), count('BatchNormalization')], [1, 9, 21, 21]);
  assert.equal(count('BatchNormalization'), opTypes(toOnnx(keel.zoo.buildModel('resnet'), { foldBatchNorm: true })).filter((o) => o === 'BatchNormalization').length + 21);
});
