import { ShapeError, StateError, formatShape } from './errors.js';

/** Element types Keel computes in. float64 exists for gradient checks; models train in float32. */
export type DType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

/** Nested arrays of numbers, as `arraySync()` returns them. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array of numbers: a flat typed array in row-major order plus a shape.
 *
 * Tensors are values: Keel never changes a tensor it handed to you, and copies what it keeps.
 * Storage comes from the active backend (see `backend/`), which may place it in its own memory;
 * read it with `dataSync()` or `arraySync()`, which copy.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly size: number;
  readonly dtype: DType;
  /** The storage. Internal: owned by Keel, may be reused after the tensor is disposed. @internal */
  values: FloatArray;
  private disposed = false;

  /** Gives the storage back to the backend that allocated it (none for borrowed storage). */
  private readonly releaseStorage: ((values: FloatArray) => void) | undefined;

  /** @internal Use `keel.tensor()` to make tensors. */
  constructor(values: FloatArray, shape: readonly number[], release?: (values: FloatArray) => void) {
    const size = sizeOf(shape);
    if (values.length !== size) {
      throw new ShapeError(
        `Tensor: shape ${formatShape(shape)} holds ${size} values, but ${values.length} were given. ` +
          `Pass a shape whose dimensions multiply to the number of values.`,
      );
    }
    this.values = values;
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.dtype = values instanceof Float64Array ? 'float64' : 'float32';
    this.releaseStorage = release;
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** A copy of the values as a Float32Array, in row-major order. */
  dataSync(): Float32Array {
    this.assertAlive('dataSync');
    return Float32Array.from(this.values);
  }

  /** Same as `dataSync()`, as a promise (TF.js compatibility). */
  async data(): Promise<Float32Array> {
    return this.dataSync();
  }

  /** The values as nested arrays of numbers, one level per dimension. */
  arraySync(): NestedArray {
    this.assertAlive('arraySync');
    const values = this.values;
    if (this.shape.length === 0) return values[0];
    const build = (dim: number, offset: number): NestedArray[] => {
      const n = this.shape[dim];
      const stride = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = dim === this.shape.length - 1 ? values[offset + i] : build(dim + 1, offset + i * stride);
      }
      return out;
    };
    return build(0, 0);
  }

  /** Same as `arraySync()`, as a promise (TF.js compatibility). */
  async array(): Promise<NestedArray> {
    return this.arraySync();
  }

  /**
   * Releases the storage now. Optional: tensors you drop are reclaimed by the garbage collector.
   * Using a tensor after `dispose()` throws; disposing twice does nothing.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseStorage?.(this.values);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  toString(): string {
    return `Tensor(shape=${formatShape(this.shape)}, dtype=${this.dtype})`;
  }

  /** Throws a StateError if the tensor was disposed: its storage may already hold another tensor. @internal */
  assertAlive(where = 'Tensor'): void {
    if (this.disposed) {
      throw new StateError(
        `${where}: this tensor (shape ${formatShape(this.shape)}) was disposed; it can no longer be read. ` +
          `Read it before calling dispose(), or keep a copy made with keel.tensor(t).`,
      );
    }
  }
}

/** Number of values a shape holds (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Does every dimension agree? */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
