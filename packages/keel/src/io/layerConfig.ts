/**
 * Layers to and from their Keras/TF.js JSON form: `{class_name, config}` with snake_case keys,
 * exactly as TF.js 4.x writes them. Pure: no file system.
 *
 * Reading is two-phase so that a hostile file never allocates more than it holds: `parseLayer`
 * validates a config into a plan (no weights allocated), `planWeights` says which weights of which
 * shapes the plan needs (checked against the manifest by the caller), and only then `buildLayer`
 * constructs the layer.
 */
import { KeelError } from '../core/errors.js';
import { Layer } from '../layers/layer.js';
import { Dense } from '../layers/dense.js';
import { BatchNormalization } from '../layers/batchNormalization.js';
import { Activation, Dropout, Flatten } from '../layers/simple.js';
import * as init from '../initializers/index.js';
import type { Initializer } from '../initializers/index.js';
import { ModelFormatError } from './errors.js';

export const SUPPORTED_CLASSES = ['Dense', 'BatchNormalization', 'Flatten', 'Activation', 'Dropout'] as const;
type SupportedClass = (typeof SUPPORTED_CLASSES)[number];

/** A validated layer config, not yet constructed. */
export interface LayerPlan {
  className: SupportedClass;
  name: string;
  /** Keel constructor options (camelCase), without the input shape. */
  args: Record<string, unknown>;
  /** [null, ...] from batch_input_shape / batch_shape, when the config declares one. */
  declaredInputShape?: number[];
}

// ---- writing --------------------------------------------------------------------------------

/** TF.js's JSON for one layer. `inputShape` is written as batch_input_shape (the first layer's). */
export function layerToJSON(layer: Layer, inputShape?: readonly number[]): { class_name: string; config: Record<string, unknown> } {
  const className = layer.getClassName();
  const keel = layer.getConfig();
  const config: Record<string, unknown> = { name: layer.name, trainable: layer.trainable };
  if (inputShape) config.batch_input_shape = [null, ...inputShape];
  config.dtype = layer.dtype;
  if (layer instanceof Dense) {
    Object.assign(config, {
      units: layer.units,
      activation: activationToJSON(layer.activation),
      use_bias: layer.useBias,
      kernel_initializer: initializerToJSON(keel.kernel_initializer),
      bias_initializer: initializerToJSON(keel.bias_initializer),
      kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null,
      kernel_constraint: null, bias_constraint: null,
    });
  } else if (layer instanceof BatchNormalization) {
    Object.assign(config, {
      axis: layer.axis, momentum: layer.momentum, epsilon: layer.epsilon, center: layer.center, scale: layer.scale,
      beta_initializer: initializerToJSON(keel.beta_initializer),
      gamma_initializer: initializerToJSON(keel.gamma_initializer),
      moving_mean_initializer: initializerToJSON(keel.moving_mean_initializer),
      moving_variance_initializer: initializerToJSON(keel.moving_variance_initializer),
      beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null,
    });
  } else if (layer instanceof Activation) {
    config.activation = activationToJSON(layer.activation);
  } else if (layer instanceof Dropout) {
    Object.assign(config, { rate: layer.rate, noise_shape: null, seed: null });
  } else if (!(layer instanceof Flatten)) {
    throw new ModelFormatError(
      `save: layer '${layer.name}' of class ${className} cannot be written; expected one of ${SUPPORTED_CLASSES.join(', ')}.`,
    );
  }
  return { class_name: className, config };
}

/** Keel's activation names are TF.js's, except leakyRelu (Keras 3 writes 'leaky_relu'; TF.js has none). */
function activationToJSON(name: string): string {
  return name === 'leakyRelu' ? 'leaky_relu' : name;
}

const MODE_TO_JSON: Record<string, string> = { fanIn: 'fan_in', fanOut: 'fan_out', fanAvg: 'fan_avg' };
const DISTRIBUTION_TO_JSON: Record<string, string> = {
  truncatedNormal: 'truncated_normal', untruncatedNormal: 'untruncated_normal', uniform: 'uniform',
};

/** Keel's {class_name, config} of an initializer, in TF.js's spelling (VarianceScaling family expanded). */
function initializerToJSON(value: unknown): { class_name: string; config: Record<string, unknown> } {
  const { class_name: className, config } = value as { class_name: string; config: Record<string, unknown> };
  if ('mode' in config && 'distribution' in config) {
    return {
      class_name: 'VarianceScaling',
      config: {
        scale: config.scale,
        mode: MODE_TO_JSON[config.mode as string] ?? config.mode,
        distribution: DISTRIBUTION_TO_JSON[config.distribution as string] ?? config.distribution,
        seed: null,
      },
    };
  }
  if (className === 'Zeros' || className === 'Ones' || className === 'Constant') return { class_name: className, config: { ...config } };
  return { class_name: className, config: { ...config, seed: null } };
}

