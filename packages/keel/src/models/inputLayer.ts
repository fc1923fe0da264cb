/**
 * The input of a functional model: `keel.input({shape})` makes an InputLayer and returns its
 * symbolic output, which layers are then applied to (TF.js's `tf.input`).
 */
import type { Tensor, DType } from '../core/tensor.js';
import { ShapeError, ValueError, checkOptions, describeValue, formatShape } from '../core/errors.js';
import { Layer, SymbolicTensor, uniqueName } from '../layers/layer.js';

export interface InputArgs {
  /** Shape of one example, batch axis excluded, e.g. [28, 28, 1]. */
  shape?: number[];
  /** Shape with the batch axis first (`null` for any batch size), as TF.js's `batchShape`. */
  batchShape?: (number | null)[];
  /** Default `input`, `input_1`, ... */
  name?: string;
  /** float32 (default) or float64. */
  dtype?: DType;
}

/** A layer that passes its input on: it only says what the model's input is. */
export class InputLayer extends Layer {
  /** The symbolic tensor this input gives the graph. */
  readonly output: SymbolicTensor;

  constructor(args: { name: string; shape: number[]; dtype: DType }) {
    super({ name: args.name, dtype: args.dtype, inputShape: args.shape }, 'InputLayer', []);
    this.build(args.shape);
    this.output = new SymbolicTensor([...args.shape], this.dtype, this, []);
  }
  getClassName(): string {
    return 'InputLayer';
  }
  override getConfig(): Record<string, unknown> {
    return { batch_input_shape: [null, ...this.inputShape], dtype: this.dtype, sparse: false, name: this.name };
  }
  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }
  forward(x: Tensor): Tensor {
    return x;
  }
  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    return needInputGrad ? dy : null;
  }
}

/**
 * A symbolic input of the given shape (batch excluded), for `keel.model({inputs, outputs})`.
 *
 * @example const x = keel.input({shape: [28, 28, 1]}); const y = keel.layers.flatten().apply(x);
 */
export function input(args: InputArgs): SymbolicTensor {
  if (typeof args !== 'object' || args === null) {
    throw new ValueError(`input: expected {shape}, e.g. keel.input({shape: [28, 28, 1]}), received ${describeValue(args)}.`);
  }
  checkOptions('input', args, ['shape', 'batchShape', 'name', 'dtype']);
  const { shape, batchShape, name, dtype = 'float32' } = args;
  if ((shape === undefined) === (batchShape === undefined)) {
    throw new ValueError(`input: give shape (batch axis excluded) or batchShape (batch axis first), exactly one; received ${shape === undefined ? 'neither' : 'both'}.`);
  }
  const example = shape ?? (Array.isArray(batchShape) ? batchShape.slice(1) : batchShape);
  if (!Array.isArray(example) || example.length === 0 || example.some((d) => !Number.isInteger(d) || (d as number) <= 0)) {
    throw new ShapeError(
      `input: expected ${shape !== undefined ? 'shape' : 'batchShape'} to hold positive integers (batch axis ${shape !== undefined ? 'excluded' : 'first, null'}), ` +
        `received ${formatShape((shape ?? batchShape) as number[])}.`,
    );
  }
  if (name !== undefined && typeof name !== 'string') {
    throw new ValueError(`input: expected name to be a string such as 'image', received ${describeValue(name)}.`);
  }
  return new InputLayer({ name: name ?? uniqueName('input'), shape: example as number[], dtype }).output;
}
