/**
 * GroupNormalization: normalizes each sample's groups of channels with their own mean and variance.
 *
 * The channels (last axis) are split into groups of consecutive channels; then it scales by γ and
 * shifts by β, one of each per channel:
 *   per sample and group, over its positions × channels-in-group values (H·W·C/G on NHWC images):
 *   μ = mean(x), σ² = mean((x − μ)²)   (biased variance)
 *   y = γ[c]·(x − μ)/sqrt(σ² + ε) + β[c]
 *
 * groups: -1 means one group per channel (Instance Normalization); groups: 1 normalizes all of a
 * sample's channels together (as LayerNormalization over [H, W, C], but with γ and β per channel).
 * Defaults, as Keras 3: groups 32, axis -1, epsilon 1e-3, center and scale true, β zeros, γ ones.
 * Shapes: input [batch, C] (Dense features), [batch, H, W, C] (NHWC images) or any
 * [batch, ..., C]; the output has the same shape; γ and β are [C] (2·C parameters, as Keras counts).
 * C must be divisible by the number of groups.
 *
 * Gotcha: there are no moving statistics, so training and inference compute the same thing.
 * `{training: true}` changes nothing, a batch of 1 works, one sample's output never depends on the
 * rest of its batch, and `trainable = false` only freezes γ and β. Keras's default of 32 groups
 * fails on layers with fewer than 32 channels, or a channel count 32 does not divide: choose groups.
 *
 * Differs from Keras: only the last axis (channels_last) holds the channels (axis -1, or rank − 1).
 * Differs from Keras: a group holding a single value (groups -1 on Dense features, or 1×1 images)
 *   is refused, since its normalized value is 0 and the output would be β whatever the input.
 * Differs from Keras: getConfig keeps groups -1 as given; Keras writes the channel count once built.
 * Differs from Keras: float64 layers compute in float64; Keras 3 normalizes in float32 even then.
 * Not in TF.js: TF.js has no GroupNormalization and cannot load a model containing one; Keel saves
 *   and loads it in the TF.js Layers format under class_name 'GroupNormalization', Keras's keys.
 */
import type { Tensor } from '../core/tensor.js';
import { ShapeError, ValueError, describeValue, formatShape } from '../core/errors.js';
import {
  groupNorm, groupNormGrad, type GroupNormLayout, type NormalizationAffine, type NormalizationGrads, type NormalizationSaved,
} from '../ops/normalization.js';
import { PerExampleNormalization, type PerExampleNormalizationArgs } from './perExampleNormalization.js';

export interface GroupNormalizationLayerArgs extends PerExampleNormalizationArgs {
  /** Number of groups the channels are split into, dividing their count; -1 for one per channel (Instance Normalization). Default 32. */
  groups?: number;
  /** The channels axis. Only the last axis (-1, the default) is supported. */
  axis?: number;
}

/** groups and axis as given, with their defaults. */
const ownArgs = ({ groups = 32, axis = -1 }: GroupNormalizationLayerArgs) => ({ groups, axis });

/** Throws a ValueError unless `groups` is a positive integer or -1. */
export function checkGroups(groups: unknown, where: string): void {
  if (!Number.isSafeInteger(groups) || ((groups as number) < 1 && groups !== -1)) {
    throw new ValueError(
      `${where}: expected groups to be a positive integer (the channels must divide into that many groups) or -1 ` +
        `(one group per channel, Instance Normalization), received ${describeValue(groups)}.`,
    );
  }
}

/** Up to `max` divisors of n, smallest first. */
function divisors(n: number, max = 12): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n && out.length < max; d++) if (n % d === 0) out.push(d);
  return out;
}

/**
 * Positions, channels and the resolved number of groups for inputs of `inputShape` (batch
 * excluded). Throws (ValueError for the axis, ShapeError for the channels) unless the channels
 * divide into the groups and each group holds more than one value. Allocates nothing: the layer
 * calls it before building, and the registry to check a file.
 */
