/**
 * Pooling over channels-last images: MaxPooling2D and AveragePooling2D over windows of `poolSize`
 * (strides default to poolSize, padding 'valid'), and their global forms over the whole image,
 * which return [batch, channels].
 *
 * Gotcha: with padding 'same', padded positions take no part: a max ignores them and an average
 * divides by the number of positions inside the image (TensorFlow's rule; PyTorch's AvgPool2d
 * counts the zeros unless `count_include_pad=False`).
 */
import type { Tensor } from '../core/tensor.js';
import type { Conv2DGeometry, Padding } from '../backend/convGeometry.js';
import { pool2dBackward, pool2dForward } from '../ops/conv.js';
import { Layer, type LayerArgs } from './layer.js';
import { checkDataFormat, pairOf, paddingOf, windowGeometry } from './convArgs.js';

export interface Pooling2DLayerArgs extends LayerArgs {
  /** Window height and width (default [2, 2]). */
  poolSize?: number | [number, number];
  /** Step between windows (default: poolSize). */
  strides?: number | [number, number];
  /** 'valid' (default) or 'same'. */
  padding?: Padding;
  dataFormat?: 'channelsLast';
}

const POOL_KEYS = ['poolSize', 'strides', 'padding', 'dataFormat'];

abstract class Pooling2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  private lastInput: Tensor | null = null;
  private lastOutput: Tensor | null = null;
  private lastGeometry: Conv2DGeometry | null = null;

  constructor(args: Pooling2DLayerArgs, className: string, readonly kind: 'max' | 'avg', keys: readonly string[] = POOL_KEYS) {
    super(args, className, keys);
    const { poolSize = 2, strides, padding, dataFormat } = args;
    this.poolSize = pairOf(className, 'poolSize', poolSize);
    this.strides = strides === undefined || strides === null ? [...this.poolSize] : pairOf(className, 'strides', strides);
    this.padding = paddingOf(className, padding);
    checkDataFormat(className, dataFormat);
  }

  geometry(batch: number, inputShape: readonly number[] = this.inputShapeBuilt): Conv2DGeometry {
    const window = { kernelSize: this.poolSize, strides: this.strides, padding: this.padding, dilationRate: [1, 1] as [number, number] };
    return windowGeometry(this.name, window, batch, inputShape);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    const g = this.geometry(1, inputShape);
    return [g.outHeight, g.outWidth, inputShape[2]];
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
    super.build(inputShape);
  }

  forward(x: Tensor, training: boolean): Tensor {
    const g = this.geometry(x.shape[0]);
    const y = this.buffer('out', [x.shape[0], g.outHeight, g.outWidth, g.inChannels], x.dtype);
    pool2dForward(this.kind, x, y, g);
    if (training) {
      this.lastInput = x;
      this.lastOutput = y;
      this.lastGeometry = g;
    }
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    const x = this.lastInput!;
    const dx = this.buffer('dx', x.shape, x.dtype);
    pool2dBackward(this.kind, x, this.lastOutput!, dy, dx, this.lastGeometry!);
    return dx;
  }
}

/** The maximum of each window. */
export class MaxPooling2D extends Pooling2D {
  constructor(args: Pooling2DLayerArgs = {}) {
    super(args, 'MaxPooling2D', 'max');
  }
  getClassName(): string {
    return 'MaxPooling2D';
  }
}

/** The mean of each window (over its positions inside the image). */
export class AveragePooling2D extends Pooling2D {
  constructor(args: Pooling2DLayerArgs = {}) {
    super(args, 'AveragePooling2D', 'avg');
  }
  getClassName(): string {
    return 'AveragePooling2D';
  }
}

export interface GlobalPooling2DLayerArgs extends LayerArgs {
  dataFormat?: 'channelsLast';
}

/**
 * Pooling over the whole image, [batch, h, w, c] → [batch, c]: the window pooling above with one
 * window of h×w, whose output [batch, 1, 1, c] holds the same values as [batch, c].
 */
abstract class GlobalPooling2D extends Pooling2D {
  constructor(args: GlobalPooling2DLayerArgs, className: string, kind: 'max' | 'avg') {
    super(args, className, kind, ['dataFormat']);
  }

  override geometry(batch: number, inputShape: readonly number[] = this.inputShapeBuilt): Conv2DGeometry {
    const [h, w] = inputShape; // windowGeometry checks the shape before it uses them
    return windowGeometry(this.name, { kernelSize: [h, w], strides: [h, w], padding: 'valid', dilationRate: [1, 1] }, batch, inputShape);
  }


  override computeOutputShape(inputShape: readonly number[]): number[] {
    this.geometry(1, inputShape);
    return [inputShape[2]];
  }

  override forward(x: Tensor, training: boolean): Tensor {
    const y = super.forward(x, training);
    return this.view(y, [x.shape[0], x.shape[3]]);
  }

  override backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    return super.backward(this.view(dy, [dy.shape[0], 1, 1, dy.shape[1]]), needInputGrad);
  }
}

/** The mean over height and width: [batch, h, w, c] → [batch, c]. */
export class GlobalAveragePooling2D extends GlobalPooling2D {
  constructor(args: GlobalPooling2DLayerArgs = {}) {
    super(args, 'GlobalAveragePooling2D', 'avg');
  }
  getClassName(): string {
    return 'GlobalAveragePooling2D';
  }
}

/** The maximum over height and width: [batch, h, w, c] → [batch, c]. */
export class GlobalMaxPooling2D extends GlobalPooling2D {
  constructor(args: GlobalPooling2DLayerArgs = {}) {
    super(args, 'GlobalMaxPooling2D', 'max');
  }
  getClassName(): string {
    return 'GlobalMaxPooling2D';
  }
}
