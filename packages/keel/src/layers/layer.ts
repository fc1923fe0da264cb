/**
 * The Layer base class. A layer owns its weights (parameters and buffers) and its work buffers,
 * and delegates the math to pure ops. The `training` flag is always passed explicitly.
 *
 * Subclasses implement:
 * - `computeOutputShape(inputShape)` and `build(inputShape)` (shapes exclude the batch axis);
 * - `forward(x, training)`: the output, keeping in the layer what `backward` needs;
 * - `backward(dy, needInputGrad)`: accumulates parameter gradients, returns dL/dx (or null);
 * - optionally `commitState()`: applies state updates computed by the last training forward (BN
 *   moving statistics), called by the model only once the step succeeded.
 */
import { Tensor, sameShape, type DType } from '../core/tensor.js';
import { ShapeError, ValueError, checkOptions, describeValue, formatShape } from '../core/errors.js';
import { copy, empty, wrap } from '../ops/tensor.js';
import { LayerVariable, assignWeights } from './variable.js';

export interface LayerArgs {
  /** Unique name; Keras-style `dense`, `dense_1`... when omitted. */
  name?: string;
  /** Shape of one input example (batch axis excluded). Needed on a model's first layer. */
  inputShape?: number[];
  /** Shape including the batch axis (`null` for any batch size), as in TF.js. */
  batchInputShape?: (number | null)[];
  /** When false, the layer's weights are frozen (and BatchNormalization runs in inference mode). */
  trainable?: boolean;
  /** Element type of the weights: float32 (default) or float64 (used by gradient checks). */
  dtype?: DType;
}

export const LAYER_ARG_KEYS = ['name', 'inputShape', 'batchInputShape', 'trainable', 'dtype'] as const;

const nameCounters = new Map<string, number>();

/** Keras's naming: the first `dense`, then `dense_1`, `dense_2`... across the process. */
export function uniqueName(prefix: string): string {
  const n = nameCounters.get(prefix) ?? 0;
  nameCounters.set(prefix, n + 1);
  return n === 0 ? prefix : `${prefix}_${n}`;
}

export abstract class Layer {
  readonly name: string;
  /** Whether gradient descent may change this layer's parameters. */
  trainable: boolean;
  readonly dtype: DType;
  /** Declared input shape (without batch), if any. */
  readonly declaredInputShape: number[] | undefined;
  protected built = false;
  protected inputShapeBuilt: number[] = [];
  private readonly variables: LayerVariable[] = [];
  private readonly workspace = new Map<string, Tensor>();

  constructor(args: LayerArgs, className: string, extraKeys: readonly string[]) {
    checkOptions(className, args, [...LAYER_ARG_KEYS, ...extraKeys]);
    const { name, inputShape, batchInputShape, trainable = true, dtype = 'float32' } = args;
    if (dtype !== 'float32' && dtype !== 'float64') {
      throw new ValueError(`${className}: expected dtype 'float32' or 'float64', received ${describeValue(dtype)}.`);
    }
    // Layer names end up in many messages; one that is not a string would be printed whole there.
    if (name !== undefined && name !== null && typeof name !== 'string') {
      throw new ValueError(`${className}: expected name to be a string such as 'dense_1', received ${describeValue(name)}.`);
    }
    this.name = name ?? uniqueName(toSnakeCase(className));
    this.trainable = trainable;
    this.dtype = dtype;
    if (inputShape && batchInputShape) {
      throw new ValueError(`${className}: give inputShape or batchInputShape, not both.`);
    }
    if (batchInputShape !== undefined && batchInputShape !== null && !Array.isArray(batchInputShape)) {
      throw new ShapeError(
        `${className}: batchInputShape must be an array [null, d1, ...] (batch axis first), received ${describeValue(batchInputShape)}.`,
      );
    }
    const declared = inputShape ?? batchInputShape?.slice(1);
    if (declared) {
      if (!Array.isArray(declared) || declared.some((d) => !Number.isInteger(d) || (d as number) <= 0)) {
        throw new ShapeError(
          inputShape
            ? `${className}: inputShape must be an array of positive integers (batch axis excluded), received ${formatShape(inputShape)}.`
            : `${className}: batchInputShape must be [null, d1, ...] with positive integers d1, ..., received ${formatShape(batchInputShape!)}.`,
        );
      }
      this.declaredInputShape = declared as number[];
    }
  }

  /** Keras class name: 'Dense', 'BatchNormalization'... */
  abstract getClassName(): string;

