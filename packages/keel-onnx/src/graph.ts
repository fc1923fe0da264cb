/**
 * A Keel model as the graph the exporter walks: layer calls over numbered tensors, from Keel's own
 * graph of the model (`getGraph`: a Sequential is the graph of one path, a functional model's comes
 * from keel.input and layer.apply).
 */
import * as keel from 'keel';
import { OnnxExportError } from './errors.js';

export interface GraphNode {
  layer: keel.layers.Layer;
  /** The tensors it reads, by number, in order. */
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
  if (!(model instanceof keel.LayersModel)) {
    throw new OnnxExportError(
      `toOnnx: expected a Keel model (keel.sequential(...), keel.model(...) or keel.loadLayersModel(...)), received ${describe(model)}.`,
    );
  }
  if (model.layers.length === 0) {
    throw new OnnxExportError(`toOnnx: model '${model.name}' has no layers; add layers (the first with an inputShape) before exporting.`);
  }
  const graph = model.getGraph();
  // A Sequential's input is named 'input'; a functional model's inputs keep their keel.input names.
  const inputNames = graph.inputLayers.length ? graph.inputLayers.map((l) => l.name) : ['input'];
  return {
    inputs: graph.inputs.map((id, i) => ({ id, name: inputNames[i], shape: [...graph.shapes[id]] })),
    nodes: graph.nodes.map((n) => ({ layer: n.layer, inputs: [...n.inputs], output: n.output, outputShape: [...graph.shapes[n.output]] })),
    outputs: graph.outputs.map((id, i) => ({ id, name: graph.outputs.length === 1 ? 'output' : `output_${i}`, shape: [...graph.shapes[id]] })),
  };
}
