/**
 * Layers to and from their Keras/TF.js JSON form: `{class_name, config}` with snake_case keys,
 * exactly as TF.js 4.x writes them, through a registry keyed by class_name. Pure: no file system
 * and no file format (io puts these entries into model.json).
 *
 * Reading is two-phase so that a hostile file never allocates more than it holds: `parseLayer`
 * validates a config into a plan (no weights allocated), `planWeights` says which weights of which
 * shapes the plan needs (checked against the manifest by the caller), and only then `buildLayer`
 * constructs the layer.
 *
 * @example
 * registerLayerClass({ className: 'Scale', layerClass: Scale, writeConfig: ..., parseConfig: ...,
 *   weights: ..., outputShape: ..., create: (args) => new Scale(args) });
 */
import { KeelError, ModelFormatError, ValueError } from '../core/errors.js';
import type { Layer } from './layer.js';
import { batchShape, boolean, describe, object, parseDtype, string } from './serializationChecks.js';
import { BUILT_IN_LAYER_CLASSES, type LayerClassSerializer, type LayerPlan, type WeightShape } from './serializationClasses.js';
import { IMAGE_LAYER_CLASSES } from './serializationConv.js';
import { NORMALIZATION_LAYER_CLASSES } from './serializationNormalization.js';
import { MERGE_LAYER_CLASSES } from './serializationMerge.js';

export type { LayerClassSerializer, LayerPlan, WeightShape } from './serializationClasses.js';

/** A layer's JSON inside a model topology. */
export interface LayerJSON {
  class_name: string;
  config: Record<string, unknown>;
}

const registry = new Map<string, LayerClassSerializer>(
  [...BUILT_IN_LAYER_CLASSES, ...IMAGE_LAYER_CLASSES, ...NORMALIZATION_LAYER_CLASSES, ...MERGE_LAYER_CLASSES].map((entry) => [entry.className, entry]),
);

const ENTRY_METHODS = ['writeConfig', 'parseConfig', 'weights', 'outputShape', 'create'] as const;

/**
 * Makes layers of a class savable and loadable: `layerToJSON` writes them, `parseLayer` and
 * `buildLayer` read them back (and so do `model.save` and `loadLayersModel`). One entry per class;
 * registering a class_name twice is an error, so that a file never changes meaning silently.
 */
export function registerLayerClass<L extends Layer>(entry: LayerClassSerializer<L>): void {
  const className = (entry as { className?: unknown } | null)?.className;
  if (typeof className !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(className)) {
    throw new ValueError(`registerLayerClass: expected an entry with a className such as 'Conv2D', received ${describe(className)}.`);
  }
  if (className === 'InputLayer' || registry.has(className)) {
    throw new ValueError(
      `registerLayerClass: class '${className}' is already registered (known: ${registeredLayerClasses().join(', ')}, InputLayer); ` +
        `register each class once, under its getClassName().`,
    );
  }
  const missing: string[] = ENTRY_METHODS.filter((m) => typeof entry[m] !== 'function');
  if (typeof entry.layerClass !== 'function') missing.unshift('layerClass');
  if (missing.length) {
    throw new ValueError(`registerLayerClass: the entry for '${className}' lacks ${missing.join(', ')}; expected layerClass and the functions ${ENTRY_METHODS.join(', ')}.`);
  }
  registry.set(className, entry as unknown as LayerClassSerializer);
}

/** The class names layers can be read and written as, in registration order (InputLayer aside). */
export function registeredLayerClasses(): string[] {
  return [...registry.keys()];
}

function entryOf(className: string): LayerClassSerializer {
  const entry = registry.get(className);
  if (!entry) throw new ModelFormatError(`layer class '${className.slice(0, 80)}' is not registered; expected one of ${registeredLayerClasses().join(', ')}.`);
  return entry;
}

// ---- writing --------------------------------------------------------------------------------

/** TF.js's JSON for one layer. `inputShape` is written as batch_input_shape (the first layer's). */
export function layerToJSON(layer: Layer, inputShape?: readonly number[]): LayerJSON {
  const className = layer.getClassName();
  const entry = registry.get(className);
  if (!entry || !(layer instanceof entry.layerClass)) {
    throw new ModelFormatError(
      `save: layer '${layer.name}' of class ${className} cannot be written; expected one of ${registeredLayerClasses().join(', ')}.`,
    );
  }
  const config: Record<string, unknown> = { name: layer.name, trainable: layer.trainable };
  if (inputShape) config.batch_input_shape = [null, ...inputShape];
  config.dtype = layer.dtype;
  Object.assign(config, entry.writeConfig(layer));
  return { class_name: className, config };
}

// ---- reading --------------------------------------------------------------------------------

