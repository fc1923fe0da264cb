/**
 * Conv2D: y = activation(conv2d(x, K) + b) over channels-last images, x of shape
 * [batch, height, width, channels] and K of shape [kernelHeight, kernelWidth, inChannels, filters]
 * (as TF.js stores it). Output [batch, outHeight, outWidth, filters], with TensorFlow's sizes:
 * 'valid' gives floor((in − ((k − 1)·dilation + 1)) / stride) + 1, 'same' gives ceil(in / stride).
 *
 * Gotcha: with 'same' and an even window (or a stride), the padding is uneven and TensorFlow puts
 * the extra row/column at the bottom/right; PyTorch's `padding=1` pads both sides.
 *
 * @example keel.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', inputShape: [28, 28, 1] })
 */
import type { Tensor } from '../core/tensor.js';
import { ValueError } from '../core/errors.js';
import type { Conv2DGeometry, Padding } from '../backend/convGeometry.js';
import { getInitializer, type InitializerIdentifier } from '../initializers/index.js';
import { activate, activateGrad, resolveActivation, type ActivationName } from '../ops/activations.js';
import { conv2dBackward, conv2dForward, im2colShape, isPointwise } from '../ops/conv.js';
import { Layer, type LayerArgs } from './layer.js';
import type { LayerVariable } from './variable.js';
import { convWindow, describeOption, windowGeometry } from './convArgs.js';

export interface Conv2DLayerArgs extends LayerArgs {
  /** Number of output channels. */
  filters: number;
  /** Window height and width: a number for a square window. */
  kernelSize: number | [number, number];
  /** Step between windows (default 1). */
  strides?: number | [number, number];
  /** 'valid' (default: no padding) or 'same' (output size ceil(input / stride)). */
  padding?: Padding;
  /** Only 'channelsLast' (the default). */
  dataFormat?: 'channelsLast';
  /** Spacing between the window's taps (default 1); cannot be combined with strides > 1, as in Keras. */
  dilationRate?: number | [number, number];
  /** Activation applied after the bias (default linear). */
  activation?: ActivationName | string;
  /** Whether to add a bias per filter (default true). */
  useBias?: boolean;
  /** Default 'glorotUniform', as in Keras (fan-in = kh·kw·in, fan-out = kh·kw·filters). */
  kernelInitializer?: InitializerIdentifier | string;
  /** Default 'zeros'. */
  biasInitializer?: InitializerIdentifier | string;
}

const KEYS = ['filters', 'kernelSize', 'strides', 'padding', 'dataFormat', 'dilationRate', 'activation', 'useBias', 'kernelInitializer', 'biasInitializer'];

export class Conv2D extends Layer {
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly dilationRate: [number, number];
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly kernelInitializer;
  readonly biasInitializer;
  kernel!: LayerVariable;
  bias: LayerVariable | null = null;
  private lastInput: Tensor | null = null;
  private lastPre: Tensor | null = null;
  private lastOutput: Tensor | null = null;
  private lastGeometry: Conv2DGeometry | null = null;

  constructor(args: Conv2DLayerArgs) {
    super(args ?? ({} as Conv2DLayerArgs), 'Conv2D', KEYS);
    const {
      filters, kernelSize, strides, padding, dataFormat, dilationRate, activation, useBias = true,
      kernelInitializer = 'glorotUniform', biasInitializer = 'zeros',
    } = args;
    if (!Number.isInteger(filters) || filters <= 0) {
      throw new ValueError(`Conv2D: expected filters to be a positive integer, received ${describeOption(filters)}. Example: conv2d({filters: 32, kernelSize: 3}).`);
    }
    this.filters = filters;
    ({ kernelSize: this.kernelSize, strides: this.strides, padding: this.padding, dilationRate: this.dilationRate } =
      convWindow('Conv2D', { kernelSize, strides, padding, dilationRate, dataFormat }));
    this.activation = resolveActivation(activation);
    this.useBias = useBias;
    this.kernelInitializer = getInitializer(kernelInitializer);
    this.biasInitializer = getInitializer(biasInitializer);
  }

  getClassName(): string {
    return 'Conv2D';
  }

  /** The window geometry for a batch of `batch` images of the built (or given) shape. */
  geometry(batch: number, inputShape: readonly number[] = this.inputShapeBuilt): Conv2DGeometry {
    return windowGeometry(this.name, this, batch, inputShape);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    const g = this.geometry(1, inputShape);
    return [g.outHeight, g.outWidth, this.filters];
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape); // refuses a bad input before any weight exists
    super.build(inputShape);
    const [kh, kw] = this.kernelSize;
    const channels = inputShape[2];
    this.kernel = this.addWeight('kernel', this.kernelInitializer.apply([kh, kw, channels, this.filters], this.dtype), 'parameter');
    if (this.useBias) this.bias = this.addWeight('bias', this.biasInitializer.apply([this.filters], this.dtype), 'parameter');
  }

  forward(x: Tensor, training: boolean): Tensor {
    const g = this.geometry(x.shape[0]);
    const cols = isPointwise(g) ? null : this.buffer('cols', im2colShape(g), x.dtype);
    const outShape = [x.shape[0], g.outHeight, g.outWidth, this.filters];
    const pre = this.buffer('pre', outShape, x.dtype);
    const bias = this.bias?.value ?? null;
    let y = pre;
    if (this.activation === 'linear') {
      conv2dForward(x, this.kernel.value, bias, pre, cols, g);
    } else if (this.activation === 'softmax') {
      conv2dForward(x, this.kernel.value, bias, pre, cols, g);
      y = this.buffer('out', outShape, x.dtype);
      activate(this.activation, pre, y);
    } else {
      y = this.buffer('out', outShape, x.dtype);
      conv2dForward(x, this.kernel.value, bias, pre, cols, g, { kind: this.activation, out: y });
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
    const dx = needInputGrad ? this.buffer('dx', [g.batch, g.inHeight, g.inWidth, g.inChannels], dy.dtype) : null;
    const cols = isPointwise(g) ? null : this.buffer('cols', im2colShape(g), dy.dtype);
    // Gradients accumulate; the model zeroes them before each step. A frozen layer skips its own.
    const frozen = !this.trainable;
    conv2dBackward(this.lastInput!, this.kernel.value, dPre, g, cols,
      frozen ? null : this.kernel.grad, frozen ? null : this.bias?.grad ?? null, dx);
    return dx;
  }
}