  /** Keras config of this layer (serializable). */
  getConfig(): Record<string, unknown> {
    const config: Record<string, unknown> = { name: this.name, trainable: this.trainable, dtype: this.dtype };
    if (this.declaredInputShape) config.batch_input_shape = [null, ...this.declaredInputShape];
    return config;
  }

  /** Output shape (batch excluded) for an input shape (batch excluded). */
  abstract computeOutputShape(inputShape: readonly number[]): number[];

  /** Creates the weights for inputs of this shape (batch excluded). Called once. */
  build(inputShape: readonly number[]): void {
    this.inputShapeBuilt = [...inputShape];
    this.built = true;
  }

  get isBuilt(): boolean {
    return this.built;
  }

  /** Input shape the layer was built for (batch excluded). */
  get inputShape(): number[] {
    return [...this.inputShapeBuilt];
  }

  /** @internal */
  abstract forward(x: Tensor, training: boolean): Tensor;

  /** @internal */
  abstract backward(dy: Tensor, needInputGrad: boolean): Tensor | null;

  /** Applies state updates of the last training forward (default: none). @internal */
  commitState(): void {}

  /** Forgets state updates of a training forward whose step was abandoned. @internal */
  discardState(): void {}

  /**
   * Runs the layer on `x` (a batch) and returns a new tensor. Builds the layer on first use.
   * With `{training: true}`, BatchNormalization uses and updates batch statistics.
   */
  apply(x: Tensor, options: { training?: boolean } = {}): Tensor {
    checkOptions(`${this.getClassName()}.apply`, options, ['training']);
    if (!this.built) this.build(x.shape.slice(1));
    this.checkInput(x);
    const y = copy(this.forward(x, options.training ?? false));
    if (options.training) this.commitState();
    return y;
  }

  /** Throws if `x` (with batch axis) does not match the built input shape. @internal */
  checkInput(x: Tensor): void {
    const expected = this.inputShapeBuilt;
    if (!sameShape(x.shape.slice(1), expected)) {
      throw new ShapeError(
        `${this.name}: expected input of shape ${formatShape([null as unknown as number, ...expected])}, ` +
          `received ${formatShape(x.shape)}.`,
      );
    }
  }

  // ---- weights ------------------------------------------------------------------------------

  /** Adds a weight; subclasses call this from `build`. */
  protected addWeight(name: string, initial: Tensor, role: 'parameter' | 'buffer'): LayerVariable {
    const v = new LayerVariable(`${this.name}/${name}`, initial, role);
    this.variables.push(v);
    return v;
  }

  /** Weights gradient descent may change now: parameters, while the layer is trainable. */
  get trainableWeights(): LayerVariable[] {
    return this.trainable ? this.variables.filter((v) => v.role === 'parameter') : [];
  }

  /** Everything else: buffers, and the parameters of a frozen layer. */
  get nonTrainableWeights(): LayerVariable[] {
    return this.trainable ? this.variables.filter((v) => v.role === 'buffer') : [...this.variables];
  }

  /** Trainable weights then non-trainable ones, as TF.js orders them. */
  get weights(): LayerVariable[] {
    return [...this.trainableWeights, ...this.nonTrainableWeights];
  }

  /** Copies of the weights' values, in the order of `weights`. */
  getWeights(): Tensor[] {
    return this.weights.map((v) => v.read());
  }

  /**
   * Sets every weight, in the order of `getWeights()`. All arrays are checked before any is
   * written, so a bad call leaves the layer unchanged.
   */
  setWeights(weights: Tensor[]): void {
    const targets = this.weights;
    assignWeights(this.name, targets, weights, `(${targets.map((v) => `${v.shortName} ${formatShape(v.shape)}`).join(', ')})`);
  }

  /** Number of scalars in all weights, trainable or not. */
  countParams(): number {
    return this.variables.reduce((n, v) => n + v.value.size, 0);
  }

  // ---- work buffers -------------------------------------------------------------------------

  /**
   * A reusable buffer, the same object for the same key and shape, so that training allocates
   * only during its first steps. Its contents are whatever the last user left.
   */
  protected buffer(key: string, shape: readonly number[], dtype: DType): Tensor {
    const slot = `${key}:${shape.join('x')}:${dtype}`;
    let t = this.workspace.get(slot);
    if (!t) {
      if (this.workspace.size >= 24) this.workspace.clear(); // many batch sizes seen: start over
      t = empty(shape, dtype);
      this.workspace.set(slot, t);
    }
    return t;
  }

  /** A tensor sharing `t`'s storage under another shape (internal use only). */
  protected view(t: Tensor, shape: readonly number[]): Tensor {
    return wrap(t.values, shape);
  }
}

export function toSnakeCase(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}
