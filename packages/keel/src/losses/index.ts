/**
 * Losses: the mean over the batch of a per-example loss, and its gradient.
 *
 * | name                           | per example                                  | labels                 |
 * |--------------------------------|----------------------------------------------|------------------------|
 * | sparseCategoricalCrossentropy  | −log p[label]                                | [N] or [N,1] integers  |
 * | categoricalCrossentropy        | −Σ_c y_c·log p_c                             | [N, C] (one-hot)       |
 * | binaryCrossentropy             | −mean_c(y log p + (1−y) log(1−p))            | [N, C] in [0, 1]       |
 * | meanSquaredError               | mean_c (p − y)²                              | [N, C]                 |
 *
 * When the model ends in softmax (cross-entropies) or sigmoid (binary cross-entropy), the loss is
 * computed from the logits z (log-softmax, or max(z,0) − z·y + log(1 + e^−|z|)) and the gradient
 * with respect to z is the exact (p − y)/N, which neither overflows nor loses precision.
 * Differs from Keras: Keras computes these from probabilities clipped to [1e-7, 1 − 1e-7], so the two
 * disagree only where a probability is below 1e-7 (Keel's loss keeps growing, Keras's saturates at 16.1).
 */
import type { Tensor } from '../core/tensor.js';
import { ShapeError, ValueError, formatShape, unknownName } from '../core/errors.js';
import type { ActivationName } from '../ops/activations.js';

const EPSILON = 1e-7;

export interface Loss {
  readonly name: LossName;
  /** The activation whose logits this loss can take directly, if any. */
  readonly fusesWith: ActivationName | null;
  /** Throws unless `labels` fit predictions of shape `outputShape` (with batch). */
  checkLabels(labels: Tensor, outputShape: readonly number[]): void;
  /** Mean loss over the batch; writes dL/dp into `grad` if given. */
  fromOutputs(p: Tensor, labels: Tensor, grad: Tensor | null): number;
  /** Mean loss from the logits z of the fused activation, with p = activation(z); dL/dz into `grad`. */
  fromLogits(z: Tensor, p: Tensor, labels: Tensor, grad: Tensor | null): number;
}

export const LOSSES = [
  'sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError',
] as const;
export type LossName = (typeof LOSSES)[number];

const ALIASES: Record<string, LossName> = {
  sparse_categorical_crossentropy: 'sparseCategoricalCrossentropy',
  categorical_crossentropy: 'categoricalCrossentropy',
  binary_crossentropy: 'binaryCrossentropy',
  mean_squared_error: 'meanSquaredError',
  mse: 'meanSquaredError',
};

export function getLoss(name: string): Loss {
  // A name that is not a string is never used as a key: String() of a nested array is megabytes.
  if (typeof name !== 'string') return unknownName('loss', name, LOSSES);
  const resolved = (LOSSES as readonly string[]).includes(name) ? (name as LossName) : Object.hasOwn(ALIASES, name) ? ALIASES[name] : undefined;
  switch (resolved) {
    case 'sparseCategoricalCrossentropy': return sparseCategoricalCrossentropy;
    case 'categoricalCrossentropy': return categoricalCrossentropy;
    case 'binaryCrossentropy': return binaryCrossentropy;
    case 'meanSquaredError': return meanSquaredError;
    default: return unknownName('loss', name, LOSSES);
  }
}

function dims(p: Tensor): [number, number] {
  const cols = p.shape[p.rank - 1];
  return [p.size / cols, cols];
}

function sameAsOutput(where: string, labels: Tensor, outputShape: readonly number[]): void {
  if (labels.rank !== outputShape.length || labels.shape.some((d, i) => d !== outputShape[i])) {
    throw new ShapeError(
      `${where}: expected labels of shape ${formatShape(outputShape)} (the model's output), received ${formatShape(labels.shape)}.` +
        (where === 'categoricalCrossentropy' && labels.rank === 1
          ? ` For integer class labels use loss 'sparseCategoricalCrossentropy'.`
          : ''),
    );
  }
}

