/**
 * The geometry of a 2-D convolution or pooling window over channels-last (NHWC) images: output
 * size and padding, computed once by the op and passed to the kernels as plain numbers.
 *
 * Output size and padding follow TensorFlow (and so TF.js and Keras):
 * - 'valid': no padding, out = floor((in − effective) / stride) + 1, with the effective window
 *   (filter − 1)·dilation + 1;
 * - 'same': out = ceil(in / stride), padded by max((out − 1)·stride + effective − in, 0) in all,
 *   floor(half) at the top/left and the rest at the bottom/right. Gotcha: when the padding is odd
 *   the extra row and column go at the bottom and right (PyTorch pads symmetrically, so the same
 *   weights give shifted outputs there).
 */
import { ShapeError, formatShape } from '../core/errors.js';

export type Padding = 'valid' | 'same';

export interface Conv2DGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  /** Rows of zeros (or of nothing, for pooling) above the image; the rest of the padding goes below. */
  padTop: number;
  /** Columns before the image; the rest goes after it. */
  padLeft: number;
}

export interface WindowArgs {
  filterSize: readonly [number, number];
  strides: readonly [number, number];
  dilations?: readonly [number, number];
  padding: Padding;
}

/** Output size and padding along one axis. */
function axis(inSize: number, filter: number, stride: number, dilation: number, padding: Padding): { out: number; before: number } {
  const effective = (filter - 1) * dilation + 1;
  if (padding === 'valid') return { out: Math.floor((inSize - effective) / stride) + 1, before: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  return { out, before: Math.floor(total / 2) };
}

/**
 * The geometry of a window of `args` over NHWC input of shape [batch, height, width, channels].
 * `where` names the layer for the error messages.
 */
export function convGeometry(where: string, inputShape: readonly number[], args: WindowArgs): Conv2DGeometry {
  if (inputShape.length !== 4) {
    throw new ShapeError(
      `${where}: expected input of rank 4, [batch, height, width, channels] (channels last), received shape ` +
        `${formatShape(inputShape)}. For one grey image of 28×28 use shape [1, 28, 28, 1]; add a channels axis with layers.reshape.`,
    );
  }
  const [batch, inHeight, inWidth, inChannels] = inputShape;
  const [filterHeight, filterWidth] = args.filterSize;
  const [strideHeight, strideWidth] = args.strides;
  const [dilationHeight, dilationWidth] = args.dilations ?? [1, 1];
  const rows = axis(inHeight, filterHeight, strideHeight, dilationHeight, args.padding);
  const cols = axis(inWidth, filterWidth, strideWidth, dilationWidth, args.padding);
  if (rows.out < 1 || cols.out < 1) {
    const effective = [(filterHeight - 1) * dilationHeight + 1, (filterWidth - 1) * dilationWidth + 1];
    throw new ShapeError(
      `${where}: the window of ${effective[0]}×${effective[1]} (filter ${filterHeight}×${filterWidth}, dilation ` +
        `${dilationHeight}×${dilationWidth}) is larger than the input's ${inHeight}×${inWidth} with padding 'valid'. ` +
        `Use padding: 'same', a smaller window, or larger images.`,
    );
  }
  return {
    batch, inHeight, inWidth, inChannels,
    outHeight: rows.out, outWidth: cols.out,
    filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth,
    padTop: rows.before, padLeft: cols.before,
  };
}
