/**
 * Merge layers: several inputs, one output, no weights (TF.js's `layers.add`, `multiply`,
 * `average`, `concatenate`). The math is in mergeOps.ts; these classes check shapes, keep what
 * the backward needs and own the buffers.
 *
 *   Add:         y = Σᵢ xᵢ             dxᵢ = dy
 *   Average:     y = (1/n)·Σᵢ xᵢ       dxᵢ = dy / n
 *   Multiply:    y = Πᵢ xᵢ             dxᵢ = dy · Πⱼ≠ᵢ xⱼ   (the product of the others, not y / xᵢ: exact at xᵢ = 0)
 *   Concatenate: y = [x₁, x₂, …] along `axis`;  dxᵢ = dy's slice of xᵢ
 *
 * Differs from Keras: Add, Average and Multiply take inputs of one shape only (no broadcasting);
 * Keras broadcasts size-1 axes. A residual connection, the use they exist for, has equal shapes.
 */
import type { Tensor } from '../core/tensor.js';
import { sameShape } from '../core/tensor.js';
import { ShapeError, ValueError, describeValue, formatShape } from '../core/errors.js';
import { Layer, type LayerArgs } from './layer.js';
import { concatBackward, concatForward, elementwiseProductOfOthers, elementwiseSum } from './mergeOps.js';

const shapeList = (shapes: readonly (readonly number[])[]) => shapes.map((s) => formatShape([null, ...s])).join(', ');

/** The base of the merge layers: at least two inputs. */
export abstract class Merge extends Layer {
  private shapesBuilt: number[][] = [];
  /** The inputs of the last training forward (Multiply's backward needs them). */
  protected lastInputs: readonly Tensor[] = [];

  override get takesManyInputs(): boolean {
    return true;
  }

  override get inputShapesBuilt(): number[][] {
    return this.shapesBuilt.map((s) => [...s]);
  }

  override get inputShape(): number[] {
    return [...(this.shapesBuilt[0] ?? [])];
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    throw new ValueError(`${this.name}: a ${this.getClassName()} layer takes at least 2 inputs, received one of shape ${formatShape([null, ...inputShape])}.`);
  }

  override computeOutputShapeMany(inputShapes: readonly (readonly number[])[]): number[] {
    if (!Array.isArray(inputShapes) || inputShapes.length < 2) {
      throw new ValueError(`${this.name}: a ${this.getClassName()} layer takes at least 2 inputs, received ${describeValue(inputShapes)}.`);
    }
    return this.mergedShape(inputShapes);
  }

  /** The output shape; throws a ShapeError that names the shapes when they cannot merge. */
  protected abstract mergedShape(inputShapes: readonly (readonly number[])[]): number[];

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
  }

  override buildMany(inputShapes: readonly (readonly number[])[]): void {
    this.computeOutputShapeMany(inputShapes);
    this.shapesBuilt = inputShapes.map((s) => [...s]);
    this.built = true;
  }

  forward(x: Tensor): Tensor {
    return this.computeOutputShape(x.shape.slice(1)) as never; // throws: one input is not enough
  }

  backward(): Tensor | null {
    throw new ValueError(`${this.name}: a ${this.getClassName()} layer's backward takes its inputs' gradients as a list.`);
  }

  override forwardMany(xs: readonly Tensor[], training: boolean): Tensor {
    if (training) this.lastInputs = xs;
    return this.mergeForward(xs);
  }

  protected abstract mergeForward(xs: readonly Tensor[]): Tensor;
}

/** Add, Average and Multiply: inputs of one shape, output of that shape. */
abstract class ElementwiseMerge extends Merge {
  protected mergedShape(inputShapes: readonly (readonly number[])[]): number[] {
    const first = inputShapes[0];
    if (inputShapes.some((s) => !sameShape(s, first))) {
      throw new ShapeError(
        `${this.name}: ${this.getClassName()} expects inputs of one shape, received ${shapeList(inputShapes)}. ` +
          `Make the shapes equal first (in a residual block, a 1×1 convolution with the right filters and strides on the shortcut).`,
      );
    }
    return [...first];
  }
}

export class Add extends ElementwiseMerge {
  constructor(args: LayerArgs = {}) {
    super(args, 'Add', []);
  }
  getClassName(): string {
    return 'Add';
  }
  protected mergeForward(xs: readonly Tensor[]): Tensor {
    const y = this.buffer('y', xs[0].shape, xs[0].dtype);
    elementwiseSum(xs, 1, y);
    return y;
  }
  // dy reaches every input unchanged: the graph sums it where the inputs come from.
  override backwardMany(dy: Tensor, need: readonly boolean[]): (Tensor | null)[] {
    return need.map((n) => (n ? dy : null));
  }
}

