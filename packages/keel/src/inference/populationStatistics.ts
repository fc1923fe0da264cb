/**
 * Exact population statistics for BatchNormalization (Ioffe & Szegedy 2015, Algorithm 2): after
 * training, replace each BN layer's moving averages with the true mean and biased (1/N) variance
 * of its inputs over a data set, so that inference normalizes with what the data actually is.
 *
 *   μ = (1/N)·Σ xᵢ,   σ² = (1/N)·Σ (xᵢ − μ)²      per feature, over every example (and every
 *                                                  non-feature axis) of `x`
 *
 * Layers are done in graph order (topological: a BN comes after every layer it depends on), each
 * with every upstream BN already using its new statistics, so the figures are exactly what
 * inference sees. In a functional model, only the layers a BN depends on are run for it. Batches are merged with Chan et al.'s pairwise update in
 * float64 (stable even when the mean is large against the spread); memory does not grow with N.
 *
 * Gotcha: this costs one pass over `x` per BN layer (through the layers before it), not one pass.
 *
 * Batch Renormalization layers (`renorm: true`) get the same moving mean and moving variance, and
 * their movingStddev is set to sqrt(σ² + ε), the value Keras's renorm derives movingVariance from
 * (movingVariance = movingStddev² − ε): further training then continues from the recomputed
 * statistics instead of reverting to the old ones. renormMean and renormStddev are left as they are:
 * they only steer training (r and d), and replacing them would change the next training steps.
 * Ghost BN layers (`virtualBatchSize`) get the statistics of all of `x`, as any BN: their inference
 * is plain BN.
 *
 * Differs from Keras: Keras has no such function; its moving averages lag the final weights.
 */
import { Tensor, sameShape } from '../core/tensor.js';
import { ShapeError, StateError, ValueError, checkOptions, describeValue, formatShape } from '../core/errors.js';
import { BatchNormalization } from '../layers/batchNormalization.js';
import { LayersModel } from '../models/layersModel.js';
import { checkInputs as checkModelInputs, type InputData } from '../models/modelData.js';
import { inputsOfLayer } from '../models/graphExecution.js';
import { checkFinite, empty, toBatch, wrap } from '../ops/tensor.js';

export interface RecomputeBatchNormStatisticsArgs {
  /** Examples per forward pass (default 256). Larger is faster and uses more memory. */
  batchSize?: number;
  /** Called after each batch, e.g. for a progress bar. */
  onProgress?: (progress: RecomputeProgress) => void;
}

export interface RecomputeProgress {
  /** Name of the BN layer being measured. */
  layer: string;
  /** 0-based index of that layer among the model's BN layers, and their number. */
  layerIndex: number;
  layers: number;
  /** Examples of `x` seen so far for this layer, out of `examples`. */
  examplesDone: number;
  examples: number;
}

/** The statistics written into one BN layer. */
export interface RecomputedStatistics {
  layer: string;
  /** Values (per example and feature) the statistics were computed over. */
  count: number;
  mean: Float64Array;
  variance: Float64Array;
}

/**
 * Sets every BN layer's moving mean and moving variance to the exact mean and biased variance of
 * its inputs over all of `x` (inference mode upstream), and a renorm layer's moving stddev to match.
 * On error, the model is left unchanged.
 *
 * `x` is a Tensor or nested arrays, batch axis first, as `fit` takes it.
 *
 * @example await keel.recomputeBatchNormStatistics(model, xTrain, { batchSize: 512 });
 */
export async function recomputeBatchNormStatistics(
  model: LayersModel, xData: InputData, args: RecomputeBatchNormStatisticsArgs = {},
): Promise<RecomputedStatistics[]> {
  checkOptions('recomputeBatchNormStatistics', args, ['batchSize', 'onProgress']);
  const { batchSize = 256, onProgress } = args;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new ValueError(`recomputeBatchNormStatistics: expected batchSize to be a positive integer, received ${describeValue(batchSize)}.`);
  }
  const xs = checkInputs(model, xData);
  const graph = model.getGraph();
  const layers = graph.nodes.map((node) => node.layer);
  const targets = layers.flatMap((l, i) => (l instanceof BatchNormalization ? [i] : []));
  const before = targets.map((i) => {
    const bn = layers[i] as BatchNormalization;
    return [bn.movingMean.read(), bn.movingVariance.read(), bn.movingStddev?.read() ?? null] as const;
  });
  const results: RecomputedStatistics[] = [];
  const inputBuffers = new Map<string, Tensor>(); // one per batch length: memory stays flat over N
  try {
    for (let t = 0; t < targets.length; t++) {
      const bn = layers[targets[t]] as BatchNormalization;
      const features = bn.movingMean.value.size;
      const stats = new RunningMoments(features);
      const n = xs[0].shape[0];
      for (let start = 0; start < n; start += batchSize) {
        const end = Math.min(n, start + batchSize);
        const batch = xs.map((x, i) => rowsOf(x, start, end, layers[0].dtype, inputBuffers, i));
        const out = inputsOfLayer(graph, bn, batch)[0];
        stats.add(out.values, out.size / features);
        onProgress?.({ layer: bn.name, layerIndex: t, layers: targets.length, examplesDone: end, examples: n });
        if (((start / batchSize) & 63) === 63) await yieldToEventLoop();
      }
      const variance = stats.variance();
      bn.movingMean.write(wrap(toDtype(stats.mean, bn.movingMean.value.dtype), [features]));
      bn.movingVariance.write(wrap(toDtype(variance, bn.movingVariance.value.dtype), [features]));
      if (bn.movingStddev) {
        const stddev = variance.map((v) => Math.sqrt(v + bn.epsilon));
        bn.movingStddev.write(wrap(toDtype(stddev, bn.movingStddev.value.dtype), [features]));
      }
      results.push({ layer: bn.name, count: stats.count, mean: Float64Array.from(stats.mean), variance });
      await yieldToEventLoop();
    }
  } catch (e) {
    targets.forEach((i, t) => {
      const bn = layers[i] as BatchNormalization;
      bn.movingMean.write(before[t][0]);
      bn.movingVariance.write(before[t][1]);
      if (bn.movingStddev && before[t][2]) bn.movingStddev.write(before[t][2]);
    });
    throw e;
  }
  return results;
}

