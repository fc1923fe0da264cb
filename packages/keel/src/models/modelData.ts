/**
 * What a model's data must be, and the buffers batches are copied into: the checks of `fit`,
 * `evaluate`, `predict` and `trainOnBatch` (shapes, finiteness, labels against the loss) and the
 * reused batch buffers. A model of several inputs takes an array of them, one per input.
 */
import { Tensor, sameShape, type DType, type NestedArray } from '../core/tensor.js';
import { ShapeError, StateError, ValueError, describeValue, formatShape } from '../core/errors.js';
import { checkFinite, empty, toBatch, type TypedArray } from '../ops/tensor.js';
import type { Loss } from '../losses/index.js';

/**
 * Inputs, as `fit`, `evaluate`, `predict` and `trainOnBatch` take them: a Tensor, or nested arrays
 * with the batch axis first (converted by `keel.tensor`). A flat typed array has no shape and is
 * refused with the shape to give: `keel.tensor(pixels, [n, 28, 28])`. A model of several inputs
 * takes an array of these, one per input in the order of its `inputs`.
 */
export type InputData = Tensor | NestedArray[] | Tensor[];

/**
 * Labels: a Tensor, nested arrays, or a flat array or typed array read as one label per example
 * (shape [n], e.g. an Int32Array of class indices).
 */
export type LabelData = Tensor | NestedArray[] | TypedArray;

/** The shapes a model takes and gives, for messages and checks. */
export interface DataSpec {
  inputShapes: number[][];
  outputShape: number[];
}

/** What the caller of `where` is doing, for the end of a message: "before predicting". */
export function activity(where: string): string {
  if (where.startsWith('predict')) return 'predicting';
  if (where.startsWith('evaluate')) return 'evaluating';
  return 'training';
}

export function positiveInteger(where: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new ValueError(`${where}: expected ${name} to be a positive integer, received ${describeValue(v)}.`);
}

/** Converts `data` (see InputData) and checks it fits the model; returns one Tensor per input. */
export function checkInputs(where: string, spec: DataSpec, data: unknown): Tensor[] {
  const count = spec.inputShapes.length;
  let parts: unknown[];
  if (count === 1) {
    // [tensor] is TF.js's spelling of one input, too.
    parts = Array.isArray(data) && data.length === 1 && data[0] instanceof Tensor ? data : [data];
  } else {
    if (!Array.isArray(data) || data.length !== count) {
      throw new ValueError(
        `${where}: the model has ${count} inputs (shapes ${spec.inputShapes.map((s) => formatShape([null, ...s])).join(', ')}); ` +
          `expected x as an array of ${count} tensors in that order, received ${describeValue(data)}.`,
      );
    }
    parts = data;
  }
  const xs = parts.map((part, i) => checkOneInput(where, count === 1 ? 'x' : `x[${i}]`, spec.inputShapes[i], part));
  const n = xs[0].shape[0];
  xs.forEach((x, i) => {
    if (x.shape[0] !== n) {
      throw new ShapeError(`${where}: x[0] holds ${n} examples but x[${i}] holds ${x.shape[0]}; every input needs one row per example.`);
    }
  });
  return xs;
}

function checkOneInput(where: string, name: string, expected: readonly number[], data: unknown): Tensor {
  const x = toBatch(where, name, data, expected, (shape) => {
    if (shape.length !== expected.length + 1 || !sameShape(shape.slice(1), expected)) {
      throw new ShapeError(
        `${where}: expected ${name} of shape ${formatShape([null, ...expected])} (a batch of inputs of shape ` +
          `${formatShape(expected)}), received ${formatShape(shape)}.` +
          (shape.length === expected.length ? ` For one example, add a batch axis: shape [1, ${expected.join(',')}].` : ''),
      );
    }
  });
  if (x.isDisposed) throw new StateError(`${where}: ${name} was disposed; pass a tensor that is still alive.`);
  if (x.shape[0] === 0) throw new ShapeError(`${where}: ${name} holds no examples (shape ${formatShape(x.shape)}).`);
  checkFinite(where, name, x, `Replace or drop the examples with missing or infinite values (impute them, or check the ` +
    `preprocessing that produced them) before ${activity(where)}.`);
  return x;
}

/** Converts and checks inputs and labels (see InputData, LabelData). */
export function checkData(where: string, spec: DataSpec, loss: Loss, xData: unknown, yData: unknown): [Tensor[], Tensor] {
  const xs = checkInputs(where, spec, xData);
  const y = toBatch(where, 'y', yData, null);
  if (y.isDisposed) throw new StateError(`${where}: y was disposed; pass a tensor that is still alive.`);
  const n = xs[0].shape[0];
  if (y.rank === 0 || y.shape[0] !== n) {
    const perExample = y.size / n;
    throw new ShapeError(
      `${where}: x holds ${n} examples but y holds ${y.rank === 0 ? 'a single number' : `${y.shape[0]} labels`}; they must match.` +
        (y.rank === 1 && Number.isInteger(perExample) && perExample > 1
          ? ` A flat array of labels is read as one label per example; for ${perExample} values per example ` +
            `pass keel.tensor(y, [${n}, ${perExample}]).`
          : ''),
    );
  }
  checkFinite(where, 'y', y, `Fix or drop the examples whose labels are missing or infinite before ${activity(where)}.`);
  loss.checkLabels(y, [n, ...spec.outputShape]);
  return [xs, y];
}

/**
 * Batch boundaries. Differs from Keras: a last batch of a single example is merged into the one
 * before it, because BatchNormalization cannot train on one example.
 */
export function batchBounds(n: number, batchSize: number): [number, number][] {
  const bounds: [number, number][] = [];
  for (let start = 0; start < n; start += batchSize) bounds.push([start, Math.min(n, start + batchSize)]);
  if (bounds.length > 1 && bounds[bounds.length - 1][1] - bounds[bounds.length - 1][0] === 1) {
    bounds.pop();
    bounds[bounds.length - 1][1] = n;
  }
  return bounds;
}

/** Reused buffers, one per key, shape and dtype, so that training allocates only in its first steps. */
export class Workspace {
  private readonly slots = new Map<string, Tensor>();

  buffer(key: string, shape: readonly number[], dtype: DType): Tensor {
    const slot = `${key}:${shape.join('x')}:${dtype}`;
    let t = this.slots.get(slot);
    if (!t) {
      if (this.slots.size >= 64) this.slots.clear();
      t = empty(shape, dtype);
      this.slots.set(slot, t);
    }
    return t;
  }

  /** Rows order[start..end) of `t`, as `dtype`, in a reused buffer. */
  gather(key: string, t: Tensor, order: Int32Array, start: number, end: number, dtype: DType): Tensor {
    const rowSize = t.size / t.shape[0];
    const out = this.buffer(key, [end - start, ...t.shape.slice(1)], dtype);
    for (let i = start; i < end; i++) {
      const src = order[i] * rowSize;
      out.values.set(t.values.subarray(src, src + rowSize), (i - start) * rowSize);
    }
    return out;
  }

  /** Rows start..end of `t`, as `dtype`, in a reused buffer. */
  sliceInto(key: string, t: Tensor, start: number, end: number, dtype: DType): Tensor {
    const rowSize = t.size / t.shape[0];
    const out = this.buffer(key, [end - start, ...t.shape.slice(1)], dtype);
    out.values.set(t.values.subarray(start * rowSize, end * rowSize));
    return out;
  }
}

/** The loss alone, as `evaluate` returns it without metrics: a scalar that destructures as `[loss]`. */
export class LossScalar extends Tensor {
  *[Symbol.iterator](): Iterator<Tensor> {
    yield this;
  }
}
