/**
 * Metrics. `'accuracy'` (or TF.js's `'acc'`) resolves, as in Keras and TF.js, to the accuracy that
 * fits the loss: sparse categorical (argmax = label), categorical (argmax = argmax of the label), or
 * binary, for binaryCrossentropy or a single output unit: (p > 0.5 ? 1 : 0) = label, per value,
 * averaged over the values of an example. The metric is logged under the name given ('accuracy' or
 * 'acc'; History reads both spellings, see models/callbacks.ts).
 */
import type { Tensor } from '../core/tensor.js';
import { unknownName } from '../core/errors.js';
import type { LossName } from '../losses/index.js';

export interface Metric {
  /** Key in logs and History: 'accuracy'. */
  readonly name: string;
  /** Number of correct examples in the batch (the model averages over examples). */
  correct(p: Tensor, labels: Tensor): number;
}

export const METRICS = ['accuracy', 'acc'] as const;

export function getMetric(name: string, loss: LossName, outputUnits: number): Metric {
  if (name !== 'accuracy' && name !== 'acc') return unknownName('metric', name, METRICS);
  // TF.js's order of tests (training.ts): one unit or binaryCrossentropy first, so a single sigmoid
  // unit under any loss gets the binary accuracy.
  if (loss === 'binaryCrossentropy' || outputUnits === 1) return { name, correct: binaryCorrect };
  if (loss === 'sparseCategoricalCrossentropy') return { name, correct: sparseCorrect };
  return { name, correct: categoricalCorrect };
}

function argmaxRow(values: ArrayLike<number>, o: number, cols: number): number {
  let best = 0;
  for (let c = 1; c < cols; c++) if (values[o + c] > values[o + best]) best = c;
  return best;
}

function sparseCorrect(p: Tensor, labels: Tensor): number {
  const cols = p.shape[p.rank - 1];
  const rows = p.size / cols;
  let n = 0;
  for (let r = 0; r < rows; r++) if (argmaxRow(p.values, r * cols, cols) === labels.values[r]) n++;
  return n;
}

function categoricalCorrect(p: Tensor, labels: Tensor): number {
  const cols = p.shape[p.rank - 1];
  const rows = p.size / cols;
  let n = 0;
  for (let r = 0; r < rows; r++) if (argmaxRow(p.values, r * cols, cols) === argmaxRow(labels.values, r * cols, cols)) n++;
  return n;
}

/**
 * TF.js's binaryAccuracy and Keras 3's binary_accuracy: the prediction is thresholded
 * (p > 0.5 ? 1 : 0) and compared for equality with the label as it is, so a soft label such as 0.9
 * never counts as correct. Counted per output value; the model divides by rows, so scale by 1/cols.
 */
function binaryCorrect(p: Tensor, labels: Tensor): number {
  const cols = p.shape[p.rank - 1];
  let n = 0;
  for (let i = 0; i < p.size; i++) if ((p.values[i] > 0.5 ? 1 : 0) === labels.values[i]) n++;
  return n / cols;
}
