/**
 * Stacking dataset elements into a batch, as `Dataset.batch` does: elements of the same structure
 * (a Tensor, a number, a flat array of numbers, or a plain object of those, nested) become one
 * element of that structure whose leaves are Tensors with a batch axis in front:
 * `[{xs: Tensor[28,28], ys: 3}, ...]` → `{xs: Tensor[n,28,28], ys: Tensor[n]}`.
 * The batch tensors are plain memory, left to the garbage collector.
 */
import { Tensor } from '../core/tensor.js';
import { ShapeError, ValueError, describeValue, formatShape } from '../core/errors.js';

/** What `batch` makes of an element type: the same structure, Tensors at the leaves. */
export type Batched<T> = T extends Tensor | number | ArrayLike<number>
  ? Tensor
  : T extends object ? { [K in keyof T]: Batched<T[K]> } : Tensor;

/** Stacks `elements` (at least one) into one batch. */
export function stack<T>(elements: readonly T[]): Batched<T> {
  return stackAt(elements, (e) => e, '') as Batched<T>;
}

function stackAt(elements: readonly unknown[], get: (e: unknown) => unknown, path: string): unknown {
  const first = get(elements[0]);
  if (first instanceof Tensor) return stackTensors(elements, get, path, first);
  if (typeof first === 'number') return stackNumbers(elements, get, path);
  if (ArrayBuffer.isView(first) && !(first instanceof DataView)) return stackFlat(elements, get, path, (first as unknown as ArrayLike<number>).length);
  if (Array.isArray(first) && first.every((v) => typeof v === 'number')) return stackFlat(elements, get, path, first.length);
  if (typeof first === 'object' && first !== null && Object.getPrototypeOf(first) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(first)) {
      out[key] = stackAt(elements, (e) => {
        const parent = get(e);
        if (typeof parent !== 'object' || parent === null || !(key in parent)) {
          throw new ValueError(`batch: elements differ in structure: ${path ? `${path} of ` : ''}one has no '${key}' (it is ${describeValue(parent)}); every element of a batch needs the keys of the first.`);
        }
        return (parent as Record<string, unknown>)[key];
      }, path === '' ? key : `${path}.${key}`);
    }
    return out;
  }
  throw new ValueError(
    `batch: cannot stack ${path ? `${path}, ` : 'the element '}${describeValue(first)}; the elements of a batch hold Tensors, numbers, flat arrays of numbers, ` +
      `or plain objects of those such as {xs: Tensor, ys: number}.`,
  );
}

function stackTensors(elements: readonly unknown[], get: (e: unknown) => unknown, path: string, first: Tensor): Tensor {
  first.assertAlive(`batch${path ? ` (${path})` : ''}`);
  const shape = first.shape;
  const rowSize = first.size;
  const out = first.dtype === 'float64' ? new Float64Array(elements.length * rowSize) : new Float32Array(elements.length * rowSize);
  for (let i = 0; i < elements.length; i++) {
    const t = get(elements[i]);
    if (!(t instanceof Tensor)) throw mismatch(path, i, describeValue(t), `a Tensor of shape ${formatShape(shape)}`);
    if (t.size !== rowSize || !sameDims(t.shape, shape)) throw mismatch(path, i, `of shape ${formatShape(t.shape)}`, `of shape ${formatShape(shape)}`);
    t.assertAlive(`batch${path ? ` (${path})` : ''}`);
    out.set(t.values, i * rowSize);
  }
  return new Tensor(out, [elements.length, ...shape]);
}

function stackNumbers(elements: readonly unknown[], get: (e: unknown) => unknown, path: string): Tensor {
  const out = new Float32Array(elements.length);
  for (let i = 0; i < elements.length; i++) {
    const v = get(elements[i]);
    if (typeof v !== 'number') throw mismatch(path, i, describeValue(v), 'a number');
    out[i] = v;
  }
  return new Tensor(out, [elements.length]);
}

function stackFlat(elements: readonly unknown[], get: (e: unknown) => unknown, path: string, length: number): Tensor {
  const out = new Float32Array(elements.length * length);
  for (let i = 0; i < elements.length; i++) {
    const v = get(elements[i]) as ArrayLike<number>;
    const flat = (ArrayBuffer.isView(v) && !(v instanceof DataView)) || Array.isArray(v);
    if (!flat || v.length !== length) throw mismatch(path, i, describeValue(v), `an array of ${length} numbers`);
    if (Array.isArray(v)) {
      for (let k = 0; k < length; k++) {
        if (typeof v[k] !== 'number') throw mismatch(path, i, `an array holding ${describeValue(v[k])}`, `an array of ${length} numbers`);
        out[i * length + k] = v[k];
      }
    } else {
      out.set(v, i * length);
    }
  }
  return new Tensor(out, [elements.length, length]);
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function mismatch(path: string, index: number, received: string, expected: string): ShapeError {
  return new ShapeError(
    `batch: ${path ? `${path} of ` : ''}element ${index} of the batch is ${received}, but that of the first is ${expected}; ` +
      `every element of a batch needs the same shape (resize or pad them in a map before batch).`,
  );
}
