/** Layers without weights: Flatten, Activation, Dropout. */
import type { Tensor } from '../core/tensor.js';
import { sizeOf } from '../core/tensor.js';
import { ValueError, describeValue } from '../core/errors.js';
import { Random, defaultRandom } from '../core/random.js';
import { Layer, type LayerArgs } from './layer.js';
import { activate, activateGrad, resolveActivation, type ActivationName } from '../ops/activations.js';

/** Flattens each example to one axis: [batch, d1, d2, ...] → [batch, d1·d2·...]. */
export class Flatten extends Layer {
  private inputBatchShape: readonly number[] = [];
  constructor(args: LayerArgs = {}) {
    super(args, 'Flatten', []);
  }
  getClassName(): string {
    return 'Flatten';
  }
  computeOutputShape(inputShape: readonly number[]): number[] {
    return [sizeOf(inputShape)];
  }
  forward(x: Tensor, training: boolean): Tensor {
    if (training) this.inputBatchShape = x.shape;
    return this.view(x, [x.shape[0], x.size / x.shape[0]]);
  }
  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    return needInputGrad ? this.view(dy, this.inputBatchShape) : null;
  }
}

export interface ActivationLayerArgs extends LayerArgs {
  activation: ActivationName | string;
}

/** Applies an activation function on its own (e.g. after a BatchNormalization layer). */
export class Activation extends Layer {
  readonly activation: ActivationName;
  private lastInput: Tensor | null = null;
  private lastOutput: Tensor | null = null;
  constructor(args: ActivationLayerArgs) {
    super(args ?? ({} as ActivationLayerArgs), 'Activation', ['activation']);
    if (args?.activation === undefined) {
      throw new ValueError(`Activation: expected an activation name, e.g. activation({activation: 'relu'}); received none.`);
    }
    this.activation = resolveActivation(args.activation);
  }
  getClassName(): string {
    return 'Activation';
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), activation: this.activation };
  }
  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }
  forward(x: Tensor, training: boolean): Tensor {
    const y = this.buffer('out', x.shape, x.dtype);
    activate(this.activation, x, y);
    if (training) {
      this.lastInput = x;
      this.lastOutput = y;
    }
    return y;
  }
  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    const dx = this.buffer('dx', dy.shape, dy.dtype);
    activateGrad(this.activation, this.lastInput!, this.lastOutput!, dy, dx);
    return dx;
  }
  /** The input of the last training forward. @internal */
  preActivation(): Tensor {
    return this.lastInput!;
  }
  /** The gradient with respect to this layer's input is the given one (fused softmax + loss). @internal */
  backwardFromPreActivation(dPre: Tensor, needInputGrad: boolean): Tensor | null {
    return needInputGrad ? dPre : null;
  }
}

export interface DropoutLayerArgs extends LayerArgs {
  /** Fraction of the inputs to drop, in [0, 1). */
  rate: number;
  /** Seed of the dropout masks (default: the global generator). */
  seed?: number;
}

/**
 * Dropout: in training, zeroes each input with probability `rate` and scales the others by
 * 1/(1 − rate) so that the expected sum is unchanged; in inference, the identity.
 */
export class Dropout extends Layer {
  readonly rate: number;
  private readonly random: Random | null;
  private mask: Tensor | null = null;
  constructor(args: DropoutLayerArgs) {
    super(args ?? ({} as DropoutLayerArgs), 'Dropout', ['rate', 'seed']);
    if (typeof args?.rate !== 'number' || !(args.rate >= 0 && args.rate < 1)) {
      throw new ValueError(`Dropout: expected rate in [0, 1), received ${describeValue(args?.rate)}. Example: dropout({rate: 0.2}).`);
    }
    this.rate = args.rate;
    this.random = args.seed === undefined ? null : new Random(args.seed);
  }
  getClassName(): string {
    return 'Dropout';
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rate: this.rate };
  }
  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }
  forward(x: Tensor, training: boolean): Tensor {
    if (!training || this.rate === 0) {
      this.mask = null;
      return x;
    }
    const random = this.random ?? defaultRandom();
    const keep = 1 / (1 - this.rate);
    const mask = this.buffer('mask', x.shape, x.dtype);
    const y = this.buffer('out', x.shape, x.dtype);
    for (let i = 0; i < x.size; i++) {
      mask.values[i] = random.next() < this.rate ? 0 : keep;
      y.values[i] = x.values[i] * mask.values[i];
    }
    this.mask = mask;
    return y;
  }
  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    if (!this.mask) return dy;
    const dx = this.buffer('dx', dy.shape, dy.dtype);
    for (let i = 0; i < dy.size; i++) dx.values[i] = dy.values[i] * this.mask.values[i];
    return dx;
  }
}
