/**
 * Registry entries of the image layers: Conv2D, DepthwiseConv2D, the pooling layers and Reshape,
 * with the config keys TF.js 4.22 writes (`kernel_size: [3, 3]`, `data_format: 'channels_last'`...).
 * Output shapes come from the layer's own computeOutputShape on an unbuilt instance (which
 * allocates nothing), so a file and the layer can never disagree about them.
 */
import { KeelError, ModelFormatError } from '../core/errors.js';
import * as init from '../initializers/index.js';
import type { Layer } from './layer.js';
import { Conv2D } from './conv2d.js';
import { DepthwiseConv2D } from './depthwiseConv2d.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from './pooling.js';
import { Reshape } from './reshape.js';
import type { LayerClassSerializer, WeightShape } from './serializationClasses.js';
import { boolean, describe, integer, positiveInteger, string } from './serializationChecks.js';
import { initializerFromJSON, initializerToJSON } from './serializationInitializers.js';

function pair(v: unknown, where: string): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2) throw new ModelFormatError(`${where}: expected [height, width], received ${describe(v)}.`);
  return [positiveInteger(p[0], `${where}[0]`), positiveInteger(p[1], `${where}[1]`)];
}

function padding(v: unknown, where: string): 'valid' | 'same' {
  if (v === undefined || v === null) return 'valid';
  if (v === 'valid' || v === 'same') return v;
  throw new ModelFormatError(`${where}: expected 'valid' or 'same', received ${describe(v)}.`);
}

function channelsLast(v: unknown, where: string): void {
  if (v !== undefined && v !== null && v !== 'channels_last') {
    throw new ModelFormatError(`${where}: expected 'channels_last' (Keel has no channels_first), received ${describe(v)}.`);
  }
}

/** The output shape from the layer itself, its errors (a window larger than the input...) as ModelFormatError. */
function outputShapeOf(create: () => Layer, inputShape: readonly number[], where: string): number[] {
  try {
    return create().computeOutputShape(inputShape);
  } catch (e) {
    if (e instanceof KeelError && !(e instanceof ModelFormatError)) throw new ModelFormatError(`${where}: ${e.message}`);
    throw e;
  }
}

/** Keys Conv2D and DepthwiseConv2D share. */
function windowConfig(c: Readonly<Record<string, unknown>>, at: (key: string) => string): Record<string, unknown> {
  channelsLast(c.data_format, at('data_format'));
  const args: Record<string, unknown> = { kernelSize: pair(c.kernel_size, at('kernel_size')) };
  if (c.strides !== undefined && c.strides !== null) args.strides = pair(c.strides, at('strides'));
  args.padding = padding(c.padding, at('padding'));
  if (c.dilation_rate !== undefined && c.dilation_rate !== null) args.dilationRate = pair(c.dilation_rate, at('dilation_rate'));
  if (c.activation !== undefined && c.activation !== null) args.activation = string(c.activation, at('activation'));
  if (c.use_bias !== undefined) args.useBias = boolean(c.use_bias, at('use_bias'));
  args.biasInitializer = initializerFromJSON(c.bias_initializer, at('bias_initializer'), init.zeros());
  return args;
}

const activationToJSON = (name: string): string => (name === 'leakyRelu' ? 'leaky_relu' : name);

const conv2d: LayerClassSerializer<Conv2D> = {
  className: 'Conv2D',
  layerClass: Conv2D,
  writeConfig(layer) {
    return {
      filters: layer.filters, kernel_size: [...layer.kernelSize], strides: [...layer.strides], padding: layer.padding,
      data_format: 'channels_last', dilation_rate: [...layer.dilationRate], activation: activationToJSON(layer.activation),
      use_bias: layer.useBias,
      kernel_initializer: initializerToJSON({ class_name: layer.kernelInitializer.getClassName(), config: layer.kernelInitializer.getConfig() }),
      bias_initializer: initializerToJSON({ class_name: layer.biasInitializer.getClassName(), config: layer.biasInitializer.getConfig() }),
      kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
    };
  },
  parseConfig(c, at) {
    if (c.groups !== undefined && c.groups !== null && c.groups !== 1) {
      throw new ModelFormatError(`${at('groups')}: Keel's Conv2D has no grouped convolution; expected 1, received ${describe(c.groups)}.`);
    }
    return {
      filters: positiveInteger(c.filters, at('filters')),
      ...windowConfig(c, at),
      kernelInitializer: initializerFromJSON(c.kernel_initializer, at('kernel_initializer'), init.glorotUniform()),
    };
  },
  weights(args, inputShape) {
    const [kh, kw] = args.kernelSize as [number, number];
    const filters = args.filters as number;
    const weights: WeightShape[] = [{ name: 'kernel', shape: [kh, kw, inputShape[inputShape.length - 1], filters] }];
    if (args.useBias !== false) weights.push({ name: 'bias', shape: [filters] });
    return weights;
  },
  outputShape: (args, inputShape) => outputShapeOf(() => new Conv2D({ ...(args as object), name: 'shape_check' } as never), inputShape, 'Conv2D'),
  create: (args) => new Conv2D(args as never),
};

