/**
 * Running a model's graph: the forward in graph order, and the backward in reverse, where the
 * gradients of a tensor read in several places add up (dL/dt = Σ over its reads).
 */
import type { DType, Tensor } from '../core/tensor.js';
import type { Graph } from './graph.js';
import { backendFor } from '../backend/backend.js';

/** The outputs of the graph for inputs `xs` (in the graph's input order). */
export function forwardGraph(graph: Graph, xs: readonly Tensor[], training: boolean): Tensor[] {
  const values: Tensor[] = new Array(graph.shapes.length);
  graph.inputs.forEach((id, i) => (values[id] = xs[i]));
  for (const node of graph.nodes) {
    values[node.output] = node.layer.forwardMany(node.inputs.map((id) => values[id]), training);
  }
  return graph.outputs.map((id) => values[id]);
}

/**
 * The inputs of `layer` for inputs `xs`, in inference mode, computing only the layers it depends
 * on. For measurements of what a layer sees (population statistics).
 */
export function inputsOfLayer(graph: Graph, layer: object, xs: readonly Tensor[]): Tensor[] {
  const at = graph.nodes.findIndex((n) => n.layer === layer);
  const needed = new Set<number>(graph.nodes[at].inputs);
  for (let k = at - 1; k >= 0; k--) {
    const node = graph.nodes[k];
    if (needed.has(node.output)) for (const i of node.inputs) needed.add(i);
  }
  const values: Tensor[] = new Array(graph.shapes.length);
  graph.inputs.forEach((id, i) => (values[id] = xs[i]));
  for (let k = 0; k < at; k++) {
    const node = graph.nodes[k];
    if (needed.has(node.output)) values[node.output] = node.layer.forwardMany(node.inputs.map((id) => values[id]), false);
  }
  return graph.nodes[at].inputs.map((id) => values[id]);
}

export type BufferFor = (key: string, shape: readonly number[], dtype: DType) => Tensor;

/**
 * Backward from dL/d(output) `dOutput` of the graph's one output, after a training forward,
 * leaving dL/dw in each trainable parameter's `grad`. With `fusedOutput`, `dOutput` is dL/d(the
 * output layer's pre-activation) instead (the loss fused the activation into it), and goes to
 * that layer's `backwardFromPreActivation`.
 *
 * Only what needs a gradient gets one: a tensor needs one when a layer that computes it, or one
 * upstream of it, has trainable weights. Layers with no such input and no weights of their own
 * are skipped (a Reshape in front, frozen layers).
 */
export function backwardGraph(
  graph: Graph, dOutput: Tensor, fusedOutput: boolean, buffer: BufferFor,
): void {
  const needs: boolean[] = graph.shapes.map(() => false);
  for (const node of graph.nodes) {
    needs[node.output] = node.layer.trainableWeights.length > 0 || node.inputs.some((i) => needs[i]);
  }
  const grads: (Tensor | null)[] = graph.shapes.map(() => null);
  const received = graph.shapes.map(() => 0);
  // A tensor read once takes its one gradient as it is (no copy on a path); a tensor read several
  // times sums them in a buffer of its own, so that no layer's buffer is written by another: the
  // first gradient is kept as it is (its layer does not write it again this step), the second
  // adds to it into the sum's buffer, later ones add in place.
  const accumulate = (id: number, g: Tensor): void => {
    const uses = graph.uses[id];
    const seen = received[id]++;
    if (uses === 1 || seen === 0) {
      grads[id] = g;
      return;
    }
    const first = grads[id]!;
    const sum = seen === 1 ? buffer(`grad${id}`, g.shape, g.dtype) : first;
    backendFor(g.dtype).add(first.values, g.values, sum.values, g.size);
    grads[id] = sum;
  };
  const outputId = graph.outputs[0];
  if (!fusedOutput) accumulate(outputId, dOutput);
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k];
    const needIn = node.inputs.map((i) => needs[i]);
    if (node.layer.trainableWeights.length === 0 && !needIn.some((n) => n)) continue;
    let dxs: (Tensor | null)[];
    if (fusedOutput && node.output === outputId) {
      const fused = node.layer as unknown as { backwardFromPreActivation(d: Tensor, need: boolean): Tensor | null };
      dxs = [fused.backwardFromPreActivation(dOutput, needIn[0])];
    } else {
      const dy = grads[node.output];
      if (!dy) continue; // no path from here to the loss
      dxs = node.layer.backwardMany(dy, needIn);
    }
    dxs.forEach((dx, i) => {
      if (dx && needIn[i]) accumulate(node.inputs[i], dx);
    });
  }
}
