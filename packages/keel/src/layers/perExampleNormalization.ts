/**
 * What LayerNormalization and GroupNormalization share: both normalize each example with its own
 * statistics, then scale by γ and shift by β (`scale`, `center`; fixed γ = 1 or β = 0 stand-ins
 * when false). This base holds the options epsilon, center, scale and the two initializers, their
 * checks and config keys, γ and β, and the forward and backward around the op; a subclass adds its
 * own options (axes, groups), the shape of γ and β, and the op it calls.
 */
import type { Tensor } from '../core/tensor.js';
import { ValueError, describeValue } from '../core/errors.js';
import { Layer, type LayerArgs } from './layer.js';
import type { LayerVariable } from './variable.js';
import { getInitializer, type Initializer, type InitializerIdentifier } from '../initializers/index.js';
import type { NormalizationAffine, NormalizationGrads, NormalizationSaved } from '../ops/normalization.js';
import { fill } from '../ops/tensor.js';

export interface PerExampleNormalizationArgs extends LayerArgs {
  /** Added to the variance inside the square root, > 0. Default 1e-3. */
  epsilon?: number;
  /** Learn a shift β (default true). */
  center?: boolean;
  /** Learn a scale γ (default true). */
  scale?: boolean;
  betaInitializer?: InitializerIdentifier | string;
  gammaInitializer?: InitializerIdentifier | string;
}

const AFFINE_KEYS = ['epsilon', 'center', 'scale', 'betaInitializer', 'gammaInitializer'];

const initializerConfig = (i: Initializer) => ({ class_name: i.getClassName(), config: i.getConfig() });

export abstract class PerExampleNormalization extends Layer {
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  private readonly initializers: Record<'beta' | 'gamma', Initializer>;
  gamma: LayerVariable | null = null;
  beta: LayerVariable | null = null;
  /** γ = 1 or β = 0 stand-ins when `scale` or `center` is false. */
  private fixedGamma: Tensor | null = null;
  private fixedBeta: Tensor | null = null;
  private saved: NormalizationSaved | null = null;
  private lastInput: Tensor | null = null;

  /**
   * `ownKeys` are the subclass's options, listed before the shared ones; `checkOwn` checks them,
   * after the option names and before epsilon, center and scale.
   */
  protected constructor(args: PerExampleNormalizationArgs, className: string, ownKeys: readonly string[], checkOwn: () => void) {
    super(args, className, [...ownKeys, ...AFFINE_KEYS]);
    checkOwn();
    const { epsilon = 1e-3, center = true, scale = true, betaInitializer = 'zeros', gammaInitializer = 'ones' } = args;
    if (typeof epsilon !== 'number' || !(epsilon > 0) || !Number.isFinite(epsilon)) {
      throw new ValueError(`${className}: expected epsilon > 0 (default 1e-3), received ${describeValue(epsilon)}.`);
    }
    if (typeof center !== 'boolean' || typeof scale !== 'boolean') {
      throw new ValueError(`${className}: expected center and scale to be true or false, received ${describeValue(typeof center !== 'boolean' ? center : scale)}.`);
    }
    this.epsilon = epsilon;
    this.center = center;
    this.scale = scale;
    this.initializers = { beta: getInitializer(betaInitializer), gamma: getInitializer(gammaInitializer) };
  }

  /** The initializers, for the registry. @internal */
  get betaInitializer(): Initializer {
    return this.initializers.beta;
  }

  /** @internal */
  get gammaInitializer(): Initializer {
    return this.initializers.gamma;
  }

  /** The subclass's config keys, written before epsilon. */
  protected abstract ownConfig(): Record<string, unknown>;

  /** The shape of the statistics (mean, 1/std) a forward on `x` computes. */
  protected abstract statisticsShape(x: Tensor): number[];

  /** The op: normalizes `x` into `y`, its statistics into `saved`. */
  protected abstract normalize(x: Tensor, affine: NormalizationAffine, y: Tensor, saved: NormalizationSaved): void;

  /** The op's backward, after `normalize` on `x`. */
  protected abstract normalizeGrad(x: Tensor, dy: Tensor, gamma: Tensor, saved: NormalizationSaved, grads: NormalizationGrads): void;

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      ...this.ownConfig(),
      epsilon: this.epsilon, center: this.center, scale: this.scale,
      beta_initializer: initializerConfig(this.initializers.beta),
      gamma_initializer: initializerConfig(this.initializers.gamma),
    };
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  /** γ and β of `shape` (weights, or their fixed stand-ins), once the subclass's build checked its input. */
  protected buildAffine(shape: readonly number[]): void {
    const init = (i: Initializer) => i.apply(shape, this.dtype);
    if (this.scale) this.gamma = this.addWeight('gamma', init(this.initializers.gamma), 'parameter');
    else this.fixedGamma = fill(shape, 1, this.dtype);
    if (this.center) this.beta = this.addWeight('beta', init(this.initializers.beta), 'parameter');
    else this.fixedBeta = fill(shape, 0, this.dtype);
  }

  private get gammaValue(): Tensor {
    return this.gamma?.value ?? this.fixedGamma!;
  }

  private get betaValue(): Tensor {
    return this.beta?.value ?? this.fixedBeta!;
  }

  /** The same in training and inference: each sample's own statistics. */
  forward(x: Tensor, _training: boolean): Tensor {
    const y = this.buffer('out', x.shape, x.dtype);
    const stats = this.statisticsShape(x);
    this.saved = { mean: this.buffer('mean', stats, x.dtype), invStd: this.buffer('invStd', stats, x.dtype) };
    this.normalize(x, { gamma: this.gammaValue, beta: this.betaValue, epsilon: this.epsilon }, y, this.saved);
    this.lastInput = x;
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (!this.trainable && !needInputGrad) return null;
    const x = this.lastInput!;
    const dx = this.buffer('dx', x.shape, x.dtype);
    const shape = this.gammaValue.shape;
    // A frozen layer or a fixed γ/β still gets its gradient computed, into scratch that nobody reads.
    const scratch = (key: string) => {
      const t = this.buffer(key, shape, x.dtype);
      t.values.fill(0);
      return t;
    };
    const dGamma = this.trainable && this.gamma ? this.gamma.grad! : scratch('scratchGamma');
    const dBeta = this.trainable && this.beta ? this.beta.grad! : scratch('scratchBeta');
    this.normalizeGrad(x, dy, this.gammaValue, this.saved!, { dx, dGamma, dBeta });
    return needInputGrad ? dx : null;
  }
}
