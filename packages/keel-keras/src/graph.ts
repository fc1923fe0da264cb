/**
 * A model as both directions of the conversion see it: a list of layers in file order, each with
 * the names of the layers whose outputs it reads (none for an input, the previous layer in a
 * Sequential), and the shapes that flow along, computed from the configs alone through unbuilt
 * Keel layers (nothing the size of a weight is allocated).
 */
import * as keel from 'keel';
import { ModelFormatError } from 'keel';
import type { TfjsLayer } from './config.js';

export interface GraphLayer {
  name: string;
  className: string;
  /** The Keel (TF.js-form) entry; absent for an input. */
  layer?: TfjsLayer;
  /** Names of the layers read, in order (node 0, tensor 0 of each: Keel has no shared layers). */
  inbound: string[];
  /** For an input: the example's shape (batch excluded). */
  inputShape?: number[];
}

export interface Shapes {
  /** Per layer name: the shapes it reads, and the shape it gives. */
  inputs: Map<string, number[][]>;
  outputs: Map<string, number[]>;
}

/** The shapes of every layer, in an order where each layer comes after those it reads. */
export function propagateShapes(layers: readonly GraphLayer[], where: (layer: GraphLayer) => string): Shapes {
  const inputs = new Map<string, number[][]>();
  const outputs = new Map<string, number[]>();
  const byName = new Map(layers.map((l) => [l.name, l]));
  let pending = [...layers];
  // Each pass settles at least one layer, or the graph has a cycle or a dangling name.
  while (pending.length > 0) {
    const next: GraphLayer[] = [];
    for (const layer of pending) {
      if (layer.inputShape) {
        outputs.set(layer.name, layer.inputShape);
        continue;
      }
      if (!layer.inbound.every((n) => outputs.has(n))) {
        next.push(layer);
        continue;
      }
      const shapes = layer.inbound.map((n) => outputs.get(n)!);
      inputs.set(layer.name, shapes);
      outputs.set(layer.name, outputShape(layer, shapes, where(layer)));
    }
    if (next.length === pending.length) {
      const stuck = next[0];
      const missing = stuck.inbound.find((n) => !byName.has(n));
      throw new ModelFormatError(
        missing !== undefined
          ? `${where(stuck)}: reads the output of '${missing.slice(0, 80)}', which is no layer of the model.`
          : `${where(stuck)}: its inputs depend on its own output (a cycle); a model is a graph without cycles.`,
      );
    }
    pending = next;
  }
  return { inputs, outputs };
}

const show = (shapes: number[][]) => shapes.map((s) => `[null, ${s.join(', ')}]`).join(', ');

/**
 * The output shape of a merge layer (Keras's rules, which Keel's are): Add, Multiply and Average
 * need equal shapes; Concatenate sums its axis and needs the others equal.
 */
function mergeShape(layer: GraphLayer, shapes: number[][], where: string): number[] {
  const first = shapes[0];
  if (layer.className !== 'Concatenate') {
    if (shapes.some((s) => s.length !== first.length || s.some((d, i) => d !== first[i]))) {
      throw new ModelFormatError(`${where}: expected inputs of one shape, received ${show(shapes)}.`);
    }
    return [...first];
  }
  const axisArg = (layer.layer!.config.axis as number | undefined) ?? -1;
  const axis = axisArg < 0 ? first.length + axisArg : axisArg - 1;
  const joinable = Number.isInteger(axis) && axis >= 0 && axis < first.length &&
    shapes.every((s) => s.length === first.length && s.every((d, i) => i === axis || d === first[i]));
  if (!joinable) throw new ModelFormatError(`${where}: expected inputs equal on every axis but ${axisArg}, received ${show(shapes)}.`);
  const out = [...first];
  out[axis] = shapes.reduce((n, s) => n + s[axis], 0);
  return out;
}

const MERGE_CLASSES = new Set(['Add', 'Multiply', 'Average', 'Concatenate']);

function outputShape(layer: GraphLayer, shapes: number[][], where: string): number[] {
  const merge = MERGE_CLASSES.has(layer.className);
  if (merge !== shapes.length > 1) {
    throw new ModelFormatError(
      merge ? `${where}: a merge layer needs 2 or more inputs, received ${shapes.length}.` : `${where}: expected one input, received ${shapes.length}.`,
    );
  }
  try {
    // Built through Keel's registry, unbuilt: its config is checked, and nothing the size of a weight is allocated.
    const built = keel.layers.layerFromJSON(layer.layer!, where);
    return merge ? mergeShape(layer, shapes, where) : built.computeOutputShape(shapes[0]);
  } catch (e) {
    if (e instanceof keel.KeelError && !(e instanceof ModelFormatError)) throw new ModelFormatError(`${where}: ${e.message}`);
    throw e;
  }
}
