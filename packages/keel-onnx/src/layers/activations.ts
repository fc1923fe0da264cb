/**
 * Keel's activations as ONNX nodes. Each works on either layout (softmax, over the channels, picks
 * its axis from the layout), so an activation never forces a transpose.
 */
import type { GraphBuilder, Layout } from '../builder.js';
import { attr } from '../builder.js';

/** Keel's SELU constants (ops/activations.ts), the same as Keras's and ONNX's defaults. */
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;
/** Keel's leakyRelu slope (Keras 3's 0.2; ONNX's default is 0.01). */
const LEAKY_RELU_SLOPE = 0.2;

export const EXPORTED_ACTIVATIONS = ['linear', 'relu', 'elu', 'selu', 'leakyRelu', 'tanh', 'sigmoid', 'softmax', 'swish'] as const;

/** `activation` applied to the tensor `input` (in `layout`); returns the output name. */
export function activate(builder: GraphBuilder, activation: string, input: string, layout: Layout, hint: string): string {
  switch (activation) {
    case 'linear': return input;
    case 'relu': return builder.node('Relu', [input], hint);
    case 'elu': return builder.node('Elu', [input], hint, [attr.float('alpha', 1)]);
    case 'selu': return builder.node('Selu', [input], hint, [attr.float('alpha', SELU_ALPHA), attr.float('gamma', SELU_SCALE)]);
    case 'leakyRelu': return builder.node('LeakyRelu', [input], hint, [attr.float('alpha', LEAKY_RELU_SLOPE)]);
    case 'tanh': return builder.node('Tanh', [input], hint);
    case 'sigmoid': return builder.node('Sigmoid', [input], hint);
    // Keel's softmax runs over the last axis, the channels: axis 1 once they come first. (From
    // opset 13 Softmax normalizes that one axis; before, it flattened the axes after it.)
    case 'softmax': return builder.node('Softmax', [input], hint, [attr.int('axis', layout === 'channelsFirst' ? 1 : -1)]);
    // swish(x) = x·sigmoid(x); ONNX has no Swish op before opset 24.
    case 'swish': return builder.node('Mul', [input, builder.node('Sigmoid', [input], `${hint}_sigmoid`)], hint);
    default:
      throw new Error(`activate: no ONNX form for activation '${activation}'`); // refused before emitting
  }
}

/** Why `activation` cannot be exported, or null. */
export function refuseActivation(activation: string): string | null {
  return (EXPORTED_ACTIVATIONS as readonly string[]).includes(activation)
    ? null
    : `its activation '${activation}' has no ONNX form here (exported: ${EXPORTED_ACTIVATIONS.join(', ')}); use one of those`;
}
