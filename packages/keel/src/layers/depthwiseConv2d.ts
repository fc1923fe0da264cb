/**
 * DepthwiseConv2D: each input channel convolved with its own `depthMultiplier` filters, no sum
 * over channels (MobileNet's building block): y[n, oh, ow, c·M + m] = Σ_window x[n, ih, iw, c]·
 * K[fh, fw, c, m] + b[c·M + m], K of shape [kernelHeight, kernelWidth, channels, depthMultiplier]
 * as TF.js stores it. Sizes and padding as Conv2D.
 *
 * @example keel.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false })
 */
import type { Tensor } from '../core/tensor.js';
import { ValueError } from '../core/errors.js';
import type { Conv2DGeometry, Padding } from '../backend/convGeometry.js';
import { getInitializer, type InitializerIdentifier } from '../initializers/index.js';
import { activate, activateGrad, resolveActivation, type ActivationName } from '../ops/activations.js';
import { depthwiseConv2dBackward, depthwiseConv2dForward } from '../ops/conv.js';
import { Layer, type LayerArgs } from './layer.js';
import type { LayerVariable } from './variable.js';
import { convWindow, describeOption, windowGeometry } from './convArgs.js';

export interface DepthwiseConv2DLayerArgs extends LayerArgs {
  /** Window height and width: a number for a square window. */
  kernelSize: number | [number, number];
  /** Filters per input channel (default 1): the output has channels·depthMultiplier channels. */
  depthMultiplier?: number;
  strides?: number | [number, number];
  padding?: Padding;
  dataFormat?: 'channelsLast';
  dilationRate?: number | [number, number];
  activation?: ActivationName | string;
  /** Default true. */
  useBias?: boolean;
  /** Default 'glorotUniform', as in Keras. */
  depthwiseInitializer?: InitializerIdentifier | string;
  biasInitializer?: InitializerIdentifier | string;
}

const KEYS = ['kernelSize', 'depthMultiplier', 'strides', 'padding', 'dataFormat', 'dilationRate', 'activation', 'useBias', 'depthwiseInitializer', 'biasInitializer'];

export class DepthwiseConv2D extends Layer {
  readonly kernelSize: [number, number];
  readonly depthMultiplier: number;
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly dilationRate: [number, number];
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly depthwiseInitializer;
  readonly biasInitializer;
  depthwiseKernel!: LayerVariable;
  bias: LayerVariable | null = null;
  private lastInput: Tensor | null = null;
  private lastPre: Tensor | null = null;
  private lastOutput: Tensor | null = null;
  private lastGeometry: Conv2DGeometry | null = null;

  constructor(args: DepthwiseConv2DLayerArgs) {
    super(args ?? ({} as DepthwiseConv2DLayerArgs), 'DepthwiseConv2D', KEYS);
    const {
      kernelSize, depthMultiplier = 1, strides, padding, dataFormat, dilationRate, activation,
      useBias = true, depthwiseInitializer = 'glorotUniform', biasInitializer = 'zeros',
    } = args;
    if (!Number.isInteger(depthMultiplier) || depthMultiplier <= 0) {
      throw new ValueError(`DepthwiseConv2D: expected depthMultiplier to be a positive integer, received ${describeOption(depthMultiplier)}.`);
    }
    this.depthMultiplier = depthMultiplier;
    ({ kernelSize: this.kernelSize, strides: this.strides, padding: this.padding, dilationRate: this.dilationRate } =
      convWindow('DepthwiseConv2D', { kernelSize, strides, padding, dilationRate, dataFormat }));
    this.activation = resolveActivation(activation);
    this.useBias = useBias;
    this.depthwiseInitializer = getInitializer(depthwiseInitializer);
    this.biasInitializer = getInitializer(biasInitializer);
  }

  getClassName(): string {
    return 'DepthwiseConv2D';
  }

  geometry(batch: number, inputShape: readonly number[] = this.inputShapeBuilt): Conv2DGeometry {
    return windowGeometry(this.name, this, batch, inputShape);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    const g = this.geometry(1, inputShape);
    return [g.outHeight, g.outWidth, inputShape[2] * this.depthMultiplier];
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
    super.build(inputShape);
    const [kh, kw] = this.kernelSize;
    const channels = inputShape[2];
    this.depthwiseKernel = this.addWeight(
      'depthwise_kernel', this.depthwiseInitializer.apply([kh, kw, channels, this.depthMultiplier], this.dtype), 'parameter');
    if (this.useBias) this.bias = this.addWeight('bias', this.biasInitializer.apply([channels * this.depthMultiplier], this.dtype), 'parameter');
  }

  forward(x: Tensor, training: boolean): Tensor {
    const g = this.geometry(x.shape[0]);
    const outShape = [x.shape[0], g.outHeight, g.outWidth, g.inChannels * this.depthMultiplier];
    const pre = this.buffer('pre', outShape, x.dtype);
    depthwiseConv2dForward(x, this.depthwiseKernel.value, this.bias?.value ?? null, pre, g);
    let y = pre;
    if (this.activation !== 'linear') {
      y = this.buffer('out', outShape, x.dtype);
      activate(this.activation, pre, y);
    }
    if (training) {
      this.lastInput = x;
      this.lastPre = pre;
      this.lastOutput = y;
      this.lastGeometry = g;
    }
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const g = this.lastGeometry!;
    let dPre = dy;
    if (this.activation !== 'linear') {
      dPre = this.buffer('dpre', dy.shape, dy.dtype);
      activateGrad(this.activation, this.lastPre!, this.lastOutput!, dy, dPre);
    }
    const x = this.lastInput!;
    const dx = needInputGrad ? this.buffer('dx', x.shape, x.dtype) : null;
    const frozen = !this.trainable;
    depthwiseConv2dBackward(x, this.depthwiseKernel.value, dPre, g,
      frozen ? null : this.depthwiseKernel.grad, frozen ? null : this.bias?.grad ?? null, dx);
    return dx;
  }
}
