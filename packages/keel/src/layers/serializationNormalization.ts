/**
 * Registry entries of the per-sample normalization layers, with the config keys their origin
 * writes: LayerNormalization as TF.js 4.22 (which reads Keel's files and writes files Keel reads),
 * GroupNormalization as Keras 3 (groups, axis, epsilon, center, scale, beta_initializer...). TF.js
 * has no GroupNormalization: a file with one round-trips through Keel, but TF.js cannot load it.
 * The weights a file must hold come from the layers' own shape checks, which allocate nothing, so
 * a file and the layer can never disagree about them.
 */
import { KeelError, ModelFormatError } from '../core/errors.js';
import * as init from '../initializers/index.js';
import { LayerNormalization, checkLayerNormAxis, layerNormParamShape } from './layerNormalization.js';
import { GroupNormalization, checkGroups, groupNormGeometry } from './groupNormalization.js';
import type { PerExampleNormalization } from './perExampleNormalization.js';
import type { LayerClassSerializer, WeightShape } from './serializationClasses.js';
import { boolean, describe, integer, number } from './serializationChecks.js';
import { initializerFromJSON, initializerToJSON } from './serializationInitializers.js';

/** `fn()`, its KeelErrors (a bad value for this input) rethrown as ModelFormatError, after `where` if given. */
function asFormatError<T>(where: string | null, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof KeelError && !(e instanceof ModelFormatError)) throw new ModelFormatError(where ? `${where}: ${e.message}` : e.message);
    throw e;
  }
}

/** How the layer's own checks name it in a file's messages. */
const named = (className: string, args: Readonly<Record<string, unknown>>) =>
  typeof args.name === 'string' ? `${className} '${args.name.slice(0, 80)}'` : className;

/** γ then β, as both layers build them (and TF.js and Keras list them). */
function affineWeights(args: Readonly<Record<string, unknown>>, shape: number[]): WeightShape[] {
  const weights: WeightShape[] = [];
  if (args.scale !== false) weights.push({ name: 'gamma', shape });
  if (args.center !== false) weights.push({ name: 'beta', shape: [...shape] });
  return weights;
}

/** Keys both layers share: epsilon, center, scale and the two initializers. */
function affineConfig(c: Readonly<Record<string, unknown>>, at: (key: string) => string, args: Record<string, unknown>): Record<string, unknown> {
  if (c.epsilon !== undefined) {
    const epsilon = number(c.epsilon, at('epsilon'));
    if (!(epsilon > 0)) throw new ModelFormatError(`${at('epsilon')}: expected a number > 0, received ${describe(c.epsilon)}.`);
    args.epsilon = epsilon;
  }
  if (c.center !== undefined) args.center = boolean(c.center, at('center'));
  if (c.scale !== undefined) args.scale = boolean(c.scale, at('scale'));
  args.betaInitializer = initializerFromJSON(c.beta_initializer, at('beta_initializer'), init.zeros());
  args.gammaInitializer = initializerFromJSON(c.gamma_initializer, at('gamma_initializer'), init.ones());
  return args;
}

const initializerJSON = (i: init.Initializer) => initializerToJSON({ class_name: i.getClassName(), config: i.getConfig() });

/** The shared keys as both layers write them, after their own: epsilon, center, scale, the initializers, no regularizers. */
const affineJSON = (layer: PerExampleNormalization): Record<string, unknown> => ({
  epsilon: layer.epsilon, center: layer.center, scale: layer.scale,
  beta_initializer: initializerJSON(layer.betaInitializer),
  gamma_initializer: initializerJSON(layer.gammaInitializer),
  beta_regularizer: null, gamma_regularizer: null,
});

const layerNormalization: LayerClassSerializer<LayerNormalization> = {
  className: 'LayerNormalization',
  layerClass: LayerNormalization,
  writeConfig: (layer) => ({ axis: Array.isArray(layer.axis) ? [...layer.axis] : layer.axis, ...affineJSON(layer) }),
  parseConfig(c, at) {
    const raw = c.axis ?? -1;
    let axis: number | number[];
    if (Array.isArray(raw)) {
      if (raw.length === 0 || raw.length > 8) throw new ModelFormatError(`${at('axis')}: expected 1 to 8 axes, received ${describe(raw)}.`);
      axis = raw.map((a, i) => integer(a, `${at('axis')}[${i}]`));
    } else {
      axis = integer(raw, at('axis'));
    }
    asFormatError(at('axis'), () => checkLayerNormAxis(axis, 'LayerNormalization'));
    return affineConfig(c, at, { axis });
  },
  weights(args, inputShape) {
    const shape = asFormatError(null, () =>
      layerNormParamShape(args.axis as number | number[], inputShape, named('LayerNormalization', args)));
    return affineWeights(args, shape);
  },
  outputShape: (_args, inputShape) => [...inputShape],
  create: (args) => new LayerNormalization(args as never),
};

const groupNormalization: LayerClassSerializer<GroupNormalization> = {
  className: 'GroupNormalization',
  layerClass: GroupNormalization,
  writeConfig: (layer) => ({ groups: layer.groups, axis: layer.axis, ...affineJSON(layer), beta_constraint: null, gamma_constraint: null }),
  parseConfig(c, at) {
    const groups = integer(c.groups ?? 32, at('groups'));
    asFormatError(at('groups'), () => checkGroups(groups, 'GroupNormalization'));
    let axis = c.axis ?? -1;
    if (Array.isArray(axis) && axis.length === 1) axis = axis[0];
    return affineConfig(c, at, { groups, axis: integer(axis, at('axis')) });
  },
  weights(args, inputShape) {
    const { channels } = asFormatError(null, () =>
      groupNormGeometry(args.groups as number, args.axis as number, inputShape, named('GroupNormalization', args)));
    return affineWeights(args, [channels]);
  },
  outputShape: (_args, inputShape) => [...inputShape],
  create: (args) => new GroupNormalization(args as never),
};

export const NORMALIZATION_LAYER_CLASSES: readonly LayerClassSerializer[] = [layerNormalization, groupNormalization] as LayerClassSerializer[];
