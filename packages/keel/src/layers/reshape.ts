/**
 * Reshape: each example to `targetShape` (batch axis excluded), as Keras's Reshape; one entry may
 * be -1, inferred from the size. The values keep their order (row-major), so [28, 28] → [28, 28, 1]
 * adds a channels axis for a convolution.
 *
 * @example keel.layers.reshape({ targetShape: [28, 28, 1], inputShape: [28, 28] })
 */
import type { Tensor } from '../core/tensor.js';
import { sizeOf } from '../core/tensor.js';
import { ShapeError, ValueError, formatShape } from '../core/errors.js';
import { describeValue } from '../core/format.js';
import { Layer, type LayerArgs } from './layer.js';

export interface ReshapeLayerArgs extends LayerArgs {
  /** Shape of one output example; at most one -1. */
  targetShape: number[];
}

export class Reshape extends Layer {
  readonly targetShape: number[];
  private inputBatchShape: readonly number[] = [];

  constructor(args: ReshapeLayerArgs) {
    super(args ?? ({} as ReshapeLayerArgs), 'Reshape', ['targetShape']);
    const { targetShape } = args ?? ({} as ReshapeLayerArgs);
    const ok = Array.isArray(targetShape) && targetShape.length > 0 &&
      targetShape.every((d) => Number.isInteger(d) && (d > 0 || d === -1)) && targetShape.filter((d) => d === -1).length <= 1;
    if (!ok) {
      throw new ValueError(
        `Reshape: expected targetShape to be an array of positive integers with at most one -1, received ` +
          `${describeValue(targetShape)}. Example: reshape({targetShape: [28, 28, 1]}).`,
      );
    }
    this.targetShape = [...targetShape];
  }

  getClassName(): string {
    return 'Reshape';
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    const size = sizeOf(inputShape);
    const known = this.targetShape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const inferred = this.targetShape.includes(-1) ? size / known : known;
    if (!Number.isInteger(inferred) || (this.targetShape.includes(-1) ? known * inferred : known) !== size) {
      throw new ShapeError(
        `${this.name}: cannot reshape examples of shape ${formatShape(inputShape)} (${size} values) to ${formatShape(this.targetShape)}. ` +
          `Give a targetShape whose dimensions multiply to ${size}.`,
      );
    }
    return this.targetShape.map((d) => (d === -1 ? inferred : d));
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
    super.build(inputShape);
  }

  forward(x: Tensor, training: boolean): Tensor {
    if (training) this.inputBatchShape = x.shape;
    return this.view(x, [x.shape[0], ...this.computeOutputShape(this.inputShapeBuilt)]);
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    return needInputGrad ? this.view(dy, this.inputBatchShape) : null;
  }
}
