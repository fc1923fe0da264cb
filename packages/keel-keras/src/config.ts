/**
 * One layer's config between TF.js's form (what Keel's layer registry writes and reads: snake_case
 * keys, `dtype: 'float32'`, initializers as `{class_name, config}`) and Keras 3's (the same keys
 * and values for the classes Keel has, plus `module`/`registered_name` on every serialized
 * object, a DTypePolicy for `dtype`, a few keys of Keras's own). Pure.
 *
 * Keras 3 keys that Keel has no counterpart for are accepted only with the value that means "off"
 * (`rms_scaling: false`, `keepdims: false`, `quantization_config: null`...), so that a model never
 * loads with different arithmetic than it was saved with.
 */
import { ModelFormatError } from 'keel';
import { SUPPORTED_CLASSES } from './layerWeights.js';

export type JSONObject = Record<string, unknown>;

/** A layer as Keel's registry reads and writes it. */
export interface TfjsLayer {
  class_name: string;
  config: JSONObject;
}

const isObject = (v: unknown): v is JSONObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
};

export const dtypePolicy = (name = 'float32'): JSONObject => ({ module: 'keras', class_name: 'DTypePolicy', config: { name }, registered_name: null });

/** Keel's activation names that Keras 3 spells otherwise. */
const ACTIVATION_TO_KERAS: Record<string, string> = { leakyRelu: 'leaky_relu', swish: 'silu' };
const ACTIVATION_FROM_KERAS: Record<string, string> = { silu: 'swish', leaky_relu: 'leakyRelu' };

// ---- Keel (TF.js form) → Keras 3 ------------------------------------------------------------

function initializerToKeras(value: unknown): unknown {
  if (!isObject(value)) return value;
  return { module: 'keras.initializers', class_name: value.class_name, config: { ...(value.config as JSONObject) }, registered_name: null };
}

/**
 * The Keras 3 entry of one layer written by Keel's registry (`layerToJSON`), with the input shape
 * Keras records in `build_config` for layers with weights.
 */
export function layerToKeras(layer: TfjsLayer, inputShape: readonly number[], hasWeights: boolean): JSONObject {
  const { class_name: className } = layer;
  const source = layer.config;
  const config: JSONObject = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'batch_input_shape') continue;
    if (key === 'dtype') config.dtype = dtypePolicy();
    else if (key.endsWith('_initializer')) config[key] = initializerToKeras(value);
    else if (key === 'activation' && typeof value === 'string') config.activation = ACTIVATION_TO_KERAS[value] ?? value;
    else config[key] = value;
  }
  switch (className) {
    case 'BatchNormalization':
      if (source.virtual_batch_size !== undefined && source.virtual_batch_size !== null) {
        throw new ModelFormatError(
          `toKeras: layer '${String(source.name)}' is a Ghost BatchNormalization (virtualBatchSize ${show(source.virtual_batch_size)}), which Keras 3 does not have ` +
            `(it was tf.keras 2's virtual_batch_size); expected a plain or renorm BatchNormalization. Rebuild the layer without virtualBatchSize ` +
            `(at inference the two are the same), copy its weights, then export.`,
        );
      }
      config.synchronized = false;
      config.renorm = source.renorm === true;
      config.renorm_clipping = source.renorm === true ? source.renorm_clipping ?? {} : null;
      config.renorm_momentum = source.renorm === true ? source.renorm_momentum ?? 0.99 : 0.99;
      break;
    case 'Conv2D':
      config.groups = 1;
      break;
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      config.data_format = 'channels_last';
      config.keepdims = false;
      break;
    case 'Flatten':
      config.data_format = 'channels_last';
      break;
    case 'LayerNormalization':
      config.rms_scaling = false;
      break;
  }
  const entry: JSONObject = { module: 'keras.layers', class_name: className, config, registered_name: null };
  if (hasWeights) entry.build_config = { input_shape: [null, ...inputShape] };
  return entry;
}

export function inputLayerToKeras(inputShape: readonly number[], name = 'input_layer'): JSONObject {
  return {
    module: 'keras.layers', class_name: 'InputLayer',
    config: { batch_shape: [null, ...inputShape], dtype: 'float32', sparse: false, ragged: false, name, optional: false },
    registered_name: null,
  };
}

// ---- Keras 3 → Keel (TF.js form) ------------------------------------------------------------

const FIX_LAYER = 'Replace the layer in Keras by one of those (or remove it), save again, and load that file.';

/** Keras 3 keys with no Keel counterpart, and the one value each may have. */
const OFF_VALUES: Record<string, Record<string, unknown>> = {
  Dense: { quantization_config: null, lora_rank: null, lora_alpha: null },
  Conv2D: { lora_rank: null, lora_alpha: null },
  DepthwiseConv2D: { lora_rank: null, lora_alpha: null },
  LayerNormalization: { rms_scaling: false },
  GlobalAveragePooling2D: { keepdims: false },
  GlobalMaxPooling2D: { keepdims: false },
  // Differs from Keras: synchronized BN computes its statistics across devices; Keel trains on one, where both are the same.
  BatchNormalization: { synchronized: undefined },
};