/** Validates one `{class_name, config}` entry. For an InputLayer, returns its shape instead of a plan. */
export function parseLayer(entry: unknown, where: string): LayerPlan | { inputLayerShape: number[] } {
  const e = object(entry, where);
  const className = string(e.class_name, `${where}.class_name`);
  const c = object(e.config, `${where}.config`);
  if (className === 'InputLayer') {
    const shape = c.batch_input_shape ?? c.batch_shape;
    return { inputLayerShape: batchShape(shape, `${where}.config.batch_input_shape`) };
  }
  const serializer = registry.get(className);
  if (!serializer) {
    throw new ModelFormatError(
      `${where}: unknown layer class '${className.slice(0, 80)}'. Keel reads ${registeredLayerClasses().join(', ')} (and InputLayer).`,
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
  const plan: LayerPlan = { className, name, args };
  const shape = c.batch_input_shape ?? c.batch_shape;
  if (shape !== undefined && shape !== null) plan.declaredInputShape = batchShape(shape, `${where}.config.batch_input_shape`);
  refuseRegularizersAndConstraints(c, where, name, className);
  Object.assign(args, serializer.parseConfig(c, (key) => `${where}.config.${key}`));
  return plan;
}

/**
 * Keel has no regularizers or constraints yet. Loading a layer that has one without it would train
 * a different model than the file describes, without a word; so the file is refused instead.
 */
function refuseRegularizersAndConstraints(c: Record<string, unknown>, where: string, name: string, className: string): void {
  for (const key of Object.keys(c)) {
    const kind = key.endsWith('_regularizer') ? 'regularizer' : key.endsWith('_constraint') ? 'constraint' : undefined;
    if (!kind || c[key] === null || c[key] === undefined) continue;
    throw new ModelFormatError(
      `${where}.config.${key}: layer '${name.slice(0, 80)}' (${className}) has a ${kind}, ${describe(c[key])}, but Keel has no ` +
        `regularizers or constraints yet, and dropping it would silently change what training does. ` +
        `Remove it from the model before saving (or set ${key} to null in model.json), then load again.`,
    );
  }
}

/** Output shape (batch excluded) of a plan, without building it. */
export function planOutputShape(plan: LayerPlan, inputShape: readonly number[]): number[] {
  return entryOf(plan.className).outputShape(plan.args, inputShape);
}

/**
 * Output shape (batch excluded) of a plan for the shapes of all its inputs (one for most layers,
 * several for merge layers), without building it. ModelFormatError for the wrong number of inputs.
 */
export function planOutputShapeMany(plan: LayerPlan, inputShapes: readonly (readonly number[])[]): number[] {
  const entry = entryOf(plan.className);
  if (entry.outputShapeMany) {
    if (inputShapes.length < 2) {
      throw new ModelFormatError(`layer '${plan.name}' (${plan.className}) merges at least 2 inputs, but its inbound node gives ${inputShapes.length}.`);
    }
    return entry.outputShapeMany(plan.args, inputShapes);
  }
  if (inputShapes.length !== 1) {
    throw new ModelFormatError(`layer '${plan.name}' (${plan.className}) takes one input, but its inbound node gives ${inputShapes.length}.`);
  }
  return entry.outputShape(plan.args, inputShapes[0]);
}

/** Whether layers of this plan's class take several inputs. */
export function planTakesManyInputs(plan: LayerPlan): boolean {
  return entryOf(plan.className).outputShapeMany !== undefined;
}

/** The weights (short name and shape) a plan will create for inputs of this shape. */
export function planWeights(plan: LayerPlan, inputShape: readonly number[]): WeightShape[] {
  return entryOf(plan.className).weights(plan.args, inputShape);
}

/** Constructs the layer of a validated plan (the first layer gets `inputShape`). */
export function buildLayer(plan: LayerPlan, inputShape?: readonly number[]): Layer {
  const serializer = entryOf(plan.className);
  const args = { ...plan.args } as Record<string, unknown>;
  if (inputShape) args.inputShape = [...inputShape];
  try {
    return serializer.create(args);
  } catch (e) {
    // The layer's own message says what is wrong with the value; add where it came from.
    if (e instanceof KeelError) throw new ModelFormatError(`layer '${plan.name}' (${plan.className}): ${e.message}`);
    throw e;
  }
}

/**
 * A layer (not built: no weights yet) from its JSON, as `Layer.fromConfig` in Keras. Its input shape
 * is the config's batch_input_shape, if any.
 */
export function layerFromJSON(json: unknown, where = 'layer'): Layer {
  const parsed = parseLayer(json, where);
  if ('inputLayerShape' in parsed) throw new ModelFormatError(`${where}: an InputLayer is not a layer Keel builds; it gives the model's input shape.`);
  return buildLayer(parsed, parsed.declaredInputShape);
}