export class Average extends ElementwiseMerge {
  constructor(args: LayerArgs = {}) {
    super(args, 'Average', []);
  }
  getClassName(): string {
    return 'Average';
  }
  protected mergeForward(xs: readonly Tensor[]): Tensor {
    const y = this.buffer('y', xs[0].shape, xs[0].dtype);
    elementwiseSum(xs, 1 / xs.length, y);
    return y;
  }
  override backwardMany(dy: Tensor, need: readonly boolean[]): (Tensor | null)[] {
    if (!need.some((n) => n)) return need.map(() => null);
    // Every input gets the same dy/n: one buffer serves them all.
    const dx = this.buffer('dx', dy.shape, dy.dtype);
    elementwiseSum([dy], 1 / need.length, dx);
    return need.map((n) => (n ? dx : null));
  }
}

export class Multiply extends ElementwiseMerge {
  constructor(args: LayerArgs = {}) {
    super(args, 'Multiply', []);
  }
  getClassName(): string {
    return 'Multiply';
  }
  protected mergeForward(xs: readonly Tensor[]): Tensor {
    const y = this.buffer('y', xs[0].shape, xs[0].dtype);
    elementwiseProductOfOthers(xs, -1, null, y);
    return y;
  }
  override backwardMany(dy: Tensor, need: readonly boolean[]): (Tensor | null)[] {
    return need.map((n, i) => {
      if (!n) return null;
      const dx = this.buffer(`dx${i}`, dy.shape, dy.dtype);
      elementwiseProductOfOthers(this.lastInputs, i, dy, dx);
      return dx;
    });
  }
}

export interface ConcatenateLayerArgs extends LayerArgs {
  /** Axis to join along, counted with the batch axis as 0; negative counts from the end. Default -1. */
  axis?: number;
}

export class Concatenate extends Merge {
  readonly axis: number;
  constructor(args: ConcatenateLayerArgs = {}) {
    super(args, 'Concatenate', ['axis']);
    const { axis = -1 } = args;
    if (!Number.isInteger(axis) || axis === 0) {
      throw new ValueError(`Concatenate: expected axis to be a nonzero integer (-1 for the last axis; 0 is the batch axis), received ${describeValue(axis)}.`);
    }
    this.axis = axis;
  }
  getClassName(): string {
    return 'Concatenate';
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: this.axis };
  }

  /** The axis as an index into a shape without the batch axis. */
  private exampleAxis(rank: number): number {
    const axis = this.axis < 0 ? rank + 1 + this.axis : this.axis;
    if (axis < 1 || axis > rank) {
      throw new ShapeError(`${this.name}: axis ${this.axis} does not exist for inputs of rank ${rank + 1} (batch axis included).`);
    }
    return axis - 1;
  }

  protected mergedShape(inputShapes: readonly (readonly number[])[]): number[] {
    const rank = inputShapes[0].length;
    if (inputShapes.some((s) => s.length !== rank)) {
      throw new ShapeError(`${this.name}: Concatenate expects inputs of one rank, received ${shapeList(inputShapes)}.`);
    }
    const a = this.exampleAxis(rank);
    const out = [...inputShapes[0]];
    out[a] = 0;
    for (const s of inputShapes) {
      if (s.some((d, i) => i !== a && d !== inputShapes[0][i])) {
        throw new ShapeError(
          `${this.name}: Concatenate along axis ${this.axis} expects inputs equal on every other axis, received ${shapeList(inputShapes)}.`,
        );
      }
      out[a] += s[a];
    }
    return out;
  }

  /** Rows before the axis (batch included) and the values per row after it, per input. */
  private layout(xs: readonly { shape: readonly number[] }[]): { outer: number; widths: number[] } {
    const a = this.exampleAxis(xs[0].shape.length - 1) + 1;
    const outer = xs[0].shape.slice(0, a).reduce((p, d) => p * d, 1);
    return { outer, widths: xs.map((x) => x.shape.slice(a).reduce((p, d) => p * d, 1)) };
  }

  protected mergeForward(xs: readonly Tensor[]): Tensor {
    const shape = [xs[0].shape[0], ...this.mergedShape(xs.map((x) => x.shape.slice(1)))];
    const y = this.buffer('y', shape, xs[0].dtype);
    const { outer, widths } = this.layout(xs);
    concatForward(xs.map((x) => x.values), widths, outer, y.values);
    return y;
  }

  override backwardMany(dy: Tensor, need: readonly boolean[]): (Tensor | null)[] {
    const inputs = this.lastInputs;
    const { outer, widths } = this.layout(inputs);
    const dxs = inputs.map((x, i) => (need[i] ? this.buffer(`dx${i}`, x.shape, dy.dtype) : null));
    concatBackward(dy.values, widths, outer, dxs.map((d) => d?.values ?? null));
    return dxs;
  }
}
