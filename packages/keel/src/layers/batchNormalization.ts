/**
 * BatchNormalization: normalizes each feature (the last axis), then scales by γ and shifts by β.
 *
 * It behaves differently in training and in inference:
 * - training (`fit`, `trainOnBatch`, `apply(x, {training: true})`): uses the batch's own mean μ_B and
 *   *biased* variance σ²_B = mean((x − μ_B)²), y = γ·(x − μ_B)/sqrt(σ²_B + ε) + β, then updates
 *     movingMean     ← movingMean·momentum     + μ_B·(1 − momentum)
 *     movingVariance ← movingVariance·momentum + σ²_B·(1 − momentum)
 *   (Keras's convention: momentum is the weight of the *old* value, default 0.99. PyTorch's
 *   `momentum=0.1` is the weight of the new value and means the same as Keras's 0.9, and PyTorch
 *   stores the unbiased variance; Keel follows Keras.)
 * - inference (`predict`, `evaluate`, validation): y = γ·(x − movingMean)/sqrt(movingVariance + ε) + β,
 *   one instance at a time if need be.
 *
 * γ and β are trainable parameters; movingMean and movingVariance are non-trainable buffers (a BN
 * layer over 300 features holds 1,200 weights, 600 of them trainable). Setting `trainable = false`
 * freezes γ and β *and* runs the layer in inference mode, as Keras does since TF 2.0 for
 * fine-tuning.
 *
 * Batch Renormalization (`renorm: true`, Ioffe 2017), as Keras 3 computes it: training corrects the
 * batch's normalization towards moving estimates renormMean and renormStddev,
 *   σ_B = sqrt(σ²_B + ε),  σ = max(renormStddev, sqrt(ε)),  x̂ = (x − μ_B)/σ_B
 *   r = clip(σ_B/σ, rmin, rmax),  d = clip((μ_B − renormMean)/σ, −dmax, dmax)   (both stop-gradient)
 *   y = γ·(x̂·r + d) + β
 * and then updates (renorm_momentum for the first two, momentum for the others)
 *   renormMean   ← renormMean·renormMomentum   + μ_B·(1 − renormMomentum)
 *   renormStddev ← renormStddev·renormMomentum + σ_B·(1 − renormMomentum)
 *   movingMean   ← movingMean·momentum   + μ_B·(1 − momentum)
 *   movingStddev ← movingStddev·momentum + σ_B·(1 − momentum),  movingVariance = max(0, movingStddev² − ε)
 * Missing clipping bounds do not clip (rmax = ∞, rmin = 0, dmax = ∞); the paper uses rmin = 1/rmax
 * and relaxes rmax from 1 and dmax from 0 over training (`renormClippingSchedule`, models/renormSchedule.ts).
 * Inference is plain BN with movingMean and movingVariance, so a renorm layer folds like any BN.
 * The layer holds three more buffers, in Keras's order and names: moving_stddev, renorm_mean,
 * renorm_stddev (initialized to sqrt(movingVariance), movingMean and sqrt(movingVariance)).
 *
 * Ghost Batch Normalization (`virtualBatchSize: v`), as tf.keras 2 defines it: training reshapes the
 * batch of B examples to [v, B/v, ...] and normalizes each of the G = B/v virtual batches with its own
 * statistics (per feature, over its v examples and, for NHWC inputs, every position). Virtual batch j
 * holds examples j, j + G, j + 2G, ... (tf.keras's reshape interleaves them; they are not consecutive
 * rows). One set of moving statistics is updated, with the *average* of the virtual batches' means
 * and the average of their variances (tf.keras's one-step update; the average variance lacks the
 * spread between the virtual batches' means). v must divide every training batch: Keel refuses
 * before anything changes (tf.keras fails in its reshape). Inference ignores v (plain BN). With
 * renorm, r and d come from the averaged statistics and are shared by all virtual batches, as in
 * tf.keras 2.
 *
 * Gotcha: ε is inside the square root. With ε = 1e-3 (Keras's default; PyTorch uses 1e-5), a
 * feature of tiny variance is not scaled up to unit variance.
 * Gotcha: renorm with rmax = rmin = 1 and dmax = 0 is BN; with Keras's default rmin = 0, rmax = 1
 * still lets r fall below 1. With `fit`, the last batch of an epoch holds the remaining examples:
 * virtualBatchSize must divide it too.
 *
 * Training needs at least 2 values per feature (per virtual batch): the variance of one value is 0
 * and its normalized value meaningless, so Keel refuses rather than silently outputting β.
 *
 * Differs from Keras: Keel refuses renorm clipping whose [rmin, rmax] excludes 1 (rmax < 1 or
 * rmin > 1) or rmin < 0; Keras only requires rmax ≥ rmin and dmax ≥ 0. Such bounds keep r ≠ 1 even
 * when the batch matches the moving statistics.
 * Differs from Keras: Keras 3 has no virtualBatchSize (tf.keras 2 had it). tf.keras 2 stores the
 * weights of a layer with virtual_batch_size in shape [1, 1, ..., C]; Keel stores [C].
 */
