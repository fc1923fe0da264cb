/**
 * LayerNormalization: normalizes each sample over its last axes with its own mean and variance.
 *
 * Then it scales by γ and shifts by β, one of each per normalized value:
 *   μ = mean(x), σ² = mean((x − μ)²)   over the normalized axes of one sample (biased variance)
 *   y = γ·(x − μ)/sqrt(σ² + ε) + β     (ε inside the square root)
 *
 * Defaults, as TF.js 4.22: axis -1, epsilon 1e-3, center and scale true, β zeros, γ ones.
 * Shapes: input [batch, ..., d1, ..., dk], with the k normalized axes last; the output has the same
 * shape; γ and β have the normalized axes' shape: [C] for axis -1, [H, W, C] for axis [1, 2, 3] on
 * NHWC images (2·H·W·C parameters, as TF.js and Keras count them). Axes count the batch axis, as
 * in TF.js: axis 1 of a [batch, features] input is its features.
 *
 * Gotcha: there are no moving statistics, so training and inference compute the same thing.
 * `{training: true}` changes nothing, a batch of 1 works, one sample's output never depends on the
 * rest of its batch, and `trainable = false` only freezes γ and β. (BatchNormalization is the one
 * whose predictions differ from what it computed in training.)
 *
 * Differs from TF.js: the normalized axes must be the last ones (-1, [-2, -1], [1, 2, 3] on images...);
 *   TF.js also accepts the batch axis and axes followed by unnormalized ones.
 * Differs from TF.js: normalizing one value per sample (a last axis of size 1) is refused, since
 *   its normalized value is 0 and the output would be β whatever the input.
 * Differs from TF.js: getConfig keeps axis as given (-1); TF.js writes the resolved list ([1]). Both read either.
 * Differs from TF.js: training with center or scale false works; TF.js 4.22's gradient throws there.
 */
import type { Tensor } from '../core/tensor.js';
import { ShapeError, ValueError, describeValue, formatShape } from '../core/errors.js';
import { Layer, type LayerArgs } from './layer.js';
import type { LayerVariable } from './variable.js';
import { getInitializer, type Initializer, type InitializerIdentifier } from '../initializers/index.js';
import { layerNorm, layerNormGrad, type NormalizationSaved } from '../ops/normalization.js';
import { fill } from '../ops/tensor.js';

export interface LayerNormalizationLayerArgs extends LayerArgs {
  /**
   * The axis or axes normalized over, counting the batch axis as 0: -1 (the default, the last axis),
   * or a list of the last axes such as [-2, -1] or [1, 2, 3]. γ and β have their shape.
   */
  axis?: number | number[];
  /** Added to the variance inside the square root, > 0. Default 1e-3. */
  epsilon?: number;
  /** Learn a shift β (default true). */
  center?: boolean;
  /** Learn a scale γ (default true). */
  scale?: boolean;
  betaInitializer?: InitializerIdentifier | string;
  gammaInitializer?: InitializerIdentifier | string;
}

const KEYS = ['axis', 'epsilon', 'center', 'scale', 'betaInitializer', 'gammaInitializer'];

/**
 * The shape of γ and β for `axis` on inputs of `inputShape` (batch excluded), in the order the axes
 * are listed, as TF.js builds them. Throws a ValueError unless the axes are the input's last ones,
 * or a ShapeError when they hold a single value. Allocates nothing (the registry calls it to check a file).
 */
