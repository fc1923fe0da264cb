/**
 * A Keel model as a graph of layer calls over numbered tensors, the form the exporter walks. A
 * Sequential is the graph with one path: tensor 0 is the input, layer i reads tensor i and makes
 * tensor i + 1.
 */
import * as keel from 'keel';
import { OnnxExportError } from './errors.js';

export interface GraphNode {
  layer: keel.layers.Layer;
  /** The tensors it reads, by number. */
  inputs: number[];
  /** The tensor it makes. */
  output: number;
  outputShape: number[];
}

export interface ModelGraph {
  inputs: { id: number; name: string; shape: number[] }[];
  /** In an order where every node comes after the nodes making its inputs. */
  nodes: GraphNode[];
  outputs: { id: number; name: string; shape: number[] }[];
}

/** A short description of what was passed instead of a model. */
function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return value === undefined ? 'undefined' : `a ${value === null ? 'null' : typeof value}`;
  return `an object of class ${value.constructor?.name ?? 'Object'}`;
}

/** The graph of `model`; throws OnnxExportError for anything that is not a Keel model with layers. */
export function graphOf(model: unknown): ModelGraph {
  if (!(model instanceof keel.Sequential)) {
    throw new OnnxExportError(
      `toOnnx: expected a Keel model (keel.sequential(...) or keel.loadLayersModel(...)), received ${describe(model)}.`,
    );
  }
  const layers = model.layers;
  if (layers.length === 0) {
    throw new OnnxExportError(`toOnnx: model '${model.name}' has no layers; add layers (the first with an inputShape) before exporting.`);
  }
  const nodes: GraphNode[] = [];
  let shape = model.inputShape;
  layers.forEach((layer, i) => {
    shape = layer.computeOutputShape(shape);
    nodes.push({ layer, inputs: [i], output: i + 1, outputShape: shape });
  });
  return {
    inputs: [{ id: 0, name: 'input', shape: model.inputShape }],
    nodes,
    outputs: [{ id: layers.length, name: 'output', shape: model.outputShape }],
  };
}