import type { Tensor } from '../core/tensor.js';
import { ShapeError, ValueError, describeValue, formatShape } from '../core/errors.js';
import { Layer, type LayerArgs } from './layer.js';
import type { LayerVariable } from './variable.js';
import { getInitializer, type Initializer, type InitializerIdentifier } from '../initializers/index.js';
import {
  batchNorm, batchNormTraining, batchNormTrainingGrad, batchRenormCorrection, batchRenormParamGrads,
  type BatchNormSaved, type RenormClipping,
} from '../ops/batchNorm.js';
import { fill, wrap } from '../ops/tensor.js';

export type { RenormClipping } from '../ops/batchNorm.js';

export interface BatchNormalizationLayerArgs extends LayerArgs {
  /** The features axis. Only the last axis (-1, the default) is supported. */
  axis?: number;
  /** Weight of the old value in the moving averages, in [0, 1]. Default 0.99. */
  momentum?: number;
  /** Added to the variance inside the square root, > 0. Default 1e-3. */
  epsilon?: number;
  /** Learn a shift β (default true). */
  center?: boolean;
  /** Learn a scale γ (default true). */
  scale?: boolean;
  betaInitializer?: InitializerIdentifier | string;
  gammaInitializer?: InitializerIdentifier | string;
  movingMeanInitializer?: InitializerIdentifier | string;
  movingVarianceInitializer?: InitializerIdentifier | string;
  /** Batch Renormalization (Ioffe 2017) in training (default false). */
  renorm?: boolean;
  /**
   * With renorm: r is clipped to [rmin, rmax] (rmin ≤ 1 ≤ rmax) and d to [−dmax, dmax] (dmax ≥ 0).
   * A missing bound does not clip. Default {} (no clipping), as Keras.
   */
  renormClipping?: RenormClipping;
  /** With renorm: weight of the old value in renormMean and renormStddev, in [0, 1]. Default 0.99. */
  renormMomentum?: number;
  /** Ghost BN: training normalizes virtual batches of this many examples (must divide the batch). */
  virtualBatchSize?: number;
}

const KEYS = [
  'axis', 'momentum', 'epsilon', 'center', 'scale',
  'betaInitializer', 'gammaInitializer', 'movingMeanInitializer', 'movingVarianceInitializer',
  'renorm', 'renormClipping', 'renormMomentum', 'virtualBatchSize',
];

const CLIPPING_KEYS = ['rmax', 'rmin', 'dmax'] as const;

/**
 * What is wrong with a renorm clipping, in words (`label` names it: `renormClipping`, or a path in
 * a file), or null when it is valid: an object with only rmax (≥ 1), rmin (in [0, 1]) and dmax
 * (≥ 0), each a number (rmax and dmax may be Infinity), and null or missing meaning no bound.
 * @internal
 */