// ---- reading --------------------------------------------------------------------------------

/** Validates one `{class_name, config}` entry. Returns null for an InputLayer (its shape in `inputShape`). */
export function parseLayer(entry: unknown, where: string): LayerPlan | { inputLayerShape: number[] } {
  const e = object(entry, where);
  const className = string(e.class_name, `${where}.class_name`);
  const c = object(e.config, `${where}.config`);
  if (className === 'InputLayer') {
    const shape = c.batch_input_shape ?? c.batch_shape;
    return { inputLayerShape: batchShape(shape, `${where}.config.batch_input_shape`) };
  }
  if (!(SUPPORTED_CLASSES as readonly string[]).includes(className)) {
    throw new ModelFormatError(
      `${where}: unknown layer class '${className.slice(0, 80)}'. Keel reads ${SUPPORTED_CLASSES.join(', ')} (and InputLayer).`,
    );
  }
  const name = string(c.name, `${where}.config.name`);
  if (name.length === 0 || name.length > 256 || /[\u0000-\u001f]/.test(name)) {
    throw new ModelFormatError(`${where}.config.name: expected 1 to 256 printable characters, received ${JSON.stringify(name.slice(0, 80))}.`);
  }
  const args: Record<string, unknown> = { name };
  if (c.trainable !== undefined) args.trainable = boolean(c.trainable, `${where}.config.trainable`);
  const dtype = parseDtype(c.dtype, `${where}.config.dtype`);
  if (dtype) args.dtype = dtype;
  const plan: LayerPlan = { className: className as SupportedClass, name, args };
  const shape = c.batch_input_shape ?? c.batch_shape;
  if (shape !== undefined && shape !== null) plan.declaredInputShape = batchShape(shape, `${where}.config.batch_input_shape`);
  const at = (key: string) => `${where}.config.${key}`;
  switch (className) {
    case 'Dense':
      args.units = positiveInteger(c.units, at('units'));
      if (c.activation !== undefined && c.activation !== null) args.activation = string(c.activation, at('activation'));
      if (c.use_bias !== undefined) args.useBias = boolean(c.use_bias, at('use_bias'));
      args.kernelInitializer = initializerFromJSON(c.kernel_initializer, at('kernel_initializer'), init.glorotUniform());
      args.biasInitializer = initializerFromJSON(c.bias_initializer, at('bias_initializer'), init.zeros());
      break;
    case 'BatchNormalization': {
      let axis = c.axis ?? -1;
      if (Array.isArray(axis) && axis.length === 1) axis = axis[0];
      args.axis = integer(axis, at('axis'));
      if (c.momentum !== undefined) args.momentum = number(c.momentum, at('momentum'));
      if (c.epsilon !== undefined) args.epsilon = number(c.epsilon, at('epsilon'));
      if (c.center !== undefined) args.center = boolean(c.center, at('center'));
      if (c.scale !== undefined) args.scale = boolean(c.scale, at('scale'));
      if (c.renorm === true) throw new ModelFormatError(`${at('renorm')}: batch renormalization is not supported by Keel.`);
      args.betaInitializer = initializerFromJSON(c.beta_initializer, at('beta_initializer'), init.zeros());
      args.gammaInitializer = initializerFromJSON(c.gamma_initializer, at('gamma_initializer'), init.ones());
      args.movingMeanInitializer = initializerFromJSON(c.moving_mean_initializer, at('moving_mean_initializer'), init.zeros());
      args.movingVarianceInitializer = initializerFromJSON(c.moving_variance_initializer, at('moving_variance_initializer'), init.ones());
      break;
    }
    case 'Activation':
      args.activation = string(c.activation, at('activation'));
      break;
    case 'Dropout':
      args.rate = number(c.rate, at('rate'));
      if (typeof c.seed === 'number') args.seed = integer(c.seed, at('seed'));
      if (c.noise_shape !== undefined && c.noise_shape !== null) {
        throw new ModelFormatError(`${at('noise_shape')}: Keel's Dropout has no noise_shape; expected null.`);
      }
      break;
    case 'Flatten':
      if (c.data_format !== undefined && c.data_format !== null && c.data_format !== 'channels_last') {
        throw new ModelFormatError(`${at('data_format')}: expected 'channels_last' (Keel has no channels_first), received ${describe(c.data_format)}.`);
      }
      break;
  }
  return plan;
}