export function groupNormGeometry(
  groups: number, axis: number, inputShape: readonly number[], where: string,
): Omit<GroupNormLayout, 'batch'> {
  const rank = inputShape.length + 1; // with the batch axis
  const shape = formatShape([null as unknown as number, ...inputShape]);
  if (axis !== -1 && axis !== rank - 1) {
    throw new ValueError(
      `${where}: only the last axis can hold the channels (axis -1 or ${rank - 1} for inputs of rank ${rank}), ` +
        `received axis ${describeValue(axis)}. Transpose your data so that channels come last.`,
    );
  }
  const channels = inputShape[inputShape.length - 1];
  const positions = inputShape.slice(0, -1).reduce((p, d) => p * d, 1);
  const resolved = groups === -1 ? channels : groups;
  const fix = `Use a number of groups that divides ${channels} (${divisors(channels).join(', ')}${divisors(channels, 13).length > 12 ? ', ...' : ''}), ` +
    `or groups -1 for one group per channel (Instance Normalization).`;
  if (resolved > channels) {
    throw new ShapeError(
      `${where}: expected at most ${channels} groups (one per channel) for input ${shape}, whose last axis has ${channels} channels; ` +
        `received groups ${groups}. ${fix}`,
    );
  }
  if (channels % resolved !== 0) {
    throw new ShapeError(
      `${where}: expected the ${channels} channels of input ${shape} to split into ${resolved} equal groups, received groups ${groups}, ` +
        `which does not divide ${channels}. ${fix}`,
    );
  }
  if (positions * (channels / resolved) === 1) {
    throw new ShapeError(
      `${where}: each of the ${resolved} groups of input ${shape} would hold a single value (1 channel at 1 position), whose ` +
        `normalized value is 0, so the output would be β whatever the input; received groups ${groups}. Use fewer groups ` +
        `(groups 1 normalizes the ${channels} channels together), or a layer that normalizes across the batch (batchNormalization).`,
    );
  }
  return { positions, channels, groups: resolved };
}

export class GroupNormalization extends PerExampleNormalization {
  /** As given: -1 stays -1 (one group per channel). */
  readonly groups: number;
  readonly axis: number;
  private geometry: Omit<GroupNormLayout, 'batch'> | null = null;
  private layout: GroupNormLayout | null = null;

  constructor(args: GroupNormalizationLayerArgs = {}) {
    super(args, 'GroupNormalization', ['groups', 'axis'], () => {
      const { groups, axis } = ownArgs(args);
      checkGroups(groups, 'GroupNormalization');
      if (!Number.isInteger(axis)) {
        throw new ValueError(`GroupNormalization: expected an integer axis (-1, the channels), received ${describeValue(axis)}.`);
      }
    });
    const { groups, axis } = ownArgs(args);
    this.groups = groups;
    this.axis = axis;
  }

  getClassName(): string {
    return 'GroupNormalization';
  }

  protected ownConfig(): Record<string, unknown> {
    return { groups: this.groups, axis: this.axis };
  }

  override build(inputShape: readonly number[]): void {
    // Every check before anything is allocated or marked built: a refused layer leaves its model as it was.
    const geometry = groupNormGeometry(this.groups, this.axis, inputShape, `GroupNormalization '${this.name}'`);
    super.build(inputShape);
    this.geometry = geometry;
    this.buildAffine([geometry.channels]);
  }

  /** The number of groups the channels are split into (-1 resolved to the channel count), once built. */
  get resolvedGroups(): number {
    return this.geometry?.groups ?? this.groups;
  }

  protected statisticsShape(x: Tensor): number[] {
    return [x.shape[0], this.geometry!.groups];
  }

  protected normalize(x: Tensor, affine: NormalizationAffine, y: Tensor, saved: NormalizationSaved): void {
    const batch = x.shape[0];
    if (this.layout?.batch !== batch) this.layout = { batch, ...this.geometry! };
    groupNorm(x, affine, this.layout, y, saved);
  }

  protected normalizeGrad(x: Tensor, dy: Tensor, gamma: Tensor, saved: NormalizationSaved, grads: NormalizationGrads): void {
    groupNormGrad(x, dy, gamma, this.layout!, saved, grads);
  }
}
