/**
 * What the layer registry (`serialization.ts`) knows about one layer class, and the entries of
 * Keel's built-in classes: Dense, BatchNormalization, Flatten, Activation, Dropout. A new layer
 * class adds one entry (here for Keel's own, or through `registerLayerClass` for a user's).
 */
import { ModelFormatError } from '../core/errors.js';
import * as init from '../initializers/index.js';
import type { Layer } from './layer.js';
import { Dense } from './dense.js';
import { BatchNormalization, renormClippingProblem } from './batchNormalization.js';
import { Activation, Dropout, Flatten } from './simple.js';
import { boolean, describe, integer, number, positiveInteger, string } from './serializationChecks.js';
import { initializerFromJSON, initializerToJSON } from './serializationInitializers.js';

/** A validated layer config, not yet constructed: nothing of the size of its weights is allocated. */
export interface LayerPlan {
  /** Keras/TF.js class name: the registry key. */
  className: string;
  name: string;
  /** Keel constructor options (camelCase), without the input shape. */
  args: Record<string, unknown>;
  /** [d1, ...] (batch excluded) from batch_input_shape / batch_shape, when the config declares one. */
  declaredInputShape?: number[];
}

/** One weight a plan will create: its short name (`kernel`) and shape. */
export interface WeightShape {
  name: string;
  shape: number[];
}

/**
 * How one layer class is written to, and read from, its Keras/TF.js JSON `{class_name, config}`.
 *
 * The common keys (`name`, `trainable`, `batch_input_shape`, `dtype`) are handled by the registry,
 * and so is the refusal of regularizers and constraints (`*_regularizer`, `*_constraint`); an
 * entry handles the keys of its own class only.
 *
 * Contract for reading a hostile file safely: `parseConfig` validates every value it uses (the
 * helpers in `serializationChecks.ts` throw ModelFormatError) and allocates nothing in proportion
 * to them; `weights` lists exactly the weights `create` will build, so that the loader can check
 * the manifest and the bytes against them before `create` is ever called.
 */
export interface LayerClassSerializer<L extends Layer = Layer> {
  /** The `class_name` in files, equal to the layer's `getClassName()`. */
  readonly className: string;
  /** The Keel class; `layerToJSON` checks that the layer is an instance of it. */
  readonly layerClass: abstract new (...args: never[]) => L;
  /** The class's own config keys, snake_case and in TF.js's order. */
  writeConfig(layer: L): Record<string, unknown>;
  /** Constructor options (camelCase) from the class's own keys of an untrusted config. */
  parseConfig(config: Readonly<Record<string, unknown>>, at: (key: string) => string): Record<string, unknown>;
  /** The weights (short name, shape) a layer with these options builds for inputs of `inputShape`. */
  weights(args: Readonly<Record<string, unknown>>, inputShape: readonly number[]): WeightShape[];
  /** The output shape (batch excluded) for inputs of `inputShape`, without building the layer. */
  outputShape(args: Readonly<Record<string, unknown>>, inputShape: readonly number[]): number[];
  /**
   * For layers of several inputs (merge layers): the output shape for the inputs' shapes, throwing
   * a ModelFormatError when they cannot merge. Absent: the layer takes one input.
   */
  outputShapeMany?(args: Readonly<Record<string, unknown>>, inputShapes: readonly (readonly number[])[]): number[];
  /** Constructs the layer (options include `inputShape` for a model's first layer). */
  create(args: Record<string, unknown>): L;
}

/** Keel's activation names are TF.js's, except leakyRelu (Keras 3 writes 'leaky_relu'; TF.js has none). */
function activationToJSON(name: string): string {
  return name === 'leakyRelu' ? 'leaky_relu' : name;
}

const sameShape = (_args: unknown, inputShape: readonly number[]): number[] => [...inputShape];
const noWeights = (): WeightShape[] => [];