/** Output shape (batch excluded) of a plan, without building it. */
export function planOutputShape(plan: LayerPlan, inputShape: readonly number[]): number[] {
  if (plan.className === 'Flatten') return [inputShape.reduce((a, b) => a * b, 1)];
  if (plan.className === 'Dense') return [...inputShape.slice(0, -1), plan.args.units as number];
  return [...inputShape];
}

/** The weights (short name and shape) a plan will create for inputs of this shape. */
export function planWeights(plan: LayerPlan, inputShape: readonly number[]): { name: string; shape: number[] }[] {
  const last = inputShape[inputShape.length - 1];
  if (plan.className === 'Dense') {
    const units = plan.args.units as number;
    const weights = [{ name: 'kernel', shape: [last, units] }];
    if (plan.args.useBias !== false) weights.push({ name: 'bias', shape: [units] });
    return weights;
  }
  if (plan.className === 'BatchNormalization') {
    const weights: { name: string; shape: number[] }[] = [];
    if (plan.args.scale !== false) weights.push({ name: 'gamma', shape: [last] });
    if (plan.args.center !== false) weights.push({ name: 'beta', shape: [last] });
    weights.push({ name: 'moving_mean', shape: [last] }, { name: 'moving_variance', shape: [last] });
    return weights;
  }
  return [];
}

/** Constructs the layer of a validated plan (the first layer gets `inputShape`). */
export function buildLayer(plan: LayerPlan, inputShape?: readonly number[]): Layer {
  const args = { ...plan.args } as Record<string, unknown>;
  if (inputShape) args.inputShape = [...inputShape];
  try {
    switch (plan.className) {
      case 'Dense': return new Dense(args as never);
      case 'BatchNormalization': return new BatchNormalization(args as never);
      case 'Activation': return new Activation(args as never);
      case 'Dropout': return new Dropout(args as never);
      case 'Flatten': return new Flatten(args as never);
    }
  } catch (e) {
    // The layer's own message says what is wrong with the value; add where it came from.
    if (e instanceof KeelError) throw new ModelFormatError(`layer '${plan.name}' (${plan.className}): ${e.message}`);
    throw e;
  }
}

const MODE_FROM_JSON: Record<string, string> = { fan_in: 'fanIn', fan_out: 'fanOut', fan_avg: 'fanAvg', fanIn: 'fanIn', fanOut: 'fanOut', fanAvg: 'fanAvg' };
const DISTRIBUTION_FROM_JSON: Record<string, string> = {
  // TF.js and Keras 2 write 'normal' for the truncated normal.
  normal: 'truncatedNormal', truncated_normal: 'truncatedNormal', truncatedNormal: 'truncatedNormal',
  untruncated_normal: 'untruncatedNormal', untruncatedNormal: 'untruncatedNormal', uniform: 'uniform',
};
const NAMED_SCALED: Record<string, (args: { seed?: number }) => Initializer> = {
  GlorotUniform: init.glorotUniform, GlorotNormal: init.glorotNormal, HeNormal: init.heNormal,
  HeUniform: init.heUniform, LecunNormal: init.lecunNormal, LecunUniform: init.lecunUniform,
};

/** Keel's named VarianceScaling initializers by their parameters (Keras's definitions). */
const NAMED_BY_PARAMETERS: Record<string, string> = {
  '1/fanAvg/uniform': 'GlorotUniform', '1/fanAvg/truncatedNormal': 'GlorotNormal', '2/fanIn/truncatedNormal': 'HeNormal',
  '2/fanIn/uniform': 'HeUniform', '1/fanIn/truncatedNormal': 'LecunNormal', '1/fanIn/uniform': 'LecunUniform',
};

