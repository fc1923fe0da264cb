/**
 * The normalizations in inference form.
 *
 * BatchNormalization (with renorm or virtualBatchSize too: both change training only, and their
 * inference is plain BN) is ONNX's BatchNormalization with the moving statistics and ε exactly:
 *   y = γ·(x − movingMean)/sqrt(movingVariance + ε) + β
 * on channels-first tensors (ONNX normalizes axis 1). Its `momentum` attribute, unused in inference,
 * is the layer's: ONNX's convention is Keras's (running = running·momentum + batch·(1 − momentum)).
 *
 * LayerNormalization over the last k axes: ONNX's LayerNormalization (opset 17 on) with axis −k,
 * else its decomposition (ReduceMean, Sub, Mul, ReduceMean, Add ε, Sqrt, Div, then γ and β). Over
 * the channels of a channels-first tensor (LN after a convolution) the decomposition runs along
 * axis 1 where the tensor is: two transposes fewer per layer, and faster in ONNX Runtime (cnn with
 * LN, batch 32, one thread: 20 ms against 36 ms with the transposes).
 *
 * GroupNormalization: ONNX's GroupNormalization from opset 21, whose scale and bias are per channel
 * as Keel's γ and β. Opsets 18 to 20 define them per group, which cannot hold a γ per channel, so
 * below 21 it is decomposed: in NCHW the channels of a group are consecutive, so [N, C, ...] reshaped
 * to [N, G, C/G·...] puts each (sample, group) in one row, InstanceNormalization (γ 1, β 0) normalizes
 * the rows with the group's biased variance, and after reshaping back γ and β apply per channel.
 */
import type * as keel from 'keel';
import { attr, type GraphBuilder, type TensorValue } from '../builder.js';
import { hint, weightValues, type LayerConverter } from './context.js';

function filled(length: number, value: number): Float32Array {
  return new Float32Array(length).fill(value);
}

/** γ and β of a layer whose `scale` or `center` may be off (then 1 and 0). */
function affine(layer: keel.layers.Layer & { scale: boolean; center: boolean }, size: number) {
  return {
    gamma: (layer.scale && weightValues(layer, 'gamma')) || filled(size, 1),
    beta: (layer.center && weightValues(layer, 'beta')) || filled(size, 0),
  };
}

/** The layout BN, GN need: channels at axis 1 (a rank-2 tensor already has them there). */
function channelsFirstInput(builder: GraphBuilder, x: TensorValue): string {
  return builder.read(x, 'channelsFirst');
}

export const batchNormalizationConverter: LayerConverter<keel.layers.BatchNormalization> = {
  emit({ builder, layer, inputs: [x], outputShape }) {
    const channels = x.shape[x.shape.length - 1];
    const { gamma, beta } = affine(layer, channels);
    const names = {
      gamma: builder.weight(hint(layer, 'gamma'), gamma, [channels]),
      beta: builder.weight(hint(layer, 'beta'), beta, [channels]),
      mean: builder.weight(hint(layer, 'moving_mean'), weightValues(layer, 'moving_mean')!, [channels]),
      variance: builder.weight(hint(layer, 'moving_variance'), weightValues(layer, 'moving_variance')!, [channels]),
    };
    const y = builder.node('BatchNormalization', [channelsFirstInput(builder, x), names.gamma, names.beta, names.mean, names.variance], layer.name, [
      attr.float('epsilon', layer.epsilon), attr.float('momentum', layer.momentum),
    ]);
    return builder.value(outputShape, y, 'channelsFirst');
  },
};

/** (x − mean)/sqrt(variance + ε)·γ + β over `axes`, from ReduceMean and elementwise nodes. */
function decomposedLayerNorm(builder: GraphBuilder, layer: keel.layers.LayerNormalization, input: string, axes: number[], scale: string, bias: string): string {
  const mean = builder.reduceMean(input, axes, hint(layer, 'mean'));
  const centered = builder.node('Sub', [input, mean], hint(layer, 'centered'));
  const variance = builder.reduceMean(builder.node('Mul', [centered, centered], hint(layer, 'squared')), axes, hint(layer, 'variance'));
  const std = builder.node('Sqrt', [builder.node('Add', [variance, builder.scalar(hint(layer, 'epsilon'), layer.epsilon)], hint(layer, 'variance_eps'))], hint(layer, 'std'));
  const normalized = builder.node('Div', [centered, std], hint(layer, 'normalized'));
  return builder.node('Add', [builder.node('Mul', [normalized, scale], hint(layer, 'scaled')), bias], layer.name);
}