function dtypeFromKeras(value: unknown, where: string): string {
  const name = isObject(value) ? (isObject(value.config) ? value.config.name : undefined) : value;
  if (value === undefined || value === null || name === 'float32') return 'float32';
  throw new ModelFormatError(
    `${where}.dtype: expected the float32 dtype policy, received ${show(name ?? value)}; Keel computes in float32. ` +
      `Set the layer's dtype policy to float32 in Keras (keras.config.set_dtype_policy("float32")) before saving.`,
  );
}

function initializerFromKeras(value: unknown, where: string): unknown {
  if (value === undefined || value === null) return value;
  if (typeof value === 'string') {
    // Hand-written configs may name an initializer: 'glorot_uniform' → GlorotUniform.
    const className = value.split('_').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
    return { class_name: className, config: {} };
  }
  if (!isObject(value)) throw new ModelFormatError(`${where}: expected an initializer {class_name, config}, received ${show(value)}.`);
  if (value.registered_name !== undefined && value.registered_name !== null && value.module !== 'keras.initializers') {
    throw new ModelFormatError(`${where}: custom initializer ${show(value.registered_name)}; Keel reads Keras's built-in initializers only.`);
  }
  return { class_name: value.class_name, config: value.config ?? {} };
}

/** One Keras 3 layer entry as Keel's registry reads it. InputLayer entries give a shape instead. */
export function layerFromKeras(entry: unknown, where: string): TfjsLayer | { inputShape: number[] } {
  if (!isObject(entry)) throw new ModelFormatError(`${where}: expected a layer {class_name, config}, received ${show(entry)}.`);
  const className = entry.class_name;
  if (typeof className !== 'string') throw new ModelFormatError(`${where}.class_name: expected a string such as 'Dense', received ${show(className)}.`);
  const module = entry.module;
  const builtIn = (module === undefined || module === null || module === 'keras.layers') && (entry.registered_name === undefined || entry.registered_name === null);
  if (!builtIn || (className !== 'InputLayer' && !(SUPPORTED_CLASSES as readonly string[]).includes(className))) {
    throw new ModelFormatError(
      `${where}: unknown layer class '${className.slice(0, 80)}'${builtIn ? '' : ` (custom: module ${show(module)}, registered_name ${show(entry.registered_name)})`}; ` +
        `expected one of the layers Keel has: ${SUPPORTED_CLASSES.join(', ')}, InputLayer. ${FIX_LAYER}`,
    );
  }
  const source = entry.config;
  if (!isObject(source)) throw new ModelFormatError(`${where}.config: expected an object, received ${show(source)}.`);
  if (className === 'InputLayer') {
    for (const key of ['sparse', 'ragged']) {
      if (source[key] === true) throw new ModelFormatError(`${where}.config.${key}: Keel's inputs are dense tensors; expected false, received true.`);
    }
    dtypeFromKeras(source.dtype, `${where}.config`);
    const shape = source.batch_shape ?? source.batch_input_shape;
    if (!Array.isArray(shape) || shape.length < 2 || shape.length > 9 || shape.slice(1).some((d) => !Number.isInteger(d) || (d as number) <= 0)) {
      throw new ModelFormatError(`${where}.config.batch_shape: expected [null, d1, ...] with positive integers d1, ..., received ${show(shape)}.`);
    }
    return { inputShape: shape.slice(1) as number[] };
  }
  const config: JSONObject = {};
  const off = OFF_VALUES[className] ?? {};
  for (const [key, value] of Object.entries(source)) {
    if (key in off) {
      if (off[key] !== undefined && value !== off[key] && !(off[key] === null && value === undefined)) {
        throw new ModelFormatError(
          `${where}.config.${key}: Keel's ${className} has no ${key}; expected ${show(off[key])}, received ${show(value)}. ` +
            `Loading it without would compute something else than Keras does. Save the model without it.`,
        );
      }
      continue;
    }
    if (key === 'dtype') config.dtype = dtypeFromKeras(value, `${where}.config`);
    else if (key.endsWith('_initializer')) config[key] = initializerFromKeras(value, `${where}.config.${key}`);
    else if (key === 'activation') {
      if (typeof value !== 'string') {
        throw new ModelFormatError(`${where}.config.activation: expected the name of a built-in activation such as 'relu', received ${show(value)} (a custom activation).`);
      }
      config.activation = ACTIVATION_FROM_KERAS[value] ?? value;
    } else config[key] = value;
  }
  if (className === 'BatchNormalization' && source.renorm !== true) {
    // Keras 3 writes the renorm keys on every BN; without renorm they mean nothing (as in Keras).
    delete config.renorm_clipping;
    delete config.renorm_momentum;
  }
  return { class_name: className, config };
}
