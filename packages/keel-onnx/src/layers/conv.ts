/**
 * Conv2D, DepthwiseConv2D and the pooling layers, on channels-first tensors (ONNX's Conv and pools
 * are NCHW only). Kernels are permuted from Keel's [kh, kw, in, out] to ONNX's [out, in, kh, kw].
 *
 * 'same' padding is written as explicit pads, TensorFlow's: the total padding along an axis is
 * max((ceil(in/stride) − 1)·stride + (k − 1)·dilation + 1 − in, 0), its smaller half at the top
 * (left) and the extra row (column) at the bottom (right). ONNX's auto_pad SAME_UPPER means the
 * same, but explicit pads leave no room for a reader to differ.
 */
import type * as keel from 'keel';
import { activate, refuseActivation } from './activations.js';
import { hint, weightValues, type LayerConverter } from './context.js';
import { attr, type GraphBuilder } from '../builder.js';

interface Window {
  kernelSize: readonly [number, number];
  strides: readonly [number, number];
  dilationRate: readonly [number, number];
  padding: 'same' | 'valid';
}

/** ONNX's pads [top, left, bottom, right] for `window` over an image of `height` × `width`. */
export function tensorflowPads(window: Window, height: number, width: number): number[] {
  if (window.padding === 'valid') return [0, 0, 0, 0];
  const total = [height, width].map((size, i) => {
    const out = Math.ceil(size / window.strides[i]);
    const extent = (window.kernelSize[i] - 1) * window.dilationRate[i] + 1;
    return Math.max((out - 1) * window.strides[i] + extent - size, 0);
  });
  const begin = total.map((t) => Math.floor(t / 2));
  return [begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]];
}

function windowAttributes(window: Window, height: number, width: number) {
  return [
    attr.ints('kernel_shape', window.kernelSize),
    attr.ints('strides', window.strides),
    attr.ints('pads', tensorflowPads(window, height, width)),
  ];
}

/** Keel's [kh, kw, in, out] kernel as ONNX's [out, in, kh, kw]. */
function kernelToOihw(values: ArrayLike<number>, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) {
    out[((o * cin + c) * kh + i) * kw + j] = values[((i * kw + j) * cin + c) * cout + o];
  }
  return out;
}

function convNode(
  builder: GraphBuilder, layer: keel.layers.Layer & Window & { activation: string }, input: string, inputShape: readonly number[],
  kernel: string, bias: string | null, group: number,
): string {
  const [height, width] = inputShape;
  const pre = layer.activation === 'linear' ? layer.name : `${layer.name}/pre`;
  const y = builder.node('Conv', bias ? [input, kernel, bias] : [input, kernel], pre, [
    ...windowAttributes(layer, height, width), attr.ints('dilations', layer.dilationRate), attr.int('group', group),
  ]);
  return activate(builder, layer.activation, y, 'channelsFirst', layer.name);
}

export const conv2dConverter: LayerConverter<keel.layers.Conv2D> = {
  refuse: (layer) => refuseActivation(layer.activation),
  emit({ builder, layer, inputs: [x], outputShape }) {
    const [kh, kw] = layer.kernelSize;
    const cin = x.shape[2];
    const kernel = builder.weight(hint(layer, 'kernel'), kernelToOihw(weightValues(layer, 'kernel')!, kh, kw, cin, layer.filters), [layer.filters, cin, kh, kw]);
    const biasValues = layer.useBias ? weightValues(layer, 'bias') : null;
    const bias = biasValues ? builder.weight(hint(layer, 'bias'), biasValues, [layer.filters]) : null;
    const y = convNode(builder, layer, builder.read(x, 'channelsFirst'), x.shape, kernel, bias, 1);
    return builder.value(outputShape, y, 'channelsFirst');
  },
};

/**
 * A depthwise convolution is a grouped one with a group per input channel. Keel's kernel
 * [kh, kw, C, M] makes output channel c·M + m from input channel c, so ONNX's weight is
 * [C·M, 1, kh, kw] with W[c·M + m, 0] = K[:, :, c, m].
 */
export const depthwiseConv2dConverter: LayerConverter<keel.layers.DepthwiseConv2D> = {
  refuse: (layer) => refuseActivation(layer.activation),
  emit({ builder, layer, inputs: [x], outputShape }) {
    const [kh, kw] = layer.kernelSize;
    const channels = x.shape[2];
    const outChannels = channels * layer.depthMultiplier;
    // [kh, kw, C, M] read as [kh, kw, 1, C·M] is the plain kernel layout with one input channel.
    const weights = kernelToOihw(weightValues(layer, 'depthwise_kernel')!, kh, kw, 1, outChannels);
    const kernel = builder.weight(hint(layer, 'depthwise_kernel'), weights, [outChannels, 1, kh, kw]);
    const biasValues = layer.useBias ? weightValues(layer, 'bias') : null;
    const bias = biasValues ? builder.weight(hint(layer, 'bias'), biasValues, [outChannels]) : null;
    const y = convNode(builder, layer, builder.read(x, 'channelsFirst'), x.shape, kernel, bias, channels);
    return builder.value(outputShape, y, 'channelsFirst');
  },
};

type Pooling = keel.layers.MaxPooling2D | keel.layers.AveragePooling2D;

function poolingConverter(opType: 'MaxPool' | 'AveragePool'): LayerConverter<Pooling> {
  return {
    emit({ builder, layer, inputs: [x], outputShape }) {
      const window: Window = { kernelSize: layer.poolSize, strides: layer.strides, dilationRate: [1, 1], padding: layer.padding };
      const attributes = windowAttributes(window, x.shape[0], x.shape[1]);
      // Keel (as TensorFlow) averages over the positions inside the image only.
      if (opType === 'AveragePool') attributes.push(attr.int('count_include_pad', 0));
      const y = builder.node(opType, [builder.read(x, 'channelsFirst')], layer.name, attributes);
      return builder.value(outputShape, y, 'channelsFirst');
    },
  };
}

export const maxPooling2dConverter = poolingConverter('MaxPool');
export const averagePooling2dConverter = poolingConverter('AveragePool');

/** [batch, C, H, W] → [batch, C, 1, 1] by ONNX's global pool, then [batch, C] as Keel returns it. */
function globalPoolingConverter(opType: 'GlobalMaxPool' | 'GlobalAveragePool'): LayerConverter {
  return {
    emit({ builder, layer, inputs: [x], outputShape }) {
      const pooled = builder.node(opType, [builder.read(x, 'channelsFirst')], hint(layer, 'pool'));
      return builder.value(outputShape, builder.node('Flatten', [pooled], layer.name, [attr.int('axis', 1)]), 'channelsLast');
    },
  };
}

export const globalMaxPooling2dConverter = globalPoolingConverter('GlobalMaxPool');
export const globalAveragePooling2dConverter = globalPoolingConverter('GlobalAveragePool');