const dense: LayerClassSerializer<Dense> = {
  className: 'Dense',
  layerClass: Dense,
  writeConfig(layer) {
    const keel = layer.getConfig();
    return {
      units: layer.units,
      activation: activationToJSON(layer.activation),
      use_bias: layer.useBias,
      kernel_initializer: initializerToJSON(keel.kernel_initializer),
      bias_initializer: initializerToJSON(keel.bias_initializer),
      kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null,
      kernel_constraint: null, bias_constraint: null,
    };
  },
  parseConfig(c, at) {
    const args: Record<string, unknown> = { units: positiveInteger(c.units, at('units')) };
    if (c.activation !== undefined && c.activation !== null) args.activation = string(c.activation, at('activation'));
    if (c.use_bias !== undefined) args.useBias = boolean(c.use_bias, at('use_bias'));
    args.kernelInitializer = initializerFromJSON(c.kernel_initializer, at('kernel_initializer'), init.glorotUniform());
    args.biasInitializer = initializerFromJSON(c.bias_initializer, at('bias_initializer'), init.zeros());
    return args;
  },
  weights(args, inputShape) {
    const units = args.units as number;
    const weights = [{ name: 'kernel', shape: [inputShape[inputShape.length - 1], units] }];
    if (args.useBias !== false) weights.push({ name: 'bias', shape: [units] });
    return weights;
  },
  outputShape: (args, inputShape) => [...inputShape.slice(0, -1), args.units as number],
  create: (args) => new Dense(args as never),
};

/**
 * Batch Renormalization and Ghost BN are written as tf.keras 2 writes them: `renorm`,
 * `renorm_clipping` ({rmax, rmin, dmax}, only the bounds given) and `renorm_momentum` only for a renorm
 * layer, `virtual_batch_size` only when set, so that a plain BN's config stays TF.js's. Keras 3's
 * `renorm: false, renorm_clipping: null, renorm_momentum: 0.99` read as plain BN.
 */
const batchNormalization: LayerClassSerializer<BatchNormalization> = {
  className: 'BatchNormalization',
  layerClass: BatchNormalization,
  writeConfig(layer) {
    const keel = layer.getConfig();
    return {
      axis: layer.axis, momentum: layer.momentum, epsilon: layer.epsilon, center: layer.center, scale: layer.scale,
      beta_initializer: initializerToJSON(keel.beta_initializer),
      gamma_initializer: initializerToJSON(keel.gamma_initializer),
      moving_mean_initializer: initializerToJSON(keel.moving_mean_initializer),
      moving_variance_initializer: initializerToJSON(keel.moving_variance_initializer),
      beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null,
      ...(layer.renorm ? { renorm: true, renorm_clipping: { ...layer.renormClipping }, renorm_momentum: layer.renormMomentum } : {}),
      ...(layer.virtualBatchSize !== null ? { virtual_batch_size: layer.virtualBatchSize } : {}),
    };
  },
  parseConfig(c, at) {
    let axis = c.axis ?? -1;
    if (Array.isArray(axis) && axis.length === 1) axis = axis[0];
    const args: Record<string, unknown> = { axis: integer(axis, at('axis')) };
    if (c.momentum !== undefined) args.momentum = number(c.momentum, at('momentum'));
    if (c.epsilon !== undefined) args.epsilon = number(c.epsilon, at('epsilon'));
    if (c.center !== undefined) args.center = boolean(c.center, at('center'));
    if (c.scale !== undefined) args.scale = boolean(c.scale, at('scale'));
    if (c.renorm !== undefined && c.renorm !== null && boolean(c.renorm, at('renorm'))) {
      // Keras ignores renorm_clipping and renorm_momentum without renorm; so does Keel.
      args.renorm = true;
      if (c.renorm_clipping !== undefined && c.renorm_clipping !== null) {
        const problem = renormClippingProblem(c.renorm_clipping, at('renorm_clipping'));
        if (problem) throw new ModelFormatError(problem);
        args.renormClipping = { ...(c.renorm_clipping as Record<string, unknown>) };
      }
      if (c.renorm_momentum !== undefined && c.renorm_momentum !== null) {
        const rm = number(c.renorm_momentum, at('renorm_momentum'));
        if (!(rm >= 0 && rm <= 1)) throw new ModelFormatError(`${at('renorm_momentum')}: expected a number in [0, 1], received ${describe(rm)}.`);
        args.renormMomentum = rm;
      }
    }
    if (c.virtual_batch_size !== undefined && c.virtual_batch_size !== null) {
      args.virtualBatchSize = positiveInteger(c.virtual_batch_size, at('virtual_batch_size'));
    }
    args.betaInitializer = initializerFromJSON(c.beta_initializer, at('beta_initializer'), init.zeros());
    args.gammaInitializer = initializerFromJSON(c.gamma_initializer, at('gamma_initializer'), init.ones());
    args.movingMeanInitializer = initializerFromJSON(c.moving_mean_initializer, at('moving_mean_initializer'), init.zeros());
    args.movingVarianceInitializer = initializerFromJSON(c.moving_variance_initializer, at('moving_variance_initializer'), init.ones());
    return args;
  },
  weights(args, inputShape) {
    const features = inputShape[inputShape.length - 1];
    const weights: WeightShape[] = [];
    if (args.scale !== false) weights.push({ name: 'gamma', shape: [features] });
    if (args.center !== false) weights.push({ name: 'beta', shape: [features] });
    weights.push({ name: 'moving_mean', shape: [features] }, { name: 'moving_variance', shape: [features] });
    // Renorm's buffers, in Keras's order.
    if (args.renorm === true) {
      weights.push({ name: 'moving_stddev', shape: [features] }, { name: 'renorm_mean', shape: [features] }, { name: 'renorm_stddev', shape: [features] });
    }
    return weights;
  },
  outputShape: sameShape,
  create: (args) => new BatchNormalization(args as never),
};

