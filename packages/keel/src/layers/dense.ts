/**
 * Dense: y = activation(x·W + b), W of shape [inputs, units].
 * Inputs of rank > 2 are multiplied along their last axis, as in Keras.
 */
import type { Tensor } from '../core/tensor.js';
import { ValueError, describeValue } from '../core/errors.js';
import { Layer, type LayerArgs } from './layer.js';
import type { LayerVariable } from './variable.js';
import { getInitializer, type InitializerIdentifier } from '../initializers/index.js';
import { activate, activateGrad, resolveActivation, type ActivationName } from '../ops/activations.js';
import { denseBackward, denseForward } from '../ops/matmul.js';

export interface DenseLayerArgs extends LayerArgs {
  /** Number of output features. */
  units: number;
  /** Activation applied to x·W + b (default linear). */
  activation?: ActivationName | string;
  /** Whether to add a bias vector (default true). */
  useBias?: boolean;
  /** Default 'glorotUniform', as in Keras. */
  kernelInitializer?: InitializerIdentifier | string;
  /** Default 'zeros'. */
  biasInitializer?: InitializerIdentifier | string;
}

const KEYS = ['units', 'activation', 'useBias', 'kernelInitializer', 'biasInitializer'];

export class Dense extends Layer {
  readonly units: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  private readonly kernelInitializer;
  private readonly biasInitializer;
  kernel!: LayerVariable;
  bias: LayerVariable | null = null;
  private lastInput: Tensor | null = null;
  private lastPre: Tensor | null = null;
  private lastOutput: Tensor | null = null;

  constructor(args: DenseLayerArgs) {
    super(args ?? ({} as DenseLayerArgs), 'Dense', KEYS);
    const { units, activation, useBias = true, kernelInitializer = 'glorotUniform', biasInitializer = 'zeros' } = args;
    if (!Number.isInteger(units) || units <= 0) {
      throw new ValueError(`Dense: expected units to be a positive integer, received ${describeValue(units)}. Example: dense({units: 10}).`);
    }
    this.units = units;
    this.activation = resolveActivation(activation);
    this.useBias = useBias;
    this.kernelInitializer = getInitializer(kernelInitializer);
    this.biasInitializer = getInitializer(biasInitializer);
  }

  getClassName(): string {
    return 'Dense';
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      units: this.units,
      activation: this.activation,
      use_bias: this.useBias,
      kernel_initializer: { class_name: this.kernelInitializer.getClassName(), config: this.kernelInitializer.getConfig() },
      bias_initializer: { class_name: this.biasInitializer.getClassName(), config: this.biasInitializer.getConfig() },
    };
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape.slice(0, -1), this.units];
  }

  override build(inputShape: readonly number[]): void {
    super.build(inputShape);
    const inputs = inputShape[inputShape.length - 1];
    this.kernel = this.addWeight('kernel', this.kernelInitializer.apply([inputs, this.units], this.dtype), 'parameter');
    if (this.useBias) this.bias = this.addWeight('bias', this.biasInitializer.apply([this.units], this.dtype), 'parameter');
  }

  forward(x: Tensor, training: boolean): Tensor {
    const outShape = [x.shape[0], ...this.computeOutputShape(x.shape.slice(1))];
    const pre = this.buffer('pre', outShape, x.dtype);
    let y = pre;
    if (this.activation === 'linear') {
      denseForward(x, this.kernel.value, this.bias?.value ?? null, pre);
    } else if (this.activation === 'softmax') {
      denseForward(x, this.kernel.value, this.bias?.value ?? null, pre);
      y = this.buffer('out', outShape, x.dtype);
      activate(this.activation, pre, y);
    } else {
      // Bias and activation in one pass after the GEMM; pre keeps x·W + b for the backward.
      y = this.buffer('out', outShape, x.dtype);
      denseForward(x, this.kernel.value, this.bias?.value ?? null, pre, { kind: this.activation, out: y });
    }
    if (training) {
      this.lastInput = x;
      this.lastPre = pre;
      this.lastOutput = y;
    }
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const pre = this.lastPre!;
    let dPre = dy;
    if (this.activation !== 'linear') {
      dPre = this.buffer('dpre', pre.shape, pre.dtype);
      activateGrad(this.activation, pre, this.lastOutput!, dy, dPre);
    }
    return this.backwardFromPreActivation(dPre, needInputGrad);
  }

  /** x·W + b of the last training forward. @internal */
  preActivation(): Tensor {
    return this.lastPre!;
  }

  /** Backward given dL/d(x·W + b) directly: the fused softmax + cross-entropy path. @internal */
  backwardFromPreActivation(dPre: Tensor, needInputGrad: boolean): Tensor | null {
    const x = this.lastInput!;
    const dx = needInputGrad ? this.buffer('dx', x.shape, x.dtype) : null;
    // Gradients accumulate; the model zeroes them before each step. A frozen layer skips its own.
    const frozen = !this.trainable;
    denseBackward(x, this.kernel.value, dPre, frozen ? null : this.kernel.grad, frozen ? null : this.bias?.grad ?? null, dx);
    return dx;
  }
}
