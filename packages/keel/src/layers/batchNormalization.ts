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
 * Gotcha: ε is inside the square root. With ε = 1e-3 (Keras's default; PyTorch uses 1e-5), a
 * feature of tiny variance is not scaled up to unit variance.
 *
 * Training needs at least 2 rows: the variance of one value is 0 and its normalized value
 * meaningless, so Keel refuses rather than silently outputting β.
 */
import type { Tensor } from '../core/tensor.js';
import { ShapeError, ValueError, describeValue, formatShape } from '../core/errors.js';
import { Layer, type LayerArgs } from './layer.js';
import type { LayerVariable } from './variable.js';
import { getInitializer, type Initializer, type InitializerIdentifier } from '../initializers/index.js';
import { batchNorm, batchNormTraining, batchNormTrainingGrad, type BatchNormSaved } from '../ops/batchNorm.js';
import { fill } from '../ops/tensor.js';

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
}

const KEYS = [
  'axis', 'momentum', 'epsilon', 'center', 'scale',
  'betaInitializer', 'gammaInitializer', 'movingMeanInitializer', 'movingVarianceInitializer',
];

export class BatchNormalization extends Layer {
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  private readonly initializers: Record<'beta' | 'gamma' | 'movingMean' | 'movingVariance', Initializer>;
  gamma: LayerVariable | null = null;
  beta: LayerVariable | null = null;
  movingMean!: LayerVariable;
  movingVariance!: LayerVariable;
  /** γ = 1 or β = 0 stand-ins when `scale` or `center` is false. */
  private fixedGamma: Tensor | null = null;
  private fixedBeta: Tensor | null = null;
  private saved: BatchNormSaved | null = null;
  private lastInput: Tensor | null = null;
  private pendingUpdate = false;
  private lastWasTraining = false;

  constructor(args: BatchNormalizationLayerArgs = {}) {
    super(args, 'BatchNormalization', KEYS);
    const {
      axis = -1, momentum = 0.99, epsilon = 1e-3, center = true, scale = true,
      betaInitializer = 'zeros', gammaInitializer = 'ones',
      movingMeanInitializer = 'zeros', movingVarianceInitializer = 'ones',
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
    this.axis = axis;
    this.momentum = momentum;
    this.epsilon = epsilon;
    this.center = center;
    this.scale = scale;
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

  override getConfig(): Record<string, unknown> {
    const init = (i: Initializer) => ({ class_name: i.getClassName(), config: i.getConfig() });
    return {
      ...super.getConfig(),
      axis: this.axis, momentum: this.momentum, epsilon: this.epsilon, center: this.center, scale: this.scale,
      beta_initializer: init(this.initializers.beta),
      gamma_initializer: init(this.initializers.gamma),
      moving_mean_initializer: init(this.initializers.movingMean),
      moving_variance_initializer: init(this.initializers.movingVariance),
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

  forward(x: Tensor, training: boolean): Tensor {
    const y = this.buffer('out', x.shape, x.dtype);
    const features = this.movingMean.value.size;
    this.lastWasTraining = this.usesBatchStatistics(training);
    if (!this.lastWasTraining) {
      batchNorm(x, {
        mean: this.movingMean.value, variance: this.movingVariance.value,
        gamma: this.gammaValue, beta: this.betaValue, epsilon: this.epsilon,
      }, y);
      if (training) this.lastInput = x;
      return y;
    }
    const rows = x.size / features;
    if (rows < 2) {
      throw new ShapeError(
        `${this.name}: training needs more than 1 value per feature, received a batch of 1 (shape ${formatShape(x.shape)}); ` +
          `use a batch of 2 or more, or call with {training: false}.`,
      );
    }
    this.saved = {
      mean: this.buffer('mean', [features], x.dtype),
      variance: this.buffer('variance', [features], x.dtype),
      invStd: this.buffer('invStd', [features], x.dtype),
    };
    batchNormTraining(x, { gamma: this.gammaValue, beta: this.betaValue, epsilon: this.epsilon }, y, this.saved);
    this.lastInput = x;
    this.pendingUpdate = true;
    return y;
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
    const dGamma = this.gamma?.grad ?? this.buffer('scratchGamma', this.movingMean.shape, x.dtype);
    const dBeta = this.beta?.grad ?? this.buffer('scratchBeta', this.movingMean.shape, x.dtype);
    batchNormTrainingGrad(x, dy, this.gammaValue, this.saved!, { dx, dGamma, dBeta });
    return needInputGrad ? dx : null;
  }

  /** moving ← moving·momentum + batch·(1 − momentum), with the last training batch's statistics. */
  override commitState(): void {
    if (!this.pendingUpdate || !this.saved) return;
    this.pendingUpdate = false;
    const m = this.momentum;
    const mean = this.movingMean.value.values;
    const variance = this.movingVariance.value.values;
    const batchMean = this.saved.mean.values;
    const batchVariance = this.saved.variance.values;
    for (let i = 0; i < mean.length; i++) {
      mean[i] = mean[i] * m + batchMean[i] * (1 - m);
      variance[i] = variance[i] * m + batchVariance[i] * (1 - m);
    }
  }

  override discardState(): void {
    this.pendingUpdate = false;
  }
}
