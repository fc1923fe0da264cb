/** Making tensors: the only place that turns user data into Keel storage. */
import { Tensor, sizeOf, type DType, type FloatArray, type NestedArray } from '../core/tensor.js';
import { ShapeError, ValueError, describeValue, formatIndex, formatShape } from '../core/errors.js';
import { isTensorLike } from '../core/format.js';
import { backendFor } from '../backend/backend.js';

export type TypedArray =
  | Float32Array | Float64Array | Int32Array | Uint8Array | Uint8ClampedArray | Int8Array | Int16Array | Uint16Array | Uint32Array;

export type TensorLike = Tensor | NestedArray | TypedArray | readonly number[];

/**
 * Makes a tensor from a flat typed array or number array with a shape, or from nested arrays
 * (the shape is then inferred). Integer arrays (labels) are converted to floats.
 *
 * @example keel.tensor([1, 2, 3, 4], [2, 2]); keel.tensor([[1, 2], [3, 4]]);
 */
export function tensor(values: TensorLike, shape?: readonly number[], dtype: DType = 'float32'): Tensor {
  if (values instanceof Tensor) {
    values.assertAlive('tensor');
    return shape ? reshape(values, shape) : copy(values);
  }
  return fromValues('tensor', 'values', values, shape, dtype);
}

/**
 * What `fit`, `evaluate`, `predict` and `trainOnBatch` take as a batch, as a Tensor: a Tensor as it
 * is, nested arrays (batch axis first) through `keel.tensor`. A flat typed or number array has no
 * shape: for inputs (`example` given, the shape of one example) it is refused with the shape to
 * pass; for labels (`example` null) it is read as one label per example, shape [length].
 * `checkBatchShape`, if given, sees the shape before any value is copied, so that a batch of the wrong
 * shape is refused at once however big. @internal
 */
export function toBatch(
  where: string, name: string, value: unknown, example: readonly number[] | null,
  checkBatchShape?: (shape: readonly number[]) => void,
): Tensor {
  if (value instanceof Tensor) {
    if (!value.isDisposed) checkBatchShape?.(value.shape); // the caller says what a disposed tensor means
    return value;
  }
  if (isTensorLike(value)) {
    throw new ValueError(
      `${where}: expected ${name} to be a Keel Tensor, received ${describeValue(value)}, a tensor of another library ` +
        `(or of another copy of Keel). Convert it with keel.tensor(await ${name}.data(), ${name}.shape).`,
    );
  }
  const typed = ArrayBuffer.isView(value) && !(value instanceof DataView);
  if (!typed && !Array.isArray(value)) {
    throw new ValueError(
      `${where}: expected ${name} to be a Tensor or nested arrays of numbers (batch axis first), received ${describeValue(value)}.`,
    );
  }
  const length = (value as ArrayLike<unknown>).length;
  if (length === 0) throw new ShapeError(`${where}: ${name} is an empty array; it holds no examples.`);
  const flat = typed || !Array.isArray((value as unknown[])[0]);
  if (flat && example !== null && example.length > 0) {
    const perExample = sizeOf(example);
    const examples = length / perExample;
    throw new ShapeError(
      `${where}: ${name} is flat (${describeValue(value)}), with no batch axis: Keel cannot tell where one example ends. ` +
        (Number.isInteger(examples)
          ? `Pass keel.tensor(${name}, [${[examples, ...example].join(', ')}]) (${examples} example${examples === 1 ? '' : 's'} of shape ` +
            `${formatShape(example)}), or nested arrays with the batch axis first.`
          : `The model takes examples of shape ${formatShape(example)} (${perExample} values each), and ${length} values ` +
            `are not a whole number of them; check the data, then pass keel.tensor(${name}, [examples, ${example.join(', ')}]).`),
    );
  }
  return fromValues(where, name, value as TensorLike, undefined, 'float32', checkBatchShape);
}

