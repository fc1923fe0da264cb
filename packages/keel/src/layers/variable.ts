import { Tensor, sameShape } from '../core/tensor.js';
import { ShapeError, ValueError, describeValue, formatShape } from '../core/errors.js';
import { copy, empty } from '../ops/tensor.js';

/**
 * A weight that a layer owns. Its `role` says what it is, once and for all:
 * - `'parameter'`: learned by gradient descent (Dense kernel and bias, BN gamma and beta);
 * - `'buffer'`: state the layer updates itself and optimizers never touch (BN moving statistics).
 * Whether a parameter is trainable *right now* also depends on its layer's `trainable` flag.
 */
export class LayerVariable {
  /** The current value. Internal: replaced in place by optimizers and setWeights. @internal */
  value: Tensor;
  /** Accumulated gradient dL/dvalue for the current step (parameters only). @internal */
  grad: Tensor | null;

  constructor(
    /** Full name as Keras writes it, `layerName/weightName` (e.g. `dense/kernel`). */
    readonly name: string,
    initial: Tensor,
    readonly role: 'parameter' | 'buffer',
  ) {
    this.value = initial;
    this.grad = role === 'parameter' ? empty(initial.shape, initial.dtype) : null;
  }

  get shape(): readonly number[] {
    return this.value.shape;
  }

  /** The name without the layer prefix: `kernel`, `moving_mean`... */
  get shortName(): string {
    return this.name.slice(this.name.lastIndexOf('/') + 1);
  }

  /** A copy of the current value. */
  read(): Tensor {
    return copy(this.value);
  }

  /** Replaces the value with a copy of `t`, which must have the same shape. */
  write(t: Tensor): void {
    this.checkAssignable(t);
    this.value.values.set(t.values);
  }

  /** Throws unless `t` could be written here. */
  checkAssignable(t: Tensor): void {
    if (!(t instanceof Tensor)) {
      throw new ValueError(`Weight '${this.name}': expected a Tensor of shape ${formatShape(this.shape)}, received ${describeValue(t)}.`);
    }
    if (!sameShape(t.shape, this.shape)) {
      throw new ShapeError(
        `Weight '${this.name}': expected shape ${formatShape(this.shape)}, received ${formatShape(t.shape)}.`,
      );
    }
    for (let i = 0; i < t.size; i++) {
      if (!Number.isFinite(t.values[i])) {
        throw new ValueError(`Weight '${this.name}': value ${t.values[i]} at flat index ${i} is not finite; weights must be finite numbers.`);
      }
    }
  }
}

/**
 * Writes `weights` into `targets`, in order, after checking every one of them: a bad call (wrong
 * count, a wrong shape, a non-finite value, even in the last array) changes nothing.
 * `expected` describes the order for the error message.
 */
export function assignWeights(where: string, targets: LayerVariable[], weights: Tensor[], expected: string): void {
  if (!Array.isArray(weights) || weights.length !== targets.length) {
    throw new ValueError(
      `${where}.setWeights: expected ${targets.length} arrays ${expected}, ` +
        `received ${Array.isArray(weights) ? weights.length : describeValue(weights)}.`,
    );
  }
  targets.forEach((v, i) => v.checkAssignable(weights[i]));
  targets.forEach((v, i) => v.write(weights[i]));
}
