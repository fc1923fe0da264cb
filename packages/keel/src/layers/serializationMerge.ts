/**
 * Registry entries of the merge layers (Add, Multiply, Average, Concatenate), as TF.js writes
 * them: no keys of their own but Concatenate's `axis`. Their output shape depends on all inputs
 * (`outputShapeMany`); shapes that cannot merge are a ModelFormatError, checked before any layer
 * is built.
 */
import { ModelFormatError } from '../core/errors.js';
import { Add, Average, Concatenate, Multiply, type Merge } from './merge.js';
import { integer } from './serializationChecks.js';
import type { LayerClassSerializer, WeightShape } from './serializationClasses.js';

const formatShapes = (shapes: readonly (readonly number[])[]) => shapes.map((s) => `[null,${s.join(',')}]`).join(', ');

function elementwise<L extends Merge>(className: string, layerClass: abstract new (...args: never[]) => L, create: (args: Record<string, unknown>) => L): LayerClassSerializer<L> {
  return {
    className,
    layerClass,
    writeConfig: () => ({}),
    parseConfig: () => ({}),
    weights: (): WeightShape[] => [],
    outputShape: () => {
      throw new ModelFormatError(`a ${className} layer merges at least 2 inputs; it cannot follow a single layer.`);
    },
    outputShapeMany: (_args, shapes) => {
      const first = shapes[0];
      if (shapes.some((s) => s.length !== first.length || s.some((d, i) => d !== first[i]))) {
        throw new ModelFormatError(`a ${className} layer needs inputs of one shape, but the file gives it ${formatShapes(shapes)}.`);
      }
      return [...first];
    },
    create,
  };
}

const concatenate: LayerClassSerializer<Concatenate> = {
  className: 'Concatenate',
  layerClass: Concatenate,
  writeConfig: (layer) => ({ axis: layer.axis }),
  parseConfig(c, at) {
    if (c.axis === undefined) return {};
    const axis = integer(c.axis, at('axis'));
    if (axis === 0) throw new ModelFormatError(`${at('axis')}: 0 is the batch axis; Keel concatenates along another axis.`);
    return { axis };
  },
  weights: (): WeightShape[] => [],
  outputShape: () => {
    throw new ModelFormatError(`a Concatenate layer merges at least 2 inputs; it cannot follow a single layer.`);
  },
  outputShapeMany(args, shapes) {
    const rank = shapes[0].length;
    const axisArg = (args.axis as number | undefined) ?? -1;
    const axis = axisArg < 0 ? rank + axisArg : axisArg - 1; // index into a shape without the batch axis
    if (axis < 0 || axis >= rank || shapes.some((s) => s.length !== rank)) {
      throw new ModelFormatError(`a Concatenate layer along axis ${axisArg} cannot join inputs ${formatShapes(shapes)}.`);
    }
    const out = [...shapes[0]];
    out[axis] = 0;
    for (const s of shapes) {
      if (s.some((d, i) => i !== axis && d !== shapes[0][i])) {
        throw new ModelFormatError(`a Concatenate layer along axis ${axisArg} needs inputs equal on every other axis, received ${formatShapes(shapes)}.`);
      }
      out[axis] += s[axis];
    }
    return out;
  },
  create: (args) => new Concatenate(args as never),
};

export const MERGE_LAYER_CLASSES: readonly LayerClassSerializer[] = [
  elementwise('Add', Add, (args) => new Add(args as never)),
  elementwise('Multiply', Multiply, (args) => new Multiply(args as never)),
  elementwise('Average', Average, (args) => new Average(args as never)),
  concatenate,
] as unknown as LayerClassSerializer[];
