/**
 * The graph of a model: which layer reads which tensors, in an order that computes every tensor
 * before it is read. A Sequential is the graph of one path; a functional model's graph comes from
 * the symbolic tensors of `keel.input` and `layer.apply`.
 *
 * Tensors are numbered; each node is one layer applied once (Keel has no shared layers, see
 * Layer.apply), reading tensors `inputs` and writing tensor `output`.
 *
 * The order of `layers` is TF.js's (tfjs-layers Container): layers by decreasing depth, the depth
 * of a layer being its longest path to an output; layers of equal depth in the order a depth-first
 * walk from the outputs (inputs in order) first reaches them. getWeights and the saved weights
 * follow it, so that TF.js and Keel list a model's weights alike.
 */
import { ValueError } from '../core/errors.js';
import type { Layer, SymbolicTensor } from '../layers/layer.js';
import { InputLayer } from './inputLayer.js';

export interface GraphNode {
  layer: Layer;
  /** Ids of the tensors the layer reads, in order. */
  inputs: number[];
  /** Id of the tensor it writes. */
  output: number;
}

export interface Graph {
  /** The functional model's input layers, in the order of its `inputs`; empty for a Sequential. */
  inputLayers: InputLayer[];
  /** Tensor ids of the model's inputs. */
  inputs: number[];
  /** The layers that compute, in an order where each runs after those it reads (no InputLayer). */
  nodes: GraphNode[];
  /** Tensor ids of the model's outputs. */
  outputs: number[];
  /** Shape (batch excluded) of each tensor. */
  shapes: number[][];
  /** How many times each tensor is read: as a layer input (once per slot) or as a model output. */
  uses: number[];
  /** TF.js's `model.layers` order (see the top of this file). */
  layers: Layer[];
}

/** The graph of layers applied one after the other to an input of `inputShape`. */
export function chainGraph(layers: readonly Layer[], inputShape: readonly number[]): Graph {
  const shapes: number[][] = [[...inputShape]];
  const nodes = layers.map((layer, i) => {
    shapes.push(layer.computeOutputShape(shapes[i]));
    return { layer, inputs: [i], output: i + 1 };
  });
  return {
    inputLayers: [], inputs: [0], nodes, outputs: [layers.length], shapes,
    uses: shapes.map(() => 1), layers: [...layers],
  };
}

/**
 * The graph from `inputs` to `outputs`. Throws when an output needs an input that is not among
 * `inputs`, when an input is not used, or when a tensor is given twice.
 */
export function symbolicGraph(where: string, inputs: readonly SymbolicTensor[], outputs: readonly SymbolicTensor[]): Graph {
  const inputLayers = inputs.map((t, i) => {
    if (!(t.sourceLayer instanceof InputLayer)) {
      throw new ValueError(
        `${where}: inputs[${i}] ('${t.name}') is the output of a ${t.sourceLayer.getClassName()} layer, not of keel.input; ` +
          `a model's inputs must come from keel.input({shape}).`,
      );
    }
    return t.sourceLayer;
  });
  if (new Set(inputLayers).size !== inputLayers.length) throw new ValueError(`${where}: an input is given twice in inputs.`);
  if (new Set(outputs).size !== outputs.length) throw new ValueError(`${where}: an output is given twice in outputs.`);

  // Depth-first from the outputs: first-visit order (TF.js's layer indices) and post-order.
  const firstSeen = new Map<SymbolicTensor, number>();
  const postOrder: SymbolicTensor[] = [];
  const done = new Set<SymbolicTensor>();
  const inProgress = new Set<SymbolicTensor>();
  const visit = (t: SymbolicTensor, path: string[]): void => {
    if (done.has(t) || inProgress.has(t)) return; // symbolic graphs have no cycles: in progress cannot recur
    if (!firstSeen.has(t)) firstSeen.set(t, firstSeen.size);
    if (t.sourceLayer instanceof InputLayer && !inputLayers.includes(t.sourceLayer)) {
      throw new ValueError(
        `${where}: the graph is disconnected: output '${path[0]}' needs input '${t.name}' (through ${path.join(' ← ')}), ` +
          `which is not among inputs [${inputLayers.map((l) => `'${l.name}'`).join(', ')}]; add it to inputs.`,
      );
    }
    inProgress.add(t);
    for (const x of t.inputs) visit(x, [...path, x.name]);
    inProgress.delete(t);
    done.add(t);
    postOrder.push(t);
  };
  for (const out of outputs) visit(out, [out.name]);
  const unused = inputLayers.filter((l) => !firstSeen.has(l.output));
  if (unused.length) {
    throw new ValueError(
      `${where}: input${unused.length > 1 ? 's' : ''} ${unused.map((l) => `'${l.name}'`).join(', ')} lead${unused.length > 1 ? '' : 's'} to no output; ` +
        `remove ${unused.length > 1 ? 'them' : 'it'} from inputs or connect ${unused.length > 1 ? 'them' : 'it'} to an output.`,
    );
  }

  // Depth: the longest path to an output, computed consumers first (reverse post-order).
  const depth = new Map<SymbolicTensor, number>();
  for (const t of [...postOrder].reverse()) {
    const d = depth.get(t) ?? 0;
    depth.set(t, d);
    for (const x of t.inputs) depth.set(x, Math.max(d + 1, depth.get(x) ?? 0));
  }
  const ordered = [...postOrder].sort((a, b) => depth.get(b)! - depth.get(a)! || firstSeen.get(a)! - firstSeen.get(b)!);

  const ids = new Map<SymbolicTensor, number>();
  const shapes: number[][] = [];
  for (const t of ordered) {
    ids.set(t, shapes.length);
    shapes.push([...t.shape]);
  }
  const uses = shapes.map(() => 0);
  const nodes: GraphNode[] = [];
  for (const t of ordered) {
    if (t.sourceLayer instanceof InputLayer) continue;
    const node = { layer: t.sourceLayer, inputs: t.inputs.map((x) => ids.get(x)!), output: ids.get(t)! };
    for (const i of node.inputs) uses[i]++;
    nodes.push(node);
  }
  for (const o of outputs) uses[ids.get(o)!]++;
  return {
    inputLayers, inputs: inputLayers.map((l) => ids.get(l.output)!), nodes, outputs: outputs.map((o) => ids.get(o)!),
    shapes, uses, layers: ordered.map((t) => t.sourceLayer),
  };
}
