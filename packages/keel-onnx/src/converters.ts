/**
 * Which Keel layer class becomes which ONNX nodes. A layer is exported only if its class is exactly
 * one of these: a subclass (or a class a user registered) may compute something else, and is
 * refused rather than written as its parent.
 */
import * as keel from 'keel';
import type { LayerConverter } from './layers/context.js';
import { denseConverter } from './layers/dense.js';
import { activationConverter, dropoutConverter, flattenConverter, reshapeConverter } from './layers/simple.js';
import {
  averagePooling2dConverter, conv2dConverter, depthwiseConv2dConverter, globalAveragePooling2dConverter,
  globalMaxPooling2dConverter, maxPooling2dConverter,
} from './layers/conv.js';
import { batchNormalizationConverter, groupNormalizationConverter, layerNormalizationConverter } from './layers/normalization.js';
import { addConverter, averageConverter, concatenateConverter, multiplyConverter } from './layers/merge.js';

type LayerClass = abstract new (...args: never[]) => keel.layers.Layer;

/** Class name (as written in messages; bundlers may rename classes), class, converter. */
const CONVERTERS: [string, LayerClass, LayerConverter<never>][] = [
  ['Dense', keel.layers.Dense, denseConverter],
  ['BatchNormalization', keel.layers.BatchNormalization, batchNormalizationConverter],
  ['LayerNormalization', keel.layers.LayerNormalization, layerNormalizationConverter],
  ['GroupNormalization', keel.layers.GroupNormalization, groupNormalizationConverter],
  ['Activation', keel.layers.Activation, activationConverter],
  ['Dropout', keel.layers.Dropout, dropoutConverter],
  ['Flatten', keel.layers.Flatten, flattenConverter],
  ['Reshape', keel.layers.Reshape, reshapeConverter],
  ['Conv2D', keel.layers.Conv2D, conv2dConverter],
  ['DepthwiseConv2D', keel.layers.DepthwiseConv2D, depthwiseConv2dConverter],
  ['MaxPooling2D', keel.layers.MaxPooling2D, maxPooling2dConverter],
  ['AveragePooling2D', keel.layers.AveragePooling2D, averagePooling2dConverter],
  ['GlobalMaxPooling2D', keel.layers.GlobalMaxPooling2D, globalMaxPooling2dConverter],
  ['GlobalAveragePooling2D', keel.layers.GlobalAveragePooling2D, globalAveragePooling2dConverter],
  ['Add', keel.layers.Add, addConverter],
  ['Multiply', keel.layers.Multiply, multiplyConverter],
  ['Average', keel.layers.Average, averageConverter],
  ['Concatenate', keel.layers.Concatenate, concatenateConverter],
];

/** The class names the exporter knows, for messages. */
export function exportedClassNames(): string[] {
  return CONVERTERS.map(([name]) => name);
}

/** The converter of `layer`'s exact class, or undefined. */
export function converterFor(layer: keel.layers.Layer): LayerConverter | undefined {
  const cls = Object.getPrototypeOf(layer)?.constructor;
  return CONVERTERS.find(([, c]) => c === cls)?.[2] as LayerConverter | undefined;
}

/** The nearest known class `layer` derives from, for the message about a subclass. */
export function knownAncestor(layer: keel.layers.Layer): string | undefined {
  for (const [name, c] of CONVERTERS) if (layer instanceof c) return name;
  return undefined;
}