export const layerNormalizationConverter: LayerConverter<keel.layers.LayerNormalization> = {
  emit({ builder, layer, inputs: [x], outputShape }) {
    const k = Array.isArray(layer.axis) ? layer.axis.length : 1;
    // γ and β hold one value per normalized element in memory order, whatever order the axes were
    // listed in: written with the trailing axes' shape.
    const shape = x.shape.slice(-k);
    const size = shape.reduce((a, b) => a * b, 1);
    const { gamma, beta } = affine(layer, size);
    if (k === 1 && x.rank >= 3 && !x.names.channelsLast) {
      // Over the channels of a channels-first tensor (after a convolution): normalized along axis 1
      // where it is, rather than transposed to NHWC and back around ONNX's LayerNormalization.
      const perChannel = [size, ...x.shape.slice(0, -1).map(() => 1)];
      const scale = builder.weight(hint(layer, 'gamma'), gamma, perChannel);
      const bias = builder.weight(hint(layer, 'beta'), beta, perChannel);
      return builder.value(outputShape, decomposedLayerNorm(builder, layer, builder.read(x, 'channelsFirst'), [1], scale, bias), 'channelsFirst');
    }
    const scale = builder.weight(hint(layer, 'gamma'), gamma, shape);
    const bias = builder.weight(hint(layer, 'beta'), beta, shape);
    const input = builder.read(x, 'channelsLast');
    const y = builder.opset >= 17
      ? builder.node('LayerNormalization', [input, scale, bias], layer.name, [attr.int('axis', -k), attr.float('epsilon', layer.epsilon)])
      : decomposedLayerNorm(builder, layer, input, Array.from({ length: k }, (_, i) => i - k), scale, bias);
    return builder.value(outputShape, y, 'channelsLast');
  },
};

export const groupNormalizationConverter: LayerConverter<keel.layers.GroupNormalization> = {
  emit({ builder, layer, inputs: [x], outputShape }) {
    const channels = x.shape[x.shape.length - 1];
    const groups = layer.resolvedGroups;
    const { gamma, beta } = affine(layer, channels);
    const input = channelsFirstInput(builder, x);
    let y: string;
    if (builder.opset >= 21 && x.rank >= 3) {
      const scale = builder.weight(hint(layer, 'gamma'), gamma, [channels]);
      const bias = builder.weight(hint(layer, 'beta'), beta, [channels]);
      y = builder.node('GroupNormalization', [input, scale, bias], layer.name, [attr.int('num_groups', groups), attr.float('epsilon', layer.epsilon)]);
    } else {
      const rows = builder.node('Reshape', [input, builder.int64([0, groups, -1])], hint(layer, 'grouped'));
      const normalized = builder.node('InstanceNormalization', [
        rows, builder.weight(hint(layer, 'unit_scale'), filled(groups, 1), [groups]), builder.weight(hint(layer, 'zero_bias'), filled(groups, 0), [groups]),
      ], hint(layer, 'normalized'), [attr.float('epsilon', layer.epsilon)]);
      // Back to [N, C, ...] (channels first), then γ and β broadcast as [C, 1, ..., 1].
      const spatial = x.shape.slice(0, -1);
      const back = builder.node('Reshape', [normalized, builder.int64([0, channels, ...spatial])], hint(layer, 'ungrouped'));
      const perChannel = [channels, ...spatial.map(() => 1)];
      const scale = builder.weight(hint(layer, 'gamma'), gamma, perChannel);
      const bias = builder.weight(hint(layer, 'beta'), beta, perChannel);
      y = builder.node('Add', [builder.node('Mul', [back, scale], hint(layer, 'scaled')), bias], layer.name);
    }
    return builder.value(outputShape, y, 'channelsFirst');
  },
};
