/** Making tensors: the only place that turns user data into Keel storage. */
import { Tensor, sizeOf, type DType, type FloatArray, type NestedArray } from '../core/tensor.js';
import { ShapeError, ValueError, formatShape } from '../core/errors.js';
import { backendFor } from '../backend/backend.js';

export type TensorLike =
  | Tensor
  | NestedArray
  | Float32Array | Float64Array | Int32Array | Uint8Array | Uint8ClampedArray | Int8Array | Int16Array | Uint16Array | Uint32Array
  | readonly number[];

/**
 * Makes a tensor from a flat typed array or number array with a shape, or from nested arrays
 * (the shape is then inferred). Integer arrays (labels) are converted to floats.
 *
 * @example keel.tensor([1, 2, 3, 4], [2, 2]); keel.tensor([[1, 2], [3, 4]]);
 */
export function tensor(values: TensorLike, shape?: readonly number[], dtype: DType = 'float32'): Tensor {
  if (values instanceof Tensor) {
    return shape ? reshape(values, shape) : copy(values);
  }
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (ArrayBuffer.isView(values)) {
    flat = values as unknown as ArrayLike<number>;
    inferred = [flat.length];
  } else if (Array.isArray(values)) {
    inferred = inferShape(values as NestedArray);
    flat = inferred.length > 1 ? flattenNested(values as NestedArray[], inferred) : (values as number[]);
  } else if (typeof values === 'number') {
    flat = [values];
    inferred = [];
  } else {
    throw new ValueError(
      `tensor: expected a number, an array of numbers or a typed array, received ${describe(values)}.`,
    );
  }
  const finalShape = shape ? [...shape] : inferred;
  checkShape('tensor', finalShape);
  if (sizeOf(finalShape) !== flat.length) {
    throw new ShapeError(
      `tensor: shape ${formatShape(finalShape)} holds ${sizeOf(finalShape)} values, but ${flat.length} were given. ` +
        `Pass a shape whose dimensions multiply to ${flat.length}, or omit it.`,
    );
  }
  const out = empty(finalShape, dtype);
  if (ArrayBuffer.isView(flat)) {
    // Typed arrays hold numbers only: one conversion pass, no per-value check.
    out.values.set(flat as unknown as ArrayLike<number>);
    return out;
  }
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (typeof v !== 'number') {
      throw new ValueError(`tensor: expected numbers, received ${describe(v)} at flat index ${i}.`);
    }
    out.values[i] = v;
  }
  return out;
}

/** A tensor of zeros with storage from the backend that serves `dtype`. */
export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return empty(shape, dtype);
}

/** A tensor whose values are all `value`. */
export function fill(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  const t = empty(shape, dtype);
  t.values.fill(value);
  return t;
}

/** A tensor of ones. */
export function ones(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return fill(shape, 1, dtype);
}

/** A copy with its own storage. */
/** Sets every value of `t` to `value`, in place (on the backend: see Backend.fill). */
export function fillInPlace(t: Tensor, value: number): void {
  backendFor(t.dtype).fill(t.values, t.size, value);
}

/** The flat index of the first NaN or ±Infinity in `t`, or −1 (on the backend: see Backend.findNonFinite). */
export function findNonFinite(t: Tensor): number {
  return backendFor(t.dtype).findNonFinite(t.values, t.size);
}

export function copy(t: Tensor, dtype: DType = t.dtype): Tensor {
  const out = empty(t.shape, dtype);
  out.values.set(t.values);
  return out;
}

/** The same values under another shape (a copy: tensors never share storage). */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  if (sizeOf(shape) !== t.size) {
    throw new ShapeError(
      `reshape: cannot reshape ${formatShape(t.shape)} (${t.size} values) to ${formatShape(shape)} (${sizeOf(shape)} values).`,
    );
  }
  const out = empty(shape, t.dtype);
  out.values.set(t.values);
  return out;
}

/** Rows [start, end) of a tensor along its first axis, copied. */
export function sliceRows(t: Tensor, start: number, end: number): Tensor {
  const rowSize = t.size / t.shape[0];
  const out = empty([end - start, ...t.shape.slice(1)], t.dtype);
  out.values.set(t.values.subarray(start * rowSize, end * rowSize));
  return out;
}