export function layerNormParamShape(axis: number | readonly number[], inputShape: readonly number[], where: string): number[] {
  const rank = inputShape.length + 1; // with the batch axis
  const listed = typeof axis === 'number' ? [axis] : [...axis];
  const resolved = listed.map((a) => (a < 0 ? a + rank : a));
  const sorted = [...resolved].sort((a, b) => a - b);
  const trailing = sorted.every((a, i) => a === rank - sorted.length + i) && sorted[0] >= 1;
  if (!trailing) {
    const last = Array.from({ length: rank - 1 }, (_, i) => i + 1);
    throw new ValueError(
      `${where}: expected the last axes of inputs of rank ${rank} (axis -1, or a list ending with ${rank - 1} such as ` +
        `[${last.slice(-2).join(', ')}]; the batch axis 0 cannot be normalized), received axis ${describeValue(axis)}. ` +
        `Keel normalizes trailing axes only: transpose your data so that the normalized axes come last.`,
    );
  }
  const shape = resolved.map((a) => inputShape[a - 1]);
  if (shape.reduce((p, d) => p * d, 1) === 1) {
    throw new ShapeError(
      `${where}: expected more than one value per sample to normalize over, received axis ${describeValue(axis)} of ` +
        `input ${formatShape([null as unknown as number, ...inputShape])}, which holds 1; its normalized value is 0, so the ` +
        `output would be β whatever the input. Normalize over more axes, or remove the layer.`,
    );
  }
  return shape;
}

/** Throws a ValueError unless `axis` is an integer or a non-empty list of distinct integers. */
export function checkLayerNormAxis(axis: unknown, where: string): void {
  const list = typeof axis === 'number' ? [axis] : axis;
  if (!Array.isArray(list) || list.length === 0 || list.length > 8 || !list.every((a) => Number.isInteger(a))) {
    throw new ValueError(`${where}: expected axis to be an integer such as -1, or a list of integers such as [-2, -1], received ${describeValue(axis)}.`);
  }
  if (new Set(list).size !== list.length) {
    throw new ValueError(`${where}: expected distinct axes, received ${describeValue(axis)}; list each axis once.`);
  }
}

export class LayerNormalization extends Layer {
  readonly axis: number | number[];
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
  /** Values normalized together: the product of the normalized axes. */
  private features = 0;

  constructor(args: LayerNormalizationLayerArgs = {}) {
    super(args, 'LayerNormalization', KEYS);
    const { axis = -1, epsilon = 1e-3, center = true, scale = true, betaInitializer = 'zeros', gammaInitializer = 'ones' } = args;
    checkLayerNormAxis(axis, 'LayerNormalization');
    if (typeof epsilon !== 'number' || !(epsilon > 0) || !Number.isFinite(epsilon)) {
      throw new ValueError(`LayerNormalization: expected epsilon > 0 (default 1e-3), received ${describeValue(epsilon)}.`);
    }
    if (typeof center !== 'boolean' || typeof scale !== 'boolean') {
      throw new ValueError(`LayerNormalization: expected center and scale to be true or false, received ${describeValue(typeof center !== 'boolean' ? center : scale)}.`);
    }
    this.axis = typeof axis === 'number' ? axis : [...axis];
    this.epsilon = epsilon;
    this.center = center;
    this.scale = scale;
    this.initializers = { beta: getInitializer(betaInitializer), gamma: getInitializer(gammaInitializer) };
  }

  getClassName(): string {
    return 'LayerNormalization';
  }

  /** The initializers, for the registry. @internal */
  get betaInitializer(): Initializer {
    return this.initializers.beta;
  }

  /** @internal */
  get gammaInitializer(): Initializer {
    return this.initializers.gamma;
  }

  override getConfig(): Record<string, unknown> {
    const init = (i: Initializer) => ({ class_name: i.getClassName(), config: i.getConfig() });
    return {
      ...super.getConfig(),
      axis: Array.isArray(this.axis) ? [...this.axis] : this.axis, epsilon: this.epsilon, center: this.center, scale: this.scale,
      beta_initializer: init(this.initializers.beta),
      gamma_initializer: init(this.initializers.gamma),
    };
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  override build(inputShape: readonly number[]): void {
    const shape = layerNormParamShape(this.axis, inputShape, `LayerNormalization '${this.name}'`);
    super.build(inputShape);
    this.features = shape.reduce((p, d) => p * d, 1);
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
    const samples = x.size / this.features;
    this.saved = { mean: this.buffer('mean', [samples], x.dtype), invStd: this.buffer('invStd', [samples], x.dtype) };
    layerNorm(x, { gamma: this.gammaValue, beta: this.betaValue, epsilon: this.epsilon }, y, this.saved);
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
    layerNormGrad(x, dy, this.gammaValue, this.saved!, { dx, dGamma, dBeta });
    return needInputGrad ? dx : null;
  }
}