function initializerFromJSON(value: unknown, where: string, fallback: Initializer): Initializer {
  if (value === undefined || value === null) return fallback;
  const e = object(value, where);
  const className = string(e.class_name, `${where}.class_name`);
  const c = e.config === undefined || e.config === null ? {} : object(e.config, `${where}.config`);
  const seed = typeof c.seed === 'number' ? integer(c.seed, `${where}.config.seed`) : undefined;
  const optionalNumber = (key: string) => (c[key] === undefined ? undefined : number(c[key], `${where}.config.${key}`));
  try {
    switch (className) {
      case 'Zeros': return init.zeros();
      case 'Ones': return init.ones();
      case 'Constant': return init.constant({ value: number(c.value, `${where}.config.value`) });
      case 'RandomNormal': return init.randomNormal({ mean: optionalNumber('mean'), stddev: optionalNumber('stddev'), seed });
      case 'TruncatedNormal': return init.truncatedNormal({ mean: optionalNumber('mean'), stddev: optionalNumber('stddev'), seed });
      case 'RandomUniform': return init.randomUniform({ minval: optionalNumber('minval'), maxval: optionalNumber('maxval'), seed });
      case 'VarianceScaling': {
        const mode = MODE_FROM_JSON[string(c.mode ?? 'fan_in', `${where}.config.mode`)];
        const distribution = DISTRIBUTION_FROM_JSON[string(c.distribution ?? 'truncated_normal', `${where}.config.distribution`)];
        if (!mode || !distribution) {
          throw new ModelFormatError(`${where}.config: expected mode fan_in|fan_out|fan_avg and distribution normal|truncated_normal|untruncated_normal|uniform, received ${describe(c)}.`);
        }
        const scale = optionalNumber('scale') ?? 1;
        // TF.js writes HeNormal & co. as VarianceScaling; recognise them so that configs round-trip.
        const named = NAMED_BY_PARAMETERS[`${scale}/${mode}/${distribution}`];
        if (named) return NAMED_SCALED[named]({ seed });
        return init.varianceScaling({ scale, mode: mode as never, distribution: distribution as never, seed });
      }
      default: {
        const named = NAMED_SCALED[className];
        if (named) return named({ seed });
        throw new ModelFormatError(
          `${where}: unknown initializer class '${className.slice(0, 80)}'. Expected one of Zeros, Ones, Constant, RandomNormal, ` +
            `TruncatedNormal, RandomUniform, VarianceScaling, ${Object.keys(NAMED_SCALED).join(', ')}.`,
        );
      }
    }
  } catch (err) {
    if (err instanceof KeelError && !(err instanceof ModelFormatError)) throw new ModelFormatError(`${where}: ${err.message}`);
    throw err;
  }
}

// ---- validation helpers (exported for the model reader) ---------------------------------------

/** A short, safe rendering of an untrusted value for an error message. */
export function describe(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    return `a ${Array.isArray(v) ? 'nested array' : typeof v} too deep to print`;
  }
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function object(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ModelFormatError(`${where}: expected an object, received ${describe(v)}.`);
  }
  return v as Record<string, unknown>;
}

export function string(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new ModelFormatError(`${where}: expected a string, received ${describe(v)}.`);
  return v;
}

function boolean(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw new ModelFormatError(`${where}: expected true or false, received ${describe(v)}.`);
  return v;
}

function number(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(`${where}: expected a finite number, received ${describe(v)}.`);
  return v;
}

function integer(v: unknown, where: string): number {
  if (!Number.isSafeInteger(v)) throw new ModelFormatError(`${where}: expected an integer, received ${describe(v)}.`);
  return v as number;
}

/** Dimensions are capped at 2^31 − 1 (as TF.js's int32 shapes); anything larger cannot be real. */
export function positiveInteger(v: unknown, where: string): number {
  if (!Number.isSafeInteger(v) || (v as number) <= 0 || (v as number) > 0x7fffffff) {
    throw new ModelFormatError(`${where}: expected a positive integer, received ${describe(v)}.`);
  }
  return v as number;
}

function batchShape(v: unknown, where: string): number[] {
  if (!Array.isArray(v) || v.length < 2 || v.length > 8 || (v[0] !== null && !Number.isSafeInteger(v[0]))) {
    throw new ModelFormatError(`${where}: expected [null, d1, ...] (batch axis first, at most 8 axes), received ${describe(v)}.`);
  }
  return v.slice(1).map((d, i) => positiveInteger(d, `${where}[${i + 1}]`));
}

function parseDtype(v: unknown, where: string): 'float32' | 'float64' | undefined {
  if (v === undefined || v === null) return undefined;
  // Keras 3 writes a DTypePolicy object: {class_name: 'DTypePolicy', config: {name: 'float32'}}.
  const name = typeof v === 'object' && !Array.isArray(v) ? (v as { config?: { name?: unknown } }).config?.name : v;
  if (name === 'float32' || name === 'float64') return name;
  throw new ModelFormatError(`${where}: expected 'float32' (or 'float64'), received ${describe(v)}.`);
}
