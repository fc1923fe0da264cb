/**
 * Layouts and layer options: the exported model takes and returns Keel's NHWC tensors, transposes
 * only around runs of NCHW layers, keeps Flatten's channels-last order, pads as TensorFlow does,
 * and has a dynamic batch. Each model is checked against Keel's predictions in ONNX Runtime.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import onnxProto from 'onnx-proto';
import { toOnnx } from 'keel-onnx';
import { images, relativeDifference, runOnnx, trainedLookingWeights } from './helpers.js';

const { layers } = keel;

function decode(bytes: Uint8Array) {
  return onnxProto.onnx.ModelProto.decode(bytes);
}

/** Exports `model` (trained-looking weights) and checks ORT against Keel on batches of 1 and 4. */
async function agrees(model: keel.Sequential, options: Parameters<typeof toOnnx>[1] = {}): Promise<Uint8Array> {
  trainedLookingWeights(model);
  const bytes = toOnnx(model, options);
  for (const n of [1, 4]) {
    const x = images(n, model.inputShape, n);
    const expected = model.predict(x);
    const got = await runOnnx(bytes, x);
    assert.deepEqual(got.shape, expected.shape);
    const diff = relativeDifference(got.values, expected.dataSync());
    assert.ok(diff <= 1e-5, `batch ${n}: ${diff}`);
  }
  return bytes;
}

test('Flatten after a convolution flattens in Keel\'s channels-last order, with one transpose in and one out', async () => {
  // 3 channels at 4×3 positions: flattening NCHW would feed the Dense its inputs permuted.
  const model = keel.sequential({ layers: [
    layers.conv2d({ filters: 3, kernelSize: 3, inputShape: [6, 5, 2] }),
    layers.flatten(),
    layers.dense({ units: 4 }),
  ] });
  const graph = decode(await agrees(model)).graph!;
  assert.deepEqual(graph.node!.map((n) => n.opType), ['Transpose', 'Conv', 'Transpose', 'Flatten', 'Gemm']);
});

test('the cnn model has exactly two transposes, into its convolutions and out before Flatten, whatever its normalization', () => {
  for (const norm of keel.zoo.NORMALIZATIONS) {
    for (const opset of [13, 17, 21]) {
      const graph = decode(toOnnx(keel.zoo.buildModel('cnn', { norm }), { opset })).graph!;
      assert.equal(graph.node!.filter((n) => n.opType === 'Transpose').length, 2, `${norm} opset ${opset}`);
    }
  }
});

test('input and output are Keel\'s shapes with a dynamic batch dimension', () => {
  const graph = decode(toOnnx(keel.zoo.buildModel('cnn'))).graph!;
  const dims = (v: onnxProto.onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
  assert.deepEqual(graph.input!.map(dims), [['batch', 28, 28]]);
  assert.deepEqual(graph.output!.map(dims), [['batch', 10]]);
  assert.deepEqual([graph.input![0].name, graph.output![0].name], ['input', 'output']);
});

test("'same' padding with uneven pads (extra row and column at the bottom and right), strides and dilation", async () => {
  await agrees(keel.sequential({ layers: [
    layers.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same', inputShape: [9, 8, 3], activation: 'elu' }),
    layers.conv2d({ filters: 3, kernelSize: [2, 3], dilationRate: 2, padding: 'same', activation: 'selu' }),
    layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: [2, 1], padding: 'same', activation: 'leakyRelu' }),
    layers.depthwiseConv2d({ kernelSize: 2, dilationRate: 2, padding: 'valid', useBias: false }),
    layers.flatten(),
  ] }));
});

test("pooling: 'same' average pooling excludes the padding from its count; max pooling, global pooling", async () => {
  for (const last of [layers.globalAveragePooling2d(), layers.globalMaxPooling2d(), layers.flatten()]) {
    await agrees(keel.sequential({ layers: [
      layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', inputShape: [7, 6, 3] }),
      layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
      layers.averagePooling2d({ poolSize: [2, 3], padding: 'valid' }),
      last,
    ] }));
  }
});