const depthwiseConv2d: LayerClassSerializer<DepthwiseConv2D> = {
  className: 'DepthwiseConv2D',
  layerClass: DepthwiseConv2D,
  writeConfig(layer) {
    return {
      kernel_size: [...layer.kernelSize], strides: [...layer.strides], padding: layer.padding, data_format: 'channels_last',
      dilation_rate: [...layer.dilationRate], activation: activationToJSON(layer.activation), use_bias: layer.useBias,
      bias_initializer: initializerToJSON({ class_name: layer.biasInitializer.getClassName(), config: layer.biasInitializer.getConfig() }),
      bias_regularizer: null, activity_regularizer: null, bias_constraint: null,
      depth_multiplier: layer.depthMultiplier,
      depthwise_initializer: initializerToJSON({ class_name: layer.depthwiseInitializer.getClassName(), config: layer.depthwiseInitializer.getConfig() }),
      depthwise_regularizer: null, depthwise_constraint: null,
    };
  },
  parseConfig(c, at) {
    const args = windowConfig(c, at);
    if (c.depth_multiplier !== undefined) args.depthMultiplier = positiveInteger(c.depth_multiplier, at('depth_multiplier'));
    args.depthwiseInitializer = initializerFromJSON(c.depthwise_initializer, at('depthwise_initializer'), init.glorotUniform());
    return args;
  },
  weights(args, inputShape) {
    const [kh, kw] = args.kernelSize as [number, number];
    const channels = inputShape[inputShape.length - 1];
    const multiplier = (args.depthMultiplier as number | undefined) ?? 1;
    const weights: WeightShape[] = [{ name: 'depthwise_kernel', shape: [kh, kw, channels, multiplier] }];
    if (args.useBias !== false) weights.push({ name: 'bias', shape: [channels * multiplier] });
    return weights;
  },
  outputShape: (args, inputShape) =>
    outputShapeOf(() => new DepthwiseConv2D({ ...(args as object), name: 'shape_check' } as never), inputShape, 'DepthwiseConv2D'),
  create: (args) => new DepthwiseConv2D(args as never),
};

function pooling<L extends MaxPooling2D | AveragePooling2D>(
  className: string, layerClass: new (args: never) => L,
): LayerClassSerializer<L> {
  return {
    className,
    layerClass,
    writeConfig: (layer) => ({ pool_size: [...layer.poolSize], padding: layer.padding, strides: [...layer.strides], data_format: 'channels_last' }),
    parseConfig(c, at) {
      channelsLast(c.data_format, at('data_format'));
      const args: Record<string, unknown> = { poolSize: pair(c.pool_size ?? [2, 2], at('pool_size')), padding: padding(c.padding, at('padding')) };
      if (c.strides !== undefined && c.strides !== null) args.strides = pair(c.strides, at('strides'));
      return args;
    },
    weights: () => [],
    outputShape: (args, inputShape) => outputShapeOf(() => new layerClass({ ...(args as object), name: 'shape_check' } as never), inputShape, className),
    create: (args) => new layerClass(args as never),
  };
}

function globalPooling<L extends GlobalAveragePooling2D | GlobalMaxPooling2D>(
  className: string, layerClass: new (args: never) => L,
): LayerClassSerializer<L> {
  return {
    className,
    layerClass,
    writeConfig: () => ({ data_format: 'channels_last' }),
    parseConfig(c, at) {
      channelsLast(c.data_format, at('data_format'));
      if (c.keepdims === true) throw new ModelFormatError(`${at('keepdims')}: Keel's global pooling returns [batch, channels]; expected false.`);
      return {};
    },
    weights: () => [],
    outputShape: (_args, inputShape) => outputShapeOf(() => new layerClass({ name: 'shape_check' } as never), inputShape, className),
    create: (args) => new layerClass(args as never),
  };
}

const reshape: LayerClassSerializer<Reshape> = {
  className: 'Reshape',
  layerClass: Reshape,
  writeConfig: (layer) => ({ target_shape: [...layer.targetShape] }),
  parseConfig(c, at) {
    const target = c.target_shape;
    if (!Array.isArray(target) || target.length === 0 || target.length > 8) {
      throw new ModelFormatError(`${at('target_shape')}: expected an array of 1 to 8 dimensions, received ${describe(target)}.`);
    }
    return { targetShape: target.map((d, i) => (d === -1 ? -1 : positiveInteger(integer(d, `${at('target_shape')}[${i}]`), `${at('target_shape')}[${i}]`))) };
  },
  weights: () => [],
  outputShape: (args, inputShape) => outputShapeOf(() => new Reshape({ ...(args as object), name: 'shape_check' } as never), inputShape, 'Reshape'),
  create: (args) => new Reshape(args as never),
};

export const IMAGE_LAYER_CLASSES: readonly LayerClassSerializer[] = [
  conv2d, depthwiseConv2d,
  pooling('MaxPooling2D', MaxPooling2D), pooling('AveragePooling2D', AveragePooling2D),
  globalPooling('GlobalAveragePooling2D', GlobalAveragePooling2D), globalPooling('GlobalMaxPooling2D', GlobalMaxPooling2D),
  reshape,
] as LayerClassSerializer[];