/**
 * A part of `x`, copied: `size[i]` values from `begin[i]` along each axis, as TF.js's `tf.slice`.
 * A number for `begin` (and `size`) slices the first axis only; a size of -1 (or a missing one)
 * means "to the end of that axis".
 *
 * @example keel.slice(images, 0, 100); // the first 100 images
 */
export function slice(x: Tensor, begin: number | readonly number[], size?: number | readonly number[]): Tensor {
  if (!(x instanceof Tensor)) throw new ValueError(`slice: expected x to be a Tensor, received ${describe(x)}.`);
  const rank = x.shape.length;
  const starts = typeof begin === 'number' ? [begin, ...Array(Math.max(rank - 1, 0)).fill(0)] : [...begin];
  const sizes = size === undefined ? [] : typeof size === 'number' ? [size] : [...size];
  if (rank === 0 || starts.length !== rank || sizes.length > rank) {
    throw new ShapeError(
      `slice: expected begin (and size) with at most ${rank} entries for a tensor of shape ${formatShape(x.shape)}, ` +
        `received begin ${JSON.stringify(begin)} and size ${JSON.stringify(size)}.`,
    );
  }
  const outShape = x.shape.map((d, i) => {
    const start = starts[i];
    const n = sizes[i] === undefined || sizes[i] === -1 ? d - start : sizes[i];
    if (!Number.isInteger(start) || !Number.isInteger(n) || start < 0 || n < 0 || start + n > d) {
      throw new ShapeError(
        `slice: axis ${i} of shape ${formatShape(x.shape)} has ${d} values; begin ${start} with size ${n} does not fit. ` +
          `Use 0 ≤ begin and begin + size ≤ ${d}.`,
      );
    }
    return n;
  });
  const out = empty(outShape, x.dtype);
  // Copy runs of the last axis; the outer axes are walked like an odometer.
  const strides = x.shape.map((_, i) => sizeOf(x.shape.slice(i + 1)));
  const run = outShape[rank - 1];
  const index = new Array(rank - 1).fill(0);
  const runs = sizeOf(outShape.slice(0, -1));
  for (let r = 0, to = 0; r < runs; r++, to += run) {
    let from = starts[rank - 1];
    for (let a = 0; a < rank - 1; a++) from += (starts[a] + index[a]) * strides[a];
    out.values.set(x.values.subarray(from, from + run), to);
    for (let a = rank - 2; a >= 0; a--) {
      if (++index[a] < outShape[a]) break;
      index[a] = 0;
    }
  }
  return out;
}

/** Zeroed storage of a shape, from the backend that serves `dtype`. @internal */
export function empty(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  const backend = backendFor(dtype);
  return new Tensor(backend.alloc(sizeOf(shape), dtype), shape, (values) => backend.release(values));
}

/** Wraps storage that Keel already owns. @internal */
export function wrap(values: FloatArray, shape: readonly number[]): Tensor {
  return new Tensor(values, shape);
}

function inferShape(values: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = values;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

function flattenNested(values: NestedArray[], shape: number[]): number[] {
  const flat: number[] = [];
  const walk = (v: NestedArray, depth: number, path: string) => {
    if (depth === shape.length) {
      if (Array.isArray(v)) {
        throw new ShapeError(`tensor: nested arrays are ragged: ${path} is an array, expected a number.`);
      }
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new ShapeError(
        `tensor: nested arrays are ragged: ${path} has ${Array.isArray(v) ? v.length : 'no'} elements, ` +
          `expected ${shape[depth]} as in the first element. Every row must have the same length.`,
      );
    }
    v.forEach((e, i) => walk(e, depth + 1, `${path}[${i}]`));
  };
  walk(values, 0, 'values');
  return flat;
}

function checkShape(where: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${where}: shape ${formatShape(shape)} must hold non-negative integers.`);
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array`;
  return typeof v === 'object' ? (v as object).constructor?.name ?? 'an object' : `${typeof v} ${String(v)}`;
}
