/** Layer factories, named as in TF.js (`keel.layers.dense({...})`). */
import { Dense, type DenseLayerArgs } from './dense.js';
import { BatchNormalization, type BatchNormalizationLayerArgs } from './batchNormalization.js';
import { Activation, Dropout, Flatten, type ActivationLayerArgs, type DropoutLayerArgs } from './simple.js';
import type { LayerArgs } from './layer.js';
import { Conv2D, type Conv2DLayerArgs } from './conv2d.js';
import { DepthwiseConv2D, type DepthwiseConv2DLayerArgs } from './depthwiseConv2d.js';
import {
  AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D,
  type GlobalPooling2DLayerArgs, type Pooling2DLayerArgs,
} from './pooling.js';
import { Reshape, type ReshapeLayerArgs } from './reshape.js';
import { LayerNormalization, type LayerNormalizationLayerArgs } from './layerNormalization.js';
import { GroupNormalization, type GroupNormalizationLayerArgs } from './groupNormalization.js';
import { Add, Average, Concatenate, Merge, Multiply, type ConcatenateLayerArgs } from './merge.js';

export const add = (args?: LayerArgs): Add => new Add(args);
export const multiply = (args?: LayerArgs): Multiply => new Multiply(args);
export const average = (args?: LayerArgs): Average => new Average(args);
export const concatenate = (args?: ConcatenateLayerArgs): Concatenate => new Concatenate(args);
export const dense = (args: DenseLayerArgs): Dense => new Dense(args);
export const batchNormalization = (args?: BatchNormalizationLayerArgs): BatchNormalization => new BatchNormalization(args);
export const flatten = (args?: LayerArgs): Flatten => new Flatten(args);
export const activation = (args: ActivationLayerArgs): Activation => new Activation(args);
export const dropout = (args: DropoutLayerArgs): Dropout => new Dropout(args);
export const conv2d = (args: Conv2DLayerArgs): Conv2D => new Conv2D(args);
export const depthwiseConv2d = (args: DepthwiseConv2DLayerArgs): DepthwiseConv2D => new DepthwiseConv2D(args);
export const maxPooling2d = (args?: Pooling2DLayerArgs): MaxPooling2D => new MaxPooling2D(args);
export const averagePooling2d = (args?: Pooling2DLayerArgs): AveragePooling2D => new AveragePooling2D(args);
export const globalAveragePooling2d = (args?: GlobalPooling2DLayerArgs): GlobalAveragePooling2D => new GlobalAveragePooling2D(args);
export const globalMaxPooling2d = (args?: GlobalPooling2DLayerArgs): GlobalMaxPooling2D => new GlobalMaxPooling2D(args);
export const reshape = (args: ReshapeLayerArgs): Reshape => new Reshape(args);
export const layerNormalization = (args?: LayerNormalizationLayerArgs): LayerNormalization => new LayerNormalization(args);
export const groupNormalization = (args?: GroupNormalizationLayerArgs): GroupNormalization => new GroupNormalization(args);

export { Layer, type LayerArgs } from './layer.js';
export { LayerVariable } from './variable.js';
export { Dense, BatchNormalization, Activation, Dropout, Flatten };
export type { RenormClipping } from './batchNormalization.js';
export type { DenseLayerArgs, BatchNormalizationLayerArgs, ActivationLayerArgs, DropoutLayerArgs };
export { Conv2D, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Reshape };
export type { Conv2DLayerArgs, DepthwiseConv2DLayerArgs, Pooling2DLayerArgs, GlobalPooling2DLayerArgs, ReshapeLayerArgs };
export { LayerNormalization, GroupNormalization };
export { Add, Average, Concatenate, Merge, Multiply, type ConcatenateLayerArgs };
export type { LayerNormalizationLayerArgs, GroupNormalizationLayerArgs };
export {
  registerLayerClass, registeredLayerClasses, layerToJSON, layerFromJSON,
  type LayerClassSerializer, type LayerJSON, type LayerPlan, type WeightShape,
} from './serialization.js';
