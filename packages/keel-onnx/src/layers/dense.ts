/**
 * Dense: y = activation(x·W + b) over the last axis. Gemm for [batch, features] inputs (the usual
 * case; W is Keel's [inputs, units] as is), MatMul then Add for inputs of higher rank, which Keel
 * multiplies along their last axis as Keras does.
 */
import type * as keel from 'keel';
import { activate, refuseActivation } from './activations.js';
import { hint, weightValues, type LayerConverter } from './context.js';

export const denseConverter: LayerConverter<keel.layers.Dense> = {
  refuse: (layer) => refuseActivation(layer.activation),
  emit({ builder, layer, inputs: [x], outputShape }) {
    const input = builder.read(x, 'channelsLast');
    const inputs = x.shape[x.shape.length - 1];
    const kernel = builder.weight(hint(layer, 'kernel'), weightValues(layer, 'kernel')!, [inputs, layer.units]);
    const biasValues = layer.useBias ? weightValues(layer, 'bias') : null;
    const bias = biasValues ? builder.weight(hint(layer, 'bias'), biasValues, [layer.units]) : null;
    const pre = layer.activation === 'linear' ? layer.name : `${layer.name}/pre`;
    let y: string;
    if (x.rank === 2) {
      y = builder.node(bias ? 'Gemm' : 'MatMul', bias ? [input, kernel, bias] : [input, kernel], pre);
    } else {
      y = builder.node('MatMul', [input, kernel], bias ? hint(layer, 'matmul') : pre);
      if (bias) y = builder.node('Add', [y, bias], pre);
    }
    return builder.value(outputShape, activate(builder, layer.activation, y, 'channelsLast', layer.name), 'channelsLast');
  },
};
