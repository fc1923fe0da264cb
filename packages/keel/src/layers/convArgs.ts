/** Reading the window options of the convolution and pooling layers, as Keras reads them. */
import { ShapeError, ValueError, formatShape } from '../core/errors.js';
import { describeValue } from '../core/format.js';
import { convGeometry, type Conv2DGeometry, type Padding } from '../backend/convGeometry.js';

/** A pair of positive integers from a number or a pair (kernelSize, strides, poolSize, dilationRate). */
export function pairOf(where: string, name: string, value: unknown): [number, number] {
  const pair = typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => Number.isInteger(v) && v > 0)) {
    throw new ValueError(
      `${where}: expected ${name} to be a positive integer or a pair of them, received ${describeOption(value)}. ` +
        `Example: ${name}: 3 or ${name}: [3, 3].`,
    );
  }
  return [pair[0], pair[1]];
}

/** 'valid' (the default) or 'same'. */
export function paddingOf(where: string, value: unknown): Padding {
  if (value === undefined) return 'valid';
  if (value === 'valid' || value === 'same') return value;
  throw new ValueError(`${where}: expected padding 'valid' or 'same', received ${describeOption(value)}.`);
}

/**
 * Differs from Keras: channels-last only. Keel's kernels are written for NHWC, the layout of TF.js
 * and of Keras on CPU; a channels-first model has to be transposed first.
 */
export function checkDataFormat(where: string, value: unknown): void {
  if (value === undefined || value === null || value === 'channelsLast' || value === 'channels_last') return;
  throw new ValueError(
    `${where}: expected dataFormat 'channelsLast' (images as [batch, height, width, channels]), received ${describeOption(value)}. ` +
      `Keel has no channels-first layout: transpose your images to NHWC.`,
  );
}

/** A short rendering of an option's value: small numbers and short pairs as written, the rest described. */
export function describeOption(v: unknown): string {
  if (Array.isArray(v) && v.length <= 4 && v.every((e) => typeof e === 'number')) return `[${v.join(', ')}]`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (typeof v === 'string') return `'${v.slice(0, 40)}'${v.length > 40 ? '...' : ''}`;
  return describeValue(v);
}

/**
 * Checks that one example is an image [height, width, channels], before any weight exists. A
 * shape whose first axis is small (1 to 4) and whose last is large looks channels-first, and the
 * message says so.
 */
export function checkImageShape(where: string, inputShape: readonly number[]): void {
  if (inputShape.length !== 3) {
    const fix = inputShape.length === 2
      ? ` Add a channels axis: layers.reshape({targetShape: [${inputShape.join(', ')}, 1]}) first, or give inputShape [${inputShape.join(', ')}, 1].`
      : '';
    throw new ShapeError(
      `${where}: expected each example as an image [height, width, channels] (channels last), received shape ` +
        `${formatShape(inputShape)} (rank ${inputShape.length + 1} with the batch axis; expected rank 4).${fix}`,
    );
  }
  const [h, w, c] = inputShape;
  if (h <= 4 && c > 4 && w > 4) {
    throw new ShapeError(
      `${where}: expected channels last, [height, width, channels], received ${formatShape(inputShape)}, which looks ` +
        `channels-first ([channels, height, width]). Transpose the images to [${w}, ${c}, ${h}] (NHWC).`,
    );
  }
}

/** The window options of a convolution, read and checked once. */
export interface ConvWindow {
  kernelSize: [number, number];
  strides: [number, number];
  padding: Padding;
  dilationRate: [number, number];
}

/** Reads kernelSize, strides (1), padding ('valid'), dilationRate (1) and dataFormat as Keras does. */
export function convWindow(
  where: string,
  args: { kernelSize: unknown; strides?: unknown; padding?: unknown; dilationRate?: unknown; dataFormat?: unknown },
): ConvWindow {
  const window: ConvWindow = {
    kernelSize: pairOf(where, 'kernelSize', args.kernelSize),
    strides: pairOf(where, 'strides', args.strides ?? 1),
    padding: paddingOf(where, args.padding),
    dilationRate: pairOf(where, 'dilationRate', args.dilationRate ?? 1),
  };
  checkDataFormat(where, args.dataFormat);
  if (window.dilationRate.some((d) => d > 1) && window.strides.some((s) => s > 1)) {
    throw new ValueError(
      `${where}: dilationRate [${window.dilationRate.join(', ')}] cannot be combined with strides [${window.strides.join(', ')}] ` +
        `(as in Keras); use strides 1 with a dilation, or dilation 1 with strides.`,
    );
  }
  return window;
}

/** The geometry of `window` over a batch of `batch` images of shape `inputShape` (checked first). */
export function windowGeometry(layerName: string, window: ConvWindow, batch: number, inputShape: readonly number[]): Conv2DGeometry {
  checkImageShape(layerName, inputShape);
  return convGeometry(layerName, [batch, ...inputShape], {
    filterSize: window.kernelSize, strides: window.strides, dilations: window.dilationRate, padding: window.padding,
  });
}
