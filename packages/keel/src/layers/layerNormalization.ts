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
import { layerNorm, layerNormGrad, type NormalizationAffine, type NormalizationGrads, type NormalizationSaved } from '../ops/normalization.js';
import { PerExampleNormalization, type PerExampleNormalizationArgs } from './perExampleNormalization.js';

export interface LayerNormalizationLayerArgs extends PerExampleNormalizationArgs {
  /**
   * The axis or axes normalized over, counting the batch axis as 0: -1 (the default, the last axis),
   * or a list of the last axes such as [-2, -1] or [1, 2, 3]. γ and β have their shape.
   */
  axis?: number | number[];
}

/** axis as given, -1 when omitted. */
const axisOf = ({ axis = -1 }: LayerNormalizationLayerArgs): number | number[] => axis;

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

export class LayerNormalization extends PerExampleNormalization {
  readonly axis: number | number[];
  /** Values normalized together: the product of the normalized axes. */
  private features = 0;

  constructor(args: LayerNormalizationLayerArgs = {}) {
    super(args, 'LayerNormalization', ['axis'], () => checkLayerNormAxis(axisOf(args), 'LayerNormalization'));
    const axis = axisOf(args);
    this.axis = typeof axis === 'number' ? axis : [...axis];
  }

  getClassName(): string {
    return 'LayerNormalization';
  }

  protected ownConfig(): Record<string, unknown> {
    return { axis: Array.isArray(this.axis) ? [...this.axis] : this.axis };
  }

  override build(inputShape: readonly number[]): void {
    const shape = layerNormParamShape(this.axis, inputShape, `LayerNormalization '${this.name}'`);
    super.build(inputShape);
    this.features = shape.reduce((p, d) => p * d, 1);
    this.buildAffine(shape);
  }

  protected statisticsShape(x: Tensor): number[] {
    return [x.size / this.features];
  }

  protected normalize(x: Tensor, affine: NormalizationAffine, y: Tensor, saved: NormalizationSaved): void {
    layerNorm(x, affine, y, saved);
  }

  protected normalizeGrad(x: Tensor, dy: Tensor, gamma: Tensor, saved: NormalizationSaved, grads: NormalizationGrads): void {
    layerNormGrad(x, dy, gamma, saved, grads);
  }
}