export function renormClippingProblem(clipping: unknown, label: string): string | null {
  if (typeof clipping !== 'object' || clipping === null || Array.isArray(clipping)) {
    return `expected ${label} to be an object {rmax?, rmin?, dmax?}, received ${describeValue(clipping)}.`;
  }
  const c = clipping as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (!(CLIPPING_KEYS as readonly string[]).includes(key)) {
      return `${label} has an unknown key '${key.slice(0, 40)}'; expected only rmax, rmin and dmax (a missing one does not clip).`;
    }
  }
  const bad = (key: string, rule: string, fix: string) =>
    `expected ${label}.${key} ${rule}, received ${describeValue(c[key])}. ${fix}`;
  const isNumber = (v: unknown) => typeof v === 'number' && !Number.isNaN(v);
  const given = (key: string) => c[key] !== undefined && c[key] !== null;
  if (given('rmax') && !(isNumber(c.rmax) && (c.rmax as number) >= 1)) {
    return bad('rmax', '≥ 1 (r = σ_B/σ is clipped to [rmin, rmax], which must contain 1, the value of r when the batch matches the moving statistics)',
      'Use rmax ≥ 1 (the paper relaxes it from 1 to 3), or leave it out for no upper bound.');
  }
  if (given('rmin') && !(isNumber(c.rmin) && (c.rmin as number) >= 0 && (c.rmin as number) <= 1)) {
    return bad('rmin', 'in [0, 1] (r = σ_B/σ is clipped to [rmin, rmax], which must contain 1)',
      'Use rmin = 1/rmax as the paper, or leave it out for no lower bound.');
  }
  if (given('dmax') && !(isNumber(c.dmax) && (c.dmax as number) >= 0)) {
    return bad('dmax', '≥ 0 (d is clipped to [−dmax, dmax])', 'Use dmax ≥ 0 (the paper relaxes it from 0 to 5), or leave it out for no bound.');
  }
  return null;
}

/** A validated copy of a clipping with only the bounds given, in the order rmax, rmin, dmax. */
function cleanClipping(c: RenormClipping): Readonly<RenormClipping> {
  const out: RenormClipping = {};
  for (const key of CLIPPING_KEYS) if (c[key] !== undefined && c[key] !== null) out[key] = c[key];
  return Object.freeze(out);
}

/** What a training forward keeps for its backward and for `commitState`. */
interface TrainingStep {
  /** The input as the kernels saw it: `x` itself, or its examples regrouped by virtual batch. */
  input: Tensor;
  /** Virtual batches (1 without virtualBatchSize); their statistics are `saved`, G·C values each. */
  groups: number;
  saved: BatchNormSaved;
  /** The statistics the moving averages take: the average over the virtual batches. */
  mean: Float64Array;
  variance: Float64Array;
  /** Renorm only: γ' = γ·r used in the forward (and so in the backward). */
  renormGamma: Tensor | null;
}

export class BatchNormalization extends Layer {
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly renorm: boolean;
  readonly renormMomentum: number;
  /** Examples per virtual batch in training (Ghost BN), or null for the whole batch. */
  readonly virtualBatchSize: number | null;
  private clipping: Readonly<RenormClipping>;
  private readonly initializers: Record<'beta' | 'gamma' | 'movingMean' | 'movingVariance', Initializer>;
  gamma: LayerVariable | null = null;
  beta: LayerVariable | null = null;
  movingMean!: LayerVariable;
  movingVariance!: LayerVariable;
  /** Renorm only (else null): Keras's moving_stddev, renorm_mean and renorm_stddev. */
  movingStddev: LayerVariable | null = null;
  renormMean: LayerVariable | null = null;
  renormStddev: LayerVariable | null = null;
  /** γ = 1 or β = 0 stand-ins when `scale` or `center` is false. */
  private fixedGamma: Tensor | null = null;
  private fixedBeta: Tensor | null = null;
  private step: TrainingStep | null = null;
  /** Renorm's r and d of the last training forward, one per feature. */
  private r = new Float64Array(0);
  private d = new Float64Array(0);
  /** The statistics of the last training batch (averaged over its virtual batches). */
  private stepMean = new Float64Array(0);
  private stepVariance = new Float64Array(0);
  private lastInput: Tensor | null = null;
  private pendingUpdate = false;
  private lastWasTraining = false;

