/**
 * Layers without weights: Activation and Dropout (either layout), Flatten and Reshape (channels
 * last: they must keep Keel's element order, which is that of an NHWC tensor).
 */
import type * as keel from 'keel';
import { activate, refuseActivation } from './activations.js';
import { existingLayout, type LayerConverter } from './context.js';
import { attr } from '../builder.js';

export const activationConverter: LayerConverter<keel.layers.Activation> = {
  refuse: (layer) => refuseActivation(layer.activation),
  emit({ builder, layer, inputs: [x], outputShape }) {
    const layout = existingLayout(x);
    return builder.value(outputShape, activate(builder, layer.activation, builder.read(x, layout), layout, layer.name), layout);
  },
};

/** Inference: the identity, so no node at all; the output is the input tensor. */
export const dropoutConverter: LayerConverter<keel.layers.Dropout> = {
  emit: ({ inputs: [x] }) => x,
};

/**
 * [batch, d1, d2, ...] → [batch, d1·d2·...] in Keel's order, channels fastest: ONNX's Flatten of the
 * channels-last tensor. A channels-first tensor (after a convolution) is transposed back first;
 * flattening it as it is would give every Dense weight after it the wrong input.
 */
export const flattenConverter: LayerConverter<keel.layers.Flatten> = {
  emit({ builder, layer, inputs: [x], outputShape }) {
    const y = builder.node('Flatten', [builder.read(x, 'channelsLast')], layer.name, [attr.int('axis', 1)]);
    return builder.value(outputShape, y, 'channelsLast');
  },
};

/** Row-major reshape of each example, as Keel does, with the batch axis copied (0) so it stays dynamic. */
export const reshapeConverter: LayerConverter<keel.layers.Reshape> = {
  emit({ builder, layer, inputs: [x], outputShape }) {
    const y = builder.node('Reshape', [builder.read(x, 'channelsLast'), builder.int64([0, ...outputShape])], layer.name);
    return builder.value(outputShape, y, 'channelsLast');
  },
};