const flatten: LayerClassSerializer<Flatten> = {
  className: 'Flatten',
  layerClass: Flatten,
  writeConfig: () => ({}),
  parseConfig(c, at) {
    if (c.data_format !== undefined && c.data_format !== null && c.data_format !== 'channels_last') {
      throw new ModelFormatError(`${at('data_format')}: expected 'channels_last' (Keel has no channels_first), received ${describe(c.data_format)}.`);
    }
    return {};
  },
  weights: noWeights,
  outputShape: (_args, inputShape) => [inputShape.reduce((a, b) => a * b, 1)],
  create: (args) => new Flatten(args as never),
};

const activation: LayerClassSerializer<Activation> = {
  className: 'Activation',
  layerClass: Activation,
  writeConfig: (layer) => ({ activation: activationToJSON(layer.activation) }),
  parseConfig: (c, at) => ({ activation: string(c.activation, at('activation')) }),
  weights: noWeights,
  outputShape: sameShape,
  create: (args) => new Activation(args as never),
};

const dropout: LayerClassSerializer<Dropout> = {
  className: 'Dropout',
  layerClass: Dropout,
  writeConfig: (layer) => ({ rate: layer.rate, noise_shape: null, seed: null }),
  parseConfig(c, at) {
    const args: Record<string, unknown> = { rate: number(c.rate, at('rate')) };
    if (typeof c.seed === 'number') args.seed = integer(c.seed, at('seed'));
    if (c.noise_shape !== undefined && c.noise_shape !== null) {
      throw new ModelFormatError(`${at('noise_shape')}: Keel's Dropout has no noise_shape; expected null.`);
    }
    return args;
  },
  weights: noWeights,
  outputShape: sameShape,
  create: (args) => new Dropout(args as never),
};

/** In the order error messages list them. */
export const BUILT_IN_LAYER_CLASSES: readonly LayerClassSerializer[] = [dense, batchNormalization, flatten, activation, dropout];