/** keel.tensor's conversion of arrays, with `where` and `name` in its messages. */
function fromValues(
  where: string, name: string, values: unknown, shape: readonly number[] | undefined, dtype: DType,
  checkBatchShape?: (shape: readonly number[]) => void,
): Tensor {
  let inferred: number[];
  if (ArrayBuffer.isView(values) && !(values instanceof DataView)) {
    inferred = [(values as unknown as ArrayLike<number>).length];
  } else if (Array.isArray(values)) {
    inferred = inferShape(values);
  } else if (typeof values === 'number') {
    inferred = [];
  } else {
    throw new ValueError(
      `${where}: expected ${name} to be a number, an array of numbers or a typed array, received ${describeValue(values)}.`,
    );
  }
  const finalShape = shape ? [...shape] : inferred;
  checkShape(where, finalShape);
  const n = sizeOf(inferred);
  if (sizeOf(finalShape) !== n) {
    throw new ShapeError(
      `${where}: shape ${formatShape(finalShape)} holds ${sizeOf(finalShape)} values, but ${n} were given. ` +
        `Pass a shape whose dimensions multiply to ${n}, or omit it.`,
    );
  }
  checkBatchShape?.(finalShape);
  const out = empty(finalShape, dtype);
  if (typeof values === 'number') {
    out.values[0] = values;
  } else if (ArrayBuffer.isView(values)) {
    // Typed arrays hold numbers only: one conversion pass, no per-value check.
    out.values.set(values as unknown as ArrayLike<number>);
  } else {
    try {
      fillFromNested(out.values, values as unknown[], inferred, where, name);
    } catch (e) {
      out.dispose();
      throw e;
    }
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

/** Sets every value of `t` to `value`, in place (on the backend: see Backend.fill). */
export function fillInPlace(t: Tensor, value: number): void {
  backendFor(t.dtype).fill(t.values, t.size, value);
}

/** The flat index of the first NaN or ±Infinity in `t`, or −1 (on the backend: see Backend.findNonFinite). */
export function findNonFinite(t: Tensor): number {
  return backendFor(t.dtype).findNonFinite(t.values, t.size);
}

/**
 * Throws a ValueError naming the first NaN or ±Infinity of `t` (called `name`) and where it is,
 * ending with `fix`, what the caller should do about it. @internal
 */
export function checkFinite(where: string, name: string, t: Tensor, fix: string): void {
  const i = findNonFinite(t);
  if (i < 0) return;
  const example = t.rank > 1 ? ` (example ${Math.floor(i / (t.size / t.shape[0]))})` : '';
  throw new ValueError(
    `${where}: ${name} must hold finite numbers, received ${t.values[i]} at flat index ${i}, ` +
      `${name}${formatIndex(i, t.shape)}${example}. ${fix}`,
  );
}

/** A copy with its own storage. */
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

/**
 * A part of `x`, copied: `size[i]` values from `begin[i]` along each axis, as TF.js's `tf.slice`.
 * A number for `begin` (and `size`) slices the first axis only; a size of -1 (or a missing one)
 * means "to the end of that axis".
 *
 * @example keel.slice(images, 0, 100); // the first 100 images
 */
export function slice(x: Tensor, begin: number | readonly number[], size?: number | readonly number[]): Tensor {
  if (!(x instanceof Tensor)) throw new ValueError(`slice: expected x to be a Tensor, received ${describeValue(x)}.`);
  x.assertAlive('slice');
  const rank = x.shape.length;
  const starts = typeof begin === 'number' ? [begin, ...Array(Math.max(rank - 1, 0)).fill(0)] : [...begin];
  const sizes = size === undefined ? [] : typeof size === 'number' ? [size] : [...size];
  if (rank === 0 || starts.length !== rank || sizes.length > rank) {
    throw new ShapeError(
      `slice: expected begin (and size) with at most ${rank} entries for a tensor of shape ${formatShape(x.shape)}, ` +
        `received begin ${describeValue(begin)} and size ${describeValue(size)}.`,
    );
  }
  const outShape = x.shape.map((d, i) => {
    const start = starts[i];
    const n = sizes[i] === undefined || sizes[i] === -1 ? d - start : sizes[i];
    if (!Number.isInteger(start) || !Number.isInteger(n) || start < 0 || n < 0 || start + n > d) {
      throw new ShapeError(
        `slice: axis ${i} of shape ${formatShape(x.shape)} has ${d} values; begin ${describeValue(start)} with size ${describeValue(n)} does not fit. ` +
          `Use 0 ≤ begin and begin + size ≤ ${d}.`,
      );
    }
    return n;
  });
  const out = empty(outShape, x.dtype);
  if (outShape.every((n, i) => i === 0 || n === x.shape[i])) {
    // Whole rows (the usual case: the first n images): one contiguous copy.
    const rowSize = sizeOf(x.shape.slice(1));
    out.values.set(x.values.subarray(starts[0] * rowSize, (starts[0] + outShape[0]) * rowSize));
    return out;
  }
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

/** The shape the first elements give: [v.length, v[0].length, ...]; the rest is checked while filling. */
function inferShape(values: unknown[]): number[] {
  const shape: number[] = [];
  let level: unknown = values;
  while (Array.isArray(level)) {
    if (shape.length === 32) {
      throw new ShapeError(`tensor: nested arrays deeper than 32 levels (a cyclic array?); Keel tensors have at most 32 axes.`);
    }
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

/**
 * Copies nested arrays of `shape` into `out`, row-major, checking that every row has the length of
 * the first and every leaf is a number. Paths are built only for the message of an error.
 */
function fillFromNested(out: FloatArray, values: unknown[], shape: readonly number[], where: string, name: string): void {
  const index: number[] = new Array(shape.length).fill(0);
  const last = shape.length - 1;
  const path = (depth: number) => `${name}${index.slice(0, depth).map((i) => `[${i}]`).join('')}`;
  const ragged = (depth: number, received: string): never => {
    throw new ShapeError(
      `${where}: ${name} is a ragged nested array: ${path(depth)} is ${received}, expected an array of ` +
        `${shape[depth]} elements like ${name}${'[0]'.repeat(depth)} (shape ${formatShape(shape)} from the first elements). ` +
        `Every row must have the same length.`,
    );
  };
  let k = 0;
  const walk = (v: unknown[], depth: number): void => {
    if (v.length !== shape[depth]) ragged(depth, `an array of ${v.length} elements`);
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      index[depth] = i;
      if (depth === last) {
        if (typeof e === 'number') {
          out[k++] = e;
        } else if (Array.isArray(e)) {
          throw new ShapeError(
            `${where}: ${name} is a ragged nested array: ${path(depth + 1)} is ${describeValue(e)}, expected a number ` +
              `(shape ${formatShape(shape)} from the first elements). Every row must have the same depth.`,
          );
        } else {
          throw new ValueError(`${where}: ${name} must hold numbers, received ${describeValue(e)} at ${path(depth + 1)}.`);
        }
      } else if (Array.isArray(e)) {
        walk(e, depth + 1);
      } else {
        ragged(depth + 1, describeValue(e));
      }
    }
  };
  if (shape.length > 0) walk(values, 0);
}

function checkShape(where: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${where}: shape ${formatShape(shape)} must hold non-negative integers.`);
    }
  }
}