  constructor(args: BatchNormalizationLayerArgs = {}) {
    super(args, 'BatchNormalization', KEYS);
    const {
      axis = -1, momentum = 0.99, epsilon = 1e-3, center = true, scale = true,
      betaInitializer = 'zeros', gammaInitializer = 'ones',
      movingMeanInitializer = 'zeros', movingVarianceInitializer = 'ones',
      renorm = false, renormClipping, renormMomentum, virtualBatchSize,
    } = args;
    if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
      throw new ValueError(
        `BatchNormalization: expected momentum in [0, 1] (the weight of the old moving average; Keras's default 0.99), ` +
          `received ${describeValue(momentum)}. PyTorch's momentum m corresponds to Keras's 1 − m.`,
      );
    }
    if (typeof epsilon !== 'number' || !(epsilon > 0) || !Number.isFinite(epsilon)) {
      throw new ValueError(`BatchNormalization: expected epsilon > 0 (default 1e-3), received ${describeValue(epsilon)}.`);
    }
    if (!Number.isInteger(axis)) {
      throw new ValueError(`BatchNormalization: expected an integer axis, received ${describeValue(axis)}.`);
    }
    if (typeof renorm !== 'boolean') {
      throw new ValueError(`BatchNormalization: expected renorm to be true or false, received ${describeValue(renorm)}.`);
    }
    if (!renorm && (renormClipping !== undefined || renormMomentum !== undefined)) {
      throw new ValueError(
        `BatchNormalization: renormClipping and renormMomentum apply only with renorm: true, received them with renorm: false. ` +
          `Add renorm: true for Batch Renormalization, or remove them.`,
      );
    }
    const problem = renorm && renormClipping !== undefined ? renormClippingProblem(renormClipping, 'renormClipping') : null;
    if (problem) throw new ValueError(`BatchNormalization: ${problem}`);
    const rm = renormMomentum ?? 0.99;
    if (typeof rm !== 'number' || !(rm >= 0 && rm <= 1)) {
      throw new ValueError(
        `BatchNormalization: expected renormMomentum in [0, 1] (the weight of the old renormMean and renormStddev; default 0.99), ` +
          `received ${describeValue(rm)}.`,
      );
    }
    if (virtualBatchSize !== undefined && virtualBatchSize !== null &&
      !(Number.isSafeInteger(virtualBatchSize) && virtualBatchSize > 0)) {
      throw new ValueError(
        `BatchNormalization: expected virtualBatchSize to be a positive integer that divides the training batch size ` +
          `(examples per virtual batch), received ${describeValue(virtualBatchSize)}. Leave it out to normalize over the whole batch.`,
      );
    }
    this.axis = axis;
    this.momentum = momentum;
    this.epsilon = epsilon;
    this.center = center;
    this.scale = scale;
    this.renorm = renorm;
    this.renormMomentum = rm;
    this.clipping = cleanClipping(renormClipping ?? {});
    this.virtualBatchSize = virtualBatchSize ?? null;
    this.initializers = {
      beta: getInitializer(betaInitializer),
      gamma: getInitializer(gammaInitializer),
      movingMean: getInitializer(movingMeanInitializer),
      movingVariance: getInitializer(movingVarianceInitializer),
    };
  }

  getClassName(): string {
    return 'BatchNormalization';
  }

  /** Renorm's clipping bounds now in force (only those given; a missing one does not clip). */
  get renormClipping(): Readonly<RenormClipping> {
    return this.clipping;
  }

  /**
   * Replaces renorm's clipping bounds (as a schedule does between steps). Checked first: on an
   * invalid value the layer keeps its bounds.
   */
  setRenormClipping(clipping: RenormClipping): void {
    if (!this.renorm) {
      throw new ValueError(`${this.name}: setRenormClipping needs a layer built with renorm: true; this one normalizes with plain BN.`);
    }
    const problem = renormClippingProblem(clipping, 'renormClipping');
    if (problem) throw new ValueError(`${this.name}: ${problem}`);
    this.clipping = cleanClipping(clipping);
  }

  override getConfig(): Record<string, unknown> {
    const init = (i: Initializer) => ({ class_name: i.getClassName(), config: i.getConfig() });
    return {
      ...super.getConfig(),
      axis: this.axis, momentum: this.momentum, epsilon: this.epsilon, center: this.center, scale: this.scale,
      beta_initializer: init(this.initializers.beta),
      gamma_initializer: init(this.initializers.gamma),
      moving_mean_initializer: init(this.initializers.movingMean),
      moving_variance_initializer: init(this.initializers.movingVariance),
      ...(this.renorm ? { renorm: true, renorm_clipping: { ...this.clipping }, renorm_momentum: this.renormMomentum } : {}),
      ...(this.virtualBatchSize !== null ? { virtual_batch_size: this.virtualBatchSize } : {}),
    };
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  override build(inputShape: readonly number[]): void {
    const rank = inputShape.length + 1; // with the batch axis
    if (this.axis !== -1 && this.axis !== rank - 1) {
      throw new ValueError(
        `BatchNormalization: only the last axis can be normalized (axis -1 or ${rank - 1} for inputs of rank ${rank}), ` +
          `received axis ${this.axis}. Transpose your data so that features come last.`,
      );
    }
    super.build(inputShape);
    const features = [inputShape[inputShape.length - 1]];
    const init = (i: Initializer) => i.apply(features, this.dtype);
    if (this.scale) this.gamma = this.addWeight('gamma', init(this.initializers.gamma), 'parameter');
    else this.fixedGamma = fill(features, 1, this.dtype);
    if (this.center) this.beta = this.addWeight('beta', init(this.initializers.beta), 'parameter');
    else this.fixedBeta = fill(features, 0, this.dtype);
    this.movingMean = this.addWeight('moving_mean', init(this.initializers.movingMean), 'buffer');
    this.movingVariance = this.addWeight('moving_variance', init(this.initializers.movingVariance), 'buffer');
    this.stepMean = new Float64Array(features[0]);
    this.stepVariance = new Float64Array(features[0]);
    if (this.renorm) {
      // Keras's order and names. The stddevs start at sqrt(movingVariance), renorm_mean at
      // movingMean (Keras draws its initializers again; the same values for constant ones).
      const stddev = this.movingVariance.read();
      stddev.values.forEach((v, i) => (stddev.values[i] = Math.sqrt(v)));
      this.movingStddev = this.addWeight('moving_stddev', stddev, 'buffer');
      this.renormMean = this.addWeight('renorm_mean', this.movingMean.read(), 'buffer');
      this.renormStddev = this.addWeight('renorm_stddev', this.movingStddev.read(), 'buffer');
      this.r = new Float64Array(features[0]);
      this.d = new Float64Array(features[0]);
    }
  }

  private get gammaValue(): Tensor {
    return this.gamma?.value ?? this.fixedGamma!;
  }

  private get betaValue(): Tensor {
    return this.beta?.value ?? this.fixedBeta!;
  }

  /** Training mode applies only while the layer is trainable (Keras fine-tuning semantics). */
  usesBatchStatistics(training: boolean): boolean {
    return training && this.trainable;
  }

  /**
   * Renorm's r and d for this batch's statistics (pre-update renormMean and renormStddev), into
   * `r` and `d`. Protected so that a gradient check can hold them fixed, as the stop-gradient does.
   */
  protected renormCorrection(mean: Float64Array, variance: Float64Array, r: Float64Array, d: Float64Array): void {
    batchRenormCorrection({
      mean, variance, renormMean: this.renormMean!.value.values, renormStddev: this.renormStddev!.value.values, epsilon: this.epsilon,
    }, this.clipping, r, d);
  }

  forward(x: Tensor, training: boolean): Tensor {
    const features = this.movingMean.value.size;
    const usesBatch = this.usesBatchStatistics(training);
    const groups = usesBatch ? this.checkTrainingBatch(x, features) : 1;
    const y = this.buffer('out', x.shape, x.dtype);
    this.lastWasTraining = usesBatch;
    if (!usesBatch) {
      batchNorm(x, {
        mean: this.movingMean.value, variance: this.movingVariance.value,
        gamma: this.gammaValue, beta: this.betaValue, epsilon: this.epsilon,
      }, y);
      if (training) this.lastInput = x;
      return y;
    }
    const saved: BatchNormSaved = {
      mean: this.buffer('mean', [groups * features], x.dtype),
      variance: this.buffer('variance', [groups * features], x.dtype),
      invStd: this.buffer('invStd', [groups * features], x.dtype),
    };
    // Ghost BN: the examples of each virtual batch side by side, so that each is one kernel call.
    const input = groups > 1 ? this.buffer('ghostInput', x.shape, x.dtype) : x;
    // Scratch, free once scattered into y: the backward gathers dy into it.
    const out = groups > 1 ? this.buffer('ghostWork', x.shape, x.dtype) : y;
    if (groups > 1) regroup(x.values, input.values, x.shape[0] / groups, groups, x.size / x.shape[0], 'gather');
    const affine = { gamma: this.gammaValue, beta: this.betaValue, epsilon: this.epsilon };
    for (let g = 0; g < groups; g++) batchNormTraining(part(input, g, groups), affine, part(out, g, groups), savedPart(saved, g, features));
    const { stepMean: mean, stepVariance: variance } = this;
    mean.fill(0);
    variance.fill(0);
    for (let g = 0; g < groups; g++) {
      for (let c = 0; c < features; c++) {
        mean[c] += saved.mean.values[g * features + c];
        variance[c] += saved.variance.values[g * features + c];
      }
    }
    for (let c = 0; c < features; c++) {
      mean[c] /= groups;
      variance[c] /= groups;
    }
    let renormGamma: Tensor | null = null;
    if (this.renorm) {
      // y = γ·(x̂·r + d) + β = (γr)·x̂ + (γd + β): BN with the batch's statistics and another affine,
      // over the output of the training kernel (called above for the statistics r and d need).
      this.renormCorrection(mean, variance, this.r, this.d);
      renormGamma = this.buffer('renormGamma', [features], x.dtype);
      const renormBeta = this.buffer('renormBeta', [features], x.dtype);
      const gamma = this.gammaValue.values;
      const beta = this.betaValue.values;
      for (let c = 0; c < features; c++) {
        renormGamma.values[c] = gamma[c] * this.r[c];
        renormBeta.values[c] = gamma[c] * this.d[c] + beta[c];
      }
      for (let g = 0; g < groups; g++) {
        const stats = savedPart(saved, g, features);
        batchNorm(part(input, g, groups), {
          mean: stats.mean, variance: stats.variance, gamma: renormGamma, beta: renormBeta, epsilon: this.epsilon,
        }, part(out, g, groups));
      }
    }
    if (groups > 1) regroup(out.values, y.values, x.shape[0] / groups, groups, x.size / x.shape[0], 'scatter');
    this.step = { input, groups, saved, mean, variance, renormGamma };
    this.lastInput = x;
    this.pendingUpdate = true;
    return y;
  }

  /**
   * The number of virtual batches of a training batch (1 without virtualBatchSize), after checking
   * that it can be normalized: nothing has changed when this throws.
   */
  private checkTrainingBatch(x: Tensor, features: number): number {
    const batch = x.shape[0];
    const v = this.virtualBatchSize ?? batch;
    if (this.virtualBatchSize !== null && batch % v !== 0) {
      throw new ShapeError(
        `${this.name}: virtualBatchSize ${v} must divide the training batch size (Ghost BN normalizes virtual batches of exactly ` +
          `${v} examples, as tf.keras requires), received a batch of ${batch} (shape ${formatShape(x.shape)}). ` +
          `Use a batch size that is a multiple of ${v} (with fit, the last batch of an epoch holds the remaining examples: ` +
          `make their number a multiple of batchSize too), or a virtualBatchSize that divides ${batch}.`,
      );
    }
    const valuesPerFeature = (x.size / features / batch) * v;
    if (!(valuesPerFeature >= 2)) {
      throw new ShapeError(
        this.virtualBatchSize === null
          ? `${this.name}: training needs more than 1 value per feature, received a batch of 1 (shape ${formatShape(x.shape)}); ` +
            `use a batch of 2 or more, or call with {training: false}.`
          : `${this.name}: training needs more than 1 value per feature in each virtual batch, but virtualBatchSize 1 leaves 1 ` +
            `(input shape ${formatShape(x.shape)}); use a virtualBatchSize of 2 or more.`,
      );
    }
    return batch / v;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const x = this.lastInput!;
    const dx = this.buffer('dx', x.shape, x.dtype);
    if (!this.lastWasTraining) {
      // Inference mode (a frozen layer): y = x·s + shift with s = γ/sqrt(movingVariance + ε), so
      // dx = dy·s: the same kernel with mean 0 and β 0.
      if (!needInputGrad) return null;
      const zero = this.buffer('zero', this.movingMean.shape, x.dtype);
      batchNorm(dy, { mean: zero, variance: this.movingVariance.value, gamma: this.gammaValue, beta: zero, epsilon: this.epsilon }, dx);
      return dx;
    }
    const { input, groups, saved, renormGamma } = this.step!;
    const features = this.movingMean.value.size;
    const dGamma = this.gamma?.grad ?? this.buffer('scratchGamma', this.movingMean.shape, x.dtype);
    const dBeta = this.beta?.grad ?? this.buffer('scratchBeta', this.movingMean.shape, x.dtype);
    const examples = x.shape[0] / groups;
    const exampleSize = x.size / x.shape[0];
    const dyIn = groups > 1 ? this.buffer('ghostWork', x.shape, x.dtype) : dy;
    const dxOut = groups > 1 ? this.buffer('ghostDx', x.shape, x.dtype) : dx;
    if (groups > 1) regroup(dy.values, dyIn.values, examples, groups, exampleSize, 'gather');
    // With renorm the kernel runs with γ' = γr and sums Σdy·x̂ and Σdy into scratch, which give dγ, dβ.
    const sums = renormGamma ? { dyXhat: this.buffer('sumDyXhat', [features], x.dtype), dy: this.buffer('sumDy', [features], x.dtype) } : null;
    if (sums) {
      sums.dyXhat.values.fill(0);
      sums.dy.values.fill(0);
    }
    for (let g = 0; g < groups; g++) {
      batchNormTrainingGrad(part(input, g, groups), part(dyIn, g, groups), renormGamma ?? this.gammaValue, savedPart(saved, g, features), {
        dx: part(dxOut, g, groups), dGamma: sums?.dyXhat ?? dGamma, dBeta: sums?.dy ?? dBeta,
      });
    }
    if (sums) batchRenormParamGrads(sums, this.r, this.d, dGamma, dBeta);
    if (groups > 1 && needInputGrad) regroup(dxOut.values, dx.values, examples, groups, exampleSize, 'scatter');
    return needInputGrad ? dx : null;
  }

  /**
   * moving ← moving·momentum + batch·(1 − momentum), with the last training batch's statistics (the
   * average over virtual batches); with renorm, also renormMean and renormStddev (renormMomentum),
   * and movingStddev, from which movingVariance = max(0, movingStddev² − ε).
   */
  override commitState(): void {
    if (!this.pendingUpdate || !this.step) return;
    this.pendingUpdate = false;
    const m = this.momentum;
    const mean = this.movingMean.value.values;
    const variance = this.movingVariance.value.values;
    const { mean: batchMean, variance: batchVariance } = this.step;
    if (!this.renorm) {
      for (let i = 0; i < mean.length; i++) {
        mean[i] = mean[i] * m + batchMean[i] * (1 - m);
        variance[i] = variance[i] * m + batchVariance[i] * (1 - m);
      }
      return;
    }
    const rm = this.renormMomentum;
    const renormMean = this.renormMean!.value.values;
    const renormStddev = this.renormStddev!.value.values;
    const stddev = this.movingStddev!.value.values;
    for (let i = 0; i < mean.length; i++) {
      const batchStddev = Math.sqrt(batchVariance[i] + this.epsilon);
      renormMean[i] = renormMean[i] * rm + batchMean[i] * (1 - rm);
      renormStddev[i] = renormStddev[i] * rm + batchStddev * (1 - rm);
      mean[i] = mean[i] * m + batchMean[i] * (1 - m);
      stddev[i] = stddev[i] * m + batchStddev * (1 - m);
      variance[i] = Math.max(0, stddev[i] * stddev[i] - this.epsilon);
    }
  }

  override discardState(): void {
    this.pendingUpdate = false;
  }
}