/** −log p[label], labels are class indices. */
const sparseCategoricalCrossentropy: Loss = {
  name: 'sparseCategoricalCrossentropy',
  fusesWith: 'softmax',
  checkLabels(labels, outputShape) {
    const n = outputShape[0];
    const classes = outputShape[outputShape.length - 1];
    const ok = (labels.rank === 1 && labels.shape[0] === n) || (labels.rank === 2 && labels.shape[0] === n && labels.shape[1] === 1);
    if (!ok) {
      throw new ShapeError(
        `sparseCategoricalCrossentropy: expected labels of shape [${n}] or [${n},1] (one class index per example), ` +
          `received ${formatShape(labels.shape)}.` +
          (labels.rank === 2 && labels.shape[1] === classes ? ` For one-hot labels use loss 'categoricalCrossentropy'.` : ''),
      );
    }
    for (let i = 0; i < labels.size; i++) {
      const v = labels.values[i];
      if (!Number.isInteger(v) || v < 0 || v >= classes) {
        throw new ValueError(
          `sparseCategoricalCrossentropy: labels must be integers in [0, ${classes}) for a model with ${classes} outputs, ` +
            `received ${v} at index ${i}. Check the labels, or the number of units of the last layer.`,
        );
      }
    }
  },
  fromOutputs(p, labels, grad) {
    const [rows, cols] = dims(p);
    if (grad) grad.values.fill(0);
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const i = r * cols + labels.values[r];
      const pc = Math.min(Math.max(p.values[i], EPSILON), 1 - EPSILON);
      total -= Math.log(pc);
      if (grad && pc === p.values[i]) grad.values[i] = -1 / (rows * pc);
    }
    return total / rows;
  },
  fromLogits(z, p, labels, grad) {
    const [rows, cols] = dims(z);
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      total -= logSoftmaxAt(z.values, o, cols, labels.values[r]);
      if (grad) {
        for (let c = 0; c < cols; c++) grad.values[o + c] = p.values[o + c] / rows;
        grad.values[o + labels.values[r]] -= 1 / rows;
      }
    }
    return total / rows;
  },
};

/** −Σ y·log p, labels are distributions over classes (usually one-hot). */
const categoricalCrossentropy: Loss = {
  name: 'categoricalCrossentropy',
  fusesWith: 'softmax',
  checkLabels(labels, outputShape) {
    sameAsOutput('categoricalCrossentropy', labels, outputShape);
  },
  fromOutputs(p, labels, grad) {
    const [rows] = dims(p);
    let total = 0;
    for (let i = 0; i < p.size; i++) {
      const y = labels.values[i];
      const pc = Math.min(Math.max(p.values[i], EPSILON), 1 - EPSILON);
      if (y !== 0) total -= y * Math.log(pc);
      if (grad) grad.values[i] = pc === p.values[i] ? -y / (rows * pc) : 0;
    }
    return total / rows;
  },
  fromLogits(z, p, labels, grad) {
    const [rows, cols] = dims(z);
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let ySum = 0;
      for (let c = 0; c < cols; c++) {
        const y = labels.values[o + c];
        ySum += y;
        if (y !== 0) total -= y * logSoftmaxAt(z.values, o, cols, c);
      }
      // d/dz of −Σ y log softmax(z) = p·Σy − y
      if (grad) for (let c = 0; c < cols; c++) grad.values[o + c] = (p.values[o + c] * ySum - labels.values[o + c]) / rows;
    }
    return total / rows;
  },
};

/** Binary cross-entropy averaged over the outputs of each example, then over the batch. */
const binaryCrossentropy: Loss = {
  name: 'binaryCrossentropy',
  fusesWith: 'sigmoid',
  checkLabels(labels, outputShape) {
    sameAsOutput('binaryCrossentropy', labels, outputShape);
    for (let i = 0; i < labels.size; i++) {
      const v = labels.values[i];
      if (!(v >= 0 && v <= 1)) {
        throw new ValueError(`binaryCrossentropy: labels must lie in [0, 1], received ${v} at flat index ${i}.`);
      }
    }
  },
  fromOutputs(p, labels, grad) {
    const n = p.size;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const y = labels.values[i];
      const pc = Math.min(Math.max(p.values[i], EPSILON), 1 - EPSILON);
      total -= y * Math.log(pc) + (1 - y) * Math.log(1 - pc);
      if (grad) grad.values[i] = pc === p.values[i] ? (pc - y) / (pc * (1 - pc) * n) : 0;
    }
    return total / n;
  },
  fromLogits(z, p, labels, grad) {
    const n = z.size;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const x = z.values[i];
      const y = labels.values[i];
      total += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
      if (grad) grad.values[i] = (p.values[i] - y) / n;
    }
    return total / n;
  },
};

/** Mean of (p − y)² over the outputs of each example, then over the batch. */
const meanSquaredError: Loss = {
  name: 'meanSquaredError',
  fusesWith: null,
  checkLabels(labels, outputShape) {
    sameAsOutput('meanSquaredError', labels, outputShape);
  },
  fromOutputs(p, labels, grad) {
    const n = p.size;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = p.values[i] - labels.values[i];
      total += d * d;
      if (grad) grad.values[i] = (2 * d) / n;
    }
    return total / n;
  },
  fromLogits() {
    throw new Error('meanSquaredError has no fused form');
  },
};

/** log softmax(z)[c] for row starting at `o`: z_c − max − log Σ exp(z − max). */
function logSoftmaxAt(z: ArrayLike<number>, o: number, cols: number, c: number): number {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) max = Math.max(max, z[o + j]);
  let sum = 0;
  for (let j = 0; j < cols; j++) sum += Math.exp(z[o + j] - max);
  return z[o + c] - max - Math.log(sum);
}
