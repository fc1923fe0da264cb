/**
 * The layer classes both Keel and Keras 3 have, and for each the weights Keras 3 stores in
 * `model.weights.h5`, in its order: `layers/<key>/vars/0, 1, ...` are a layer's variables in the
 * order Keras's `Layer.load_own_variables` assigns them, its trainable variables (as created) then
 * its non-trainable ones. A frozen layer (`trainable: false`) keeps that order: Keras sorts its
 * variables when it creates them, not when the layer is frozen.
 *
 * `<key>` is not the layer's name: Keras 3 addresses a layer of a Sequential by the snake_case of
 * its class name, made unique within the model by a counter (`dense`, `dense_1`...), because
 * generated names differ between two instances of the same model (`saving_lib._save_container_state`).
 */
import { ModelFormatError } from 'keel';

export interface KerasWeight {
  /** Keel's short name (`kernel`, `moving_mean`), which names the weight in TF.js artifacts. */
  name: string;
  shape: number[];
}

/** Classes that convert, InputLayer aside. */
export const SUPPORTED_CLASSES = [
  'Dense', 'BatchNormalization', 'Activation', 'Dropout', 'Flatten', 'Reshape', 'Conv2D', 'DepthwiseConv2D',
  'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'LayerNormalization', 'GroupNormalization',
  'Add', 'Multiply', 'Average', 'Concatenate',
] as const;

const NO_WEIGHTS = new Set([
  'InputLayer', 'Activation', 'Dropout', 'Flatten', 'Reshape', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D',
  'Add', 'Multiply', 'Average', 'Concatenate',
]);

/** Keras's `naming.to_snake_case`. */
export function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * The h5 keys of a model's layers, from their class names (`saving_lib._get_unique_name`): a
 * Sequential's layers without its InputLayer, a functional model's with its InputLayers, in config order.
 */
export function weightGroupKeys(classNames: readonly string[]): string[] {
  const used = new Map<string, number>();
  return classNames.map((className) => {
    const base = toSnakeCase(className);
    const n = used.get(base);
    if (n === undefined) {
      used.set(base, 0);
      return base;
    }
    used.set(base, n + 1);
    return `${base}_${n + 1}`;
  });
}

const flag = (config: Readonly<Record<string, unknown>>, key: string) => config[key] !== false;

/** The axis of a per-feature layer as an index into the example's shape (batch excluded). */
function featureAxis(config: Readonly<Record<string, unknown>>, inputShape: readonly number[], where: string): number {
  let axis = config.axis ?? -1;
  if (Array.isArray(axis) && axis.length === 1) axis = axis[0];
  if (typeof axis !== 'number' || !Number.isInteger(axis)) throw new ModelFormatError(`${where}.axis: expected one integer axis, received ${JSON.stringify(axis)}.`);
  // Keras counts axes with the batch axis first; -1 is the last.
  const index = axis < 0 ? inputShape.length + axis : axis - 1;
  if (index < 0 || index >= inputShape.length) {
    throw new ModelFormatError(`${where}.axis: ${axis} is not a feature axis of inputs of shape [null, ${inputShape.join(', ')}].`);
  }
  return index;
}

/**
 * The weights of one layer, in Keras's order, given its config (TF.js or Keras 3 keys: they agree
 * for these classes) and the shape of its input (batch excluded).
 */
export function kerasWeights(className: string, config: Readonly<Record<string, unknown>>, inputShape: readonly number[], where: string): KerasWeight[] {
  if (NO_WEIGHTS.has(className)) return [];
  const last = inputShape[inputShape.length - 1];
  const pair = (v: unknown): [number, number] => (typeof v === 'number' ? [v, v] : (v as [number, number]));
  switch (className) {
    case 'Dense': {
      const units = config.units as number;
      return [{ name: 'kernel', shape: [last, units] }, ...(flag(config, 'use_bias') ? [{ name: 'bias', shape: [units] }] : [])];
    }
    case 'Conv2D': {
      const [kh, kw] = pair(config.kernel_size);
      const filters = config.filters as number;
      return [{ name: 'kernel', shape: [kh, kw, last, filters] }, ...(flag(config, 'use_bias') ? [{ name: 'bias', shape: [filters] }] : [])];
    }
    case 'DepthwiseConv2D': {
      const [kh, kw] = pair(config.kernel_size);
      const multiplier = (config.depth_multiplier as number | undefined) ?? 1;
      // Keras 3 names it `kernel`; Keel (as TF.js) `depthwise_kernel`.
      return [
        { name: 'depthwise_kernel', shape: [kh, kw, last, multiplier] },
        ...(flag(config, 'use_bias') ? [{ name: 'bias', shape: [last * multiplier] }] : []),
      ];
    }
    case 'BatchNormalization': {
      const features = [inputShape[featureAxis(config, inputShape, where)]];
      const weights: KerasWeight[] = [];
      if (flag(config, 'scale')) weights.push({ name: 'gamma', shape: features });
      if (flag(config, 'center')) weights.push({ name: 'beta', shape: features });
      weights.push({ name: 'moving_mean', shape: features }, { name: 'moving_variance', shape: features });
      if (config.renorm === true) {
        weights.push({ name: 'moving_stddev', shape: features }, { name: 'renorm_mean', shape: features }, { name: 'renorm_stddev', shape: features });
      }
      return weights;
    }
    case 'GroupNormalization': {
      const features = [inputShape[featureAxis(config, inputShape, where)]];
      return [...(flag(config, 'scale') ? [{ name: 'gamma', shape: features }] : []), ...(flag(config, 'center') ? [{ name: 'beta', shape: features }] : [])];
    }
    case 'LayerNormalization': {
      // Keras 3: γ and β have the shape of the normalized axes, in the order the config lists them.
      const axes = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
      const shape = axes.map((a) => inputShape[featureAxis({ axis: a }, inputShape, where)]);
      return [...(flag(config, 'scale') ? [{ name: 'gamma', shape }] : []), ...(flag(config, 'center') ? [{ name: 'beta', shape: [...shape] }] : [])];
    }
    default:
      throw new ModelFormatError(`${where}: layer class '${className.slice(0, 80)}' has no Keras 3 counterpart in keel-keras; expected one of ${SUPPORTED_CLASSES.join(', ')}.`);
  }
}
