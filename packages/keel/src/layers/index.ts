/** Layer factories, named as in TF.js (`keel.layers.dense({...})`). */
import { Dense, type DenseLayerArgs } from './dense.js';
import { BatchNormalization, type BatchNormalizationLayerArgs } from './batchNormalization.js';
import { Activation, Dropout, Flatten, type ActivationLayerArgs, type DropoutLayerArgs } from './simple.js';
import type { LayerArgs } from './layer.js';

export const dense = (args: DenseLayerArgs): Dense => new Dense(args);
export const batchNormalization = (args?: BatchNormalizationLayerArgs): BatchNormalization => new BatchNormalization(args);
export const flatten = (args?: LayerArgs): Flatten => new Flatten(args);
export const activation = (args: ActivationLayerArgs): Activation => new Activation(args);
export const dropout = (args: DropoutLayerArgs): Dropout => new Dropout(args);

export { Layer, type LayerArgs } from './layer.js';
export { LayerVariable } from './variable.js';
export { Dense, BatchNormalization, Activation, Dropout, Flatten };
export type { DenseLayerArgs, BatchNormalizationLayerArgs, ActivationLayerArgs, DropoutLayerArgs };
export {
  registerLayerClass, registeredLayerClasses, layerToJSON, layerFromJSON,
  type LayerClassSerializer, type LayerJSON, type LayerPlan, type WeightShape,
} from './serialization.js';