/** Virtual batch g of G of a tensor whose examples are grouped by virtual batch: a view, no copy. */
function part(t: Tensor, g: number, groups: number): Tensor {
  if (groups === 1) return t;
  const examples = t.shape[0] / groups;
  const size = t.size / groups;
  return wrap(t.values.subarray(g * size, (g + 1) * size), [examples, ...t.shape.slice(1)]);
}

function savedPart(saved: BatchNormSaved, g: number, features: number): BatchNormSaved {
  const at = (t: Tensor) => (t.size === features ? t : wrap(t.values.subarray(g * features, (g + 1) * features), [features]));
  return { mean: at(saved.mean), variance: at(saved.variance), invStd: at(saved.invStd) };
}

/**
 * tf.keras's virtual batches: the batch reshaped to [v, G, ...], virtual batch j being [:, j], i.e.
 * examples j, j + G, j + 2G, .... 'gather' copies them to example slots j·v, ..., j·v + v − 1 of
 * `to`; 'scatter' puts them back.
 */
function regroup(from: Float32Array | Float64Array, to: Float32Array | Float64Array, v: number, groups: number, exampleSize: number, way: 'gather' | 'scatter'): void {
  for (let j = 0; j < groups; j++) {
    for (let i = 0; i < v; i++) {
      const original = (i * groups + j) * exampleSize;
      const grouped = (j * v + i) * exampleSize;
      if (way === 'gather') to.set(from.subarray(original, original + exampleSize), grouped);
      else to.set(from.subarray(grouped, grouped + exampleSize), original);
    }
  }
}
