/** What a layer converter gets and gives: the contract between the exporter and each layer's file. */
import type * as keel from 'keel';
import type { GraphBuilder, Layout, TensorValue } from '../builder.js';

export interface LayerContext<L extends keel.layers.Layer = keel.layers.Layer> {
  builder: GraphBuilder;
  layer: L;
  /** The layer's inputs (one, except for merge layers). */
  inputs: TensorValue[];
  /** The layer's output shape per example, as Keel computes it (channels last). */
  outputShape: number[];
}

export interface LayerConverter<L extends keel.layers.Layer = keel.layers.Layer> {
  /** Why this layer cannot be written at `opset`, in words that say what to do; null when it can. */
  refuse?(layer: L, opset: number): string | null;
  /** Adds the layer's nodes; returns its output. */
  emit(ctx: LayerContext<L>): TensorValue;
}

/** The values of the layer's weight `shortName` ('kernel', 'moving_mean'...), or null if it has none. */
export function weightValues(layer: keel.layers.Layer, shortName: string): Float32Array | Float64Array | null {
  const variable = layer.weights.find((v) => v.shortName === shortName);
  return variable ? (variable.read().dataSync() as Float32Array | Float64Array) : null;
}

/** The layout a value already exists in, channels-last when it has both. */
export function existingLayout(value: TensorValue): Layout {
  return value.names.channelsLast ? 'channelsLast' : 'channelsFirst';
}

/** A hint for the names of a layer's nodes and weights. */
export function hint(layer: keel.layers.Layer, what: string): string {
  return `${layer.name}/${what}`;
}