/**
 * Per-feature mean and sum of squared deviations, merged batch by batch (Chan, Golub & LeVeque):
 *   n = nₐ + n_b,  δ = μ_b − μₐ,  μ = μₐ + δ·n_b/n,  M2 = M2ₐ + M2_b + δ²·nₐ·n_b/n.
 */
export class RunningMoments {
  count = 0;
  readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly batchMean: Float64Array;
  private readonly batchM2: Float64Array;

  constructor(readonly features: number) {
    this.mean = new Float64Array(features);
    this.m2 = new Float64Array(features);
    this.batchMean = new Float64Array(features);
    this.batchM2 = new Float64Array(features);
  }

  /** Adds `rows` rows of `features` values (row-major). */
  add(values: ArrayLike<number>, rows: number): void {
    const f = this.features;
    const { batchMean, batchM2 } = this;
    batchMean.fill(0);
    batchM2.fill(0);
    for (let r = 0; r < rows; r++) {
      const o = r * f;
      for (let j = 0; j < f; j++) batchMean[j] += values[o + j];
    }
    for (let j = 0; j < f; j++) batchMean[j] /= rows;
    for (let r = 0; r < rows; r++) {
      const o = r * f;
      for (let j = 0; j < f; j++) {
        const d = values[o + j] - batchMean[j];
        batchM2[j] += d * d;
      }
    }
    const n = this.count + rows;
    for (let j = 0; j < f; j++) {
      const delta = batchMean[j] - this.mean[j];
      this.mean[j] += (delta * rows) / n;
      this.m2[j] += batchM2[j] + (delta * delta * this.count * rows) / n;
    }
    this.count = n;
  }

  /** Biased variance M2/N (Keras's and Keel's convention for BN). */
  variance(): Float64Array {
    return this.m2.map((v) => v / this.count);
  }
}

function checkInputs(model: LayersModel, data: unknown): Tensor[] {
  const where = 'recomputeBatchNormStatistics';
  if (!(model instanceof LayersModel)) {
    throw new ValueError(`${where}: expected a Sequential model as the first argument, received ${describeValue(model)}; a functional model (keel.model) is fine too.`);
  }
  if (model.inputShapes.length > 1) return checkModelInputs(where, { inputShapes: model.inputShapes, outputShape: model.outputShape }, data);
  const expected = model.inputShape;
  const x = toBatch(where, 'x', data, expected, (shape) => {
    if (shape.length !== expected.length + 1 || !sameShape(shape.slice(1), expected) || shape[0] === 0) {
      throw new ShapeError(
        `${where}: expected x of shape ${formatShape([null, ...expected])} with at least one example, received ${formatShape(shape)}.`,
      );
    }
  });
  if (x.isDisposed) throw new StateError(`${where}: x was disposed; pass a tensor that is still alive.`);
  checkFinite(where, 'x', x, `Replace or drop the examples with missing or infinite values (impute them, or check the ` +
    `preprocessing that produced them) before measuring statistics on them.`);
  return [x];
}

function rowsOf(x: Tensor, start: number, end: number, dtype: Tensor['dtype'], buffers: Map<string, Tensor>, input: number): Tensor {
  const rowSize = x.size / x.shape[0];
  const key = `${input}:${end - start}`;
  let out = buffers.get(key);
  if (!out) {
    out = empty([end - start, ...x.shape.slice(1)], dtype);
    buffers.set(key, out);
  }
  out.values.set(x.values.subarray(start * rowSize, end * rowSize));
  return out;
}

function toDtype(values: Float64Array, dtype: Tensor['dtype']): Float32Array | Float64Array {
  return dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