test('activations on channels-first tensors (softmax over the channels), Dropout, Reshape', async () => {
  await agrees(keel.sequential({ layers: [
    layers.reshape({ targetShape: [6, 4, 2], inputShape: [8, 6] }),
    layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'softmax' }),
    layers.activation({ activation: 'swish' }),
    layers.dropout({ rate: 0.5 }),
    layers.activation({ activation: 'tanh' }),
    layers.conv2d({ filters: 2, kernelSize: 1, activation: 'sigmoid' }),
    layers.reshape({ targetShape: [-1, 4] }),
    layers.dense({ units: 3, activation: 'relu' }),
  ] }));
});

test('normalizations: BN without γ or β, Layer Normalization over several axes, Group and Instance Normalization on features', async () => {
  for (const opset of [13, 17, 21]) {
    await agrees(keel.sequential({ layers: [
      layers.batchNormalization({ scale: false, inputShape: [5, 4, 6] }),
      layers.batchNormalization({ center: false, epsilon: 0.1 }),
      layers.layerNormalization({ axis: [-1, -2] }),
      layers.layerNormalization({ axis: [1, 2, 3], center: false }),
      layers.groupNormalization({ groups: 3 }),
      layers.groupNormalization({ groups: -1, scale: false }),
      layers.flatten(),
      layers.dense({ units: 8 }),
      layers.groupNormalization({ groups: 2 }),
      layers.groupNormalization({ groups: 1, epsilon: 0.5 }),
      layers.layerNormalization(),
      layers.batchNormalization(),
    ] }), { opset });
  }
});

test('Dense and the normalizations on rank-3 inputs (MatMul along the last axis), and a model of Dropout only', async () => {
  for (const opset of [13, 21]) await agrees(keel.sequential({ layers: [
    layers.dense({ units: 6, inputShape: [4, 5] }),
    // Normalizations of [batch, steps, channels] tensors: BN and GN on [batch, channels, steps].
    layers.batchNormalization(), layers.groupNormalization({ groups: 2 }), layers.layerNormalization(),
    layers.dense({ units: 2, useBias: false }),
  ] }), { opset });
  const bytes = await agrees(keel.sequential({ layers: [layers.dropout({ rate: 0.3, inputShape: [3] })] }));
  assert.deepEqual(decode(bytes).graph!.node!.map((n) => n.opType), ['Identity']);
});

test("the BatchNormalization node's epsilon is the layer's, and its momentum the layer's Keras momentum (ONNX's convention)", () => {
  const model = keel.sequential({ layers: [
    layers.batchNormalization({ momentum: 0.95, epsilon: 1e-4, inputShape: [3] }),
    layers.batchNormalization({ renorm: true, momentum: 0.8, renormMomentum: 0.5, inputShape: [3] }),
  ] });
  const nodes = decode(toOnnx(model)).graph!.node!.filter((n) => n.opType === 'BatchNormalization');
  const attribute = (n: onnxProto.onnx.INodeProto, name: string) => n.attribute!.find((a) => a.name === name)!.f;
  assert.deepEqual(nodes.map((n) => attribute(n, 'momentum')), [Math.fround(0.95), Math.fround(0.8)]);
  assert.deepEqual(nodes.map((n) => attribute(n, 'epsilon')), [Math.fround(1e-4), Math.fround(1e-3)]);
});

test('folding removes the BatchNormalization nodes of the cnn model', () => {
  const ops = (options: Parameters<typeof toOnnx>[1]) => decode(toOnnx(keel.zoo.buildModel('cnn'), options)).graph!.node!.map((n) => n.opType);
  assert.equal(ops({}).filter((o) => o === 'BatchNormalization').length, 5);
  assert.equal(ops({ foldBatchNorm: true }).filter((o) => o === 'BatchNormalization').length, 0);
  assert.equal(Number(decode(toOnnx(keel.zoo.buildModel('cnn'), { opset: 21 })).opsetImport![0].version), 21);
});

test('frozen layers (trainable = false, which reorders getWeights) export the same weights', async () => {
  keel.setRandomSeed(4);
  const model = keel.zoo.buildModel('cnn', { norm: 'renorm' });
  for (const layer of model.layers.slice(0, 6)) layer.trainable = false;
  await agrees(model);
});
