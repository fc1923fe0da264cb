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
 *
 * Layers of several inputs (the merge layers) override the `...Many` methods instead; models call
 * only those, whose defaults forward to the one-input methods.
 *
 * `apply` on a `SymbolicTensor` (from `keel.input`) builds a graph instead of computing: it returns
 * the symbolic output that `keel.model({inputs, outputs})` reads the graph from.
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

/**
 * A tensor of a graph under construction: its shape (batch excluded) and where it comes from, no
 * values. `keel.input({shape})` makes the first; `layer.apply(symbolic)` makes the next.
 */
export class SymbolicTensor {
  /** @internal */
  constructor(
    /** Shape of one example (batch axis excluded). */
    readonly shape: readonly number[],
    readonly dtype: DType,
    /** The layer whose output this is. */
    readonly sourceLayer: Layer,
    /** The tensors that layer was applied to (none for an input). */
    readonly inputs: readonly SymbolicTensor[],
  ) {}

  /** The name of the layer that computes it (each layer has one output, applied once: see `apply`). */
  get name(): string {
    return this.sourceLayer.name;
  }
}

function isSymbolicInput(x: unknown): x is SymbolicTensor | SymbolicTensor[] {
  return x instanceof SymbolicTensor || (Array.isArray(x) && x.length > 0 && x.every((t) => t instanceof SymbolicTensor));
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
  /** The symbolic output of this layer's one application in a graph, if any (see `apply`). */
  private appliedAs: SymbolicTensor | undefined;

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

  // ---- several inputs (defaults: exactly one) ---------------------------------------------

  /** How many inputs the layer takes: 1, or at least 2 (merge layers). @internal */
  get takesManyInputs(): boolean {
    return false;
  }

  /** Output shape for the inputs' shapes (batch excluded). @internal */
  computeOutputShapeMany(inputShapes: readonly (readonly number[])[]): number[] {
    this.expectOneInput(inputShapes.length);
    return this.computeOutputShape(inputShapes[0]);
  }

  /** Builds for the inputs' shapes. @internal */
  buildMany(inputShapes: readonly (readonly number[])[]): void {
    this.expectOneInput(inputShapes.length);
    this.build(inputShapes[0]);
  }

  /** The input shapes the layer was built for. @internal */
  get inputShapesBuilt(): number[][] {
    return [this.inputShape];
  }

  /** @internal */
  forwardMany(xs: readonly Tensor[], training: boolean): Tensor {
    return this.forward(xs[0], training);
  }

  /** dL/d(each input), null where `needInputGrad[i]` is false. @internal */
  backwardMany(dy: Tensor, needInputGrad: readonly boolean[]): (Tensor | null)[] {
    return [this.backward(dy, needInputGrad[0])];
  }

  private expectOneInput(count: number): void {
    if (count !== 1) {
      throw new ValueError(`${this.name}: a ${this.getClassName()} layer takes one input, received ${count}; merge tensors first with keel.layers.add or keel.layers.concatenate.`);
    }
  }

  /**
   * Runs the layer on `x` (a batch) and returns a new tensor. Builds the layer on first use.
   * With `{training: true}`, BatchNormalization uses and updates batch statistics.
   *
   * On a SymbolicTensor (or an array of them, for merge layers), records the layer in a graph and
   * returns its symbolic output, for `keel.model({inputs, outputs})`.
   * Differs from Keras: a layer is applied in at most one place of a graph (no shared layers):
   * each layer keeps what its backward needs from one forward, so a second use would overwrite
   * the first's. Applying a layer twice is refused; build a second layer and copy the weights
   * with `setWeights` for the same computation.
   */
  apply(x: Tensor, options?: { training?: boolean }): Tensor;
  apply(x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor;
  apply(x: Tensor[], options?: { training?: boolean }): Tensor;
  apply(x: Tensor | Tensor[] | SymbolicTensor | SymbolicTensor[], options: { training?: boolean } = {}): Tensor | SymbolicTensor {
    if (isSymbolicInput(x)) return this.applySymbolic(Array.isArray(x) ? x : [x]);
    checkOptions(`${this.getClassName()}.apply`, options, ['training']);
    const xs = Array.isArray(x) ? x : [x];
    for (const t of xs) {
      if (!(t instanceof Tensor)) {
        throw new ValueError(`${this.name}.apply: expected a Tensor, a SymbolicTensor (from keel.input) or an array of them, received ${describeValue(t)}.`);
      }
    }
    if (Array.isArray(x) !== this.takesManyInputs) {
      throw new ValueError(
        this.takesManyInputs
          ? `${this.name}.apply: a ${this.getClassName()} layer takes an array of tensors, received ${describeValue(x)}.`
          : `${this.name}.apply: a ${this.getClassName()} layer takes one tensor, received an array of ${xs.length}.`,
      );
    }
    if (!this.built) this.buildMany(xs.map((t) => t.shape.slice(1)));
    this.checkInputs(xs);
    const y = copy(this.forwardMany(xs, options.training ?? false));
    if (options.training) this.commitState();
    return y;
  }

  private applySymbolic(inputs: SymbolicTensor[]): SymbolicTensor {
    if (this.appliedAs) {
      throw new ValueError(
        `${this.name}.apply: layer '${this.name}' is already applied in a graph (to ${this.appliedAs.inputs.map((t) => `'${t.name}'`).join(', ') || 'nothing'}); ` +
          `Keel does not share a layer between two places of a graph. Create another layer for the second use ` +
          `(and copy the weights with setWeights if they must start equal).`,
      );
    }
    if (inputs.length > 1 && !this.takesManyInputs) this.expectOneInput(inputs.length);
    if (inputs.length < 2 && this.takesManyInputs) {
      throw new ValueError(`${this.name}.apply: a ${this.getClassName()} layer takes an array of at least 2 tensors, received ${inputs.length}.`);
    }
    const shapes = inputs.map((t) => t.shape);
    const outputShape = this.computeOutputShapeMany(shapes);
    if (this.built) {
      const built = this.inputShapesBuilt;
      if (built.length !== shapes.length || built.some((s, i) => !sameShape(s, shapes[i]))) {
        throw new ShapeError(
          `${this.name}.apply: the layer was built for inputs ${built.map((s) => formatShape([null, ...s])).join(', ')}, ` +
            `received ${shapes.map((s) => formatShape([null, ...s])).join(', ')}.`,
        );
      }
    } else {
      this.buildMany(shapes);
    }
    this.appliedAs = new SymbolicTensor(outputShape, this.dtype, this, inputs);
    return this.appliedAs;
  }

  /** Throws unless `xs` (with batch axis) match the built input shapes. @internal */
  checkInputs(xs: readonly Tensor[]): void {
    const built = this.inputShapesBuilt;
    if (xs.length !== built.length) {
      throw new ShapeError(`${this.name}: expected ${built.length} inputs, received ${xs.length}.`);
    }
    xs.forEach((x, i) => {
      if (!sameShape(x.shape.slice(1), built[i])) {
        throw new ShapeError(
          `${this.name}: expected input${built.length > 1 ? ` ${i}` : ''} of shape ${formatShape([null as unknown as number, ...built[i]])}, ` +
            `received ${formatShape(x.shape)}.`,
        );
      }
    });
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
