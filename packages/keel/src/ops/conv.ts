/**
 * 2-D convolutions over channels-last (NHWC) images, each with its gradient beside it.
 *
 * conv2d is im2col + GEMM: the windows of x become the rows of a matrix `cols`
 * ([batch·outHeight·outWidth, filterHeight·filterWidth·inChannels]), and the kernel
 * [filterHeight, filterWidth, in, out] is already that matrix's right-hand factor in memory, so
 * y = cols·K lands in NHWC order. The backward is Dense's on `cols`: dK += colsᵀ·dy, and
 * dx = col2im(dy·Kᵀ). A 1×1 convolution with stride 1 and no padding needs no im2col: x is `cols`.
 * Why im2col rather than a direct kernel: the GEMM is the most tuned kernel Keel has (a packed
 * register-blocked SIMD micro-kernel, split over threads), and a 3×3 window copies each input
 * value 9 times, which costs far less than the multiply-adds it feeds; see the wasm kernels' header
 * for the measured split of the time.
 */
import type { Tensor } from '../core/tensor.js';
import { backendFor, type UnaryKind } from '../backend/backend.js';
import type { Conv2DGeometry } from '../backend/convGeometry.js';
import { LEAKY_RELU_SLOPE } from './activations.js';

/** Whether conv2d can use x itself as its im2col matrix (1×1 window, stride 1, no padding). */
export function isPointwise(g: Conv2DGeometry): boolean {
  return g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1 &&
    g.padTop === 0 && g.padLeft === 0;
}

/** Rows and columns of conv2d's im2col matrix. */
export function im2colShape(g: Conv2DGeometry): [number, number] {
  return [g.batch * g.outHeight * g.outWidth, g.filterHeight * g.filterWidth * g.inChannels];
}

/**
 * y = conv2d(x, K) + b, with `activation` fused after the GEMM as in Dense (y keeps the
 * pre-activation for the backward; the activation goes to `activation.out`). `cols` receives the
 * im2col matrix (pass null when `isPointwise(g)`): the backward needs it.
 */
export function conv2dForward(
  x: Tensor, kernel: Tensor, bias: Tensor | null, y: Tensor, cols: Tensor | null, g: Conv2DGeometry,
  activation?: { kind: UnaryKind; out: Tensor },
): void {
  const be = backendFor(x.dtype);
  const [rows, depth] = im2colShape(g);
  const filters = kernel.shape[3];
  const a = cols ?? x;
  if (cols) be.im2col(x.values, cols.values, g);
  be.gemm(a.values, kernel.values, y.values, rows, filters, depth, false, false, false);
  if (bias && activation) {
    be.addBiasActivation(y.values, bias.values, activation.out.values, rows, filters, activation.kind, LEAKY_RELU_SLOPE);
  } else if (bias) {
    be.addBias(y.values, bias.values, rows, filters);
  } else if (activation) {
    be.unary(activation.kind, y.values, activation.out.values, y.size, LEAKY_RELU_SLOPE);
  }
}

/**
 * Gradients of y = conv2d(x, K) + b given dL/dy: dK += colsᵀ·dy, db += Σ dy over positions, and
 * dx = col2im(dy·Kᵀ) through `dCols` (the adjoint of the window copy: overlapping windows add up).
 * `cols` is the forward's im2col matrix (x itself when pointwise, then `dCols` is unused and may be null).
 * `dCols` may be `cols`: dK reads cols before dCols is written.
 */
export function conv2dBackward(
  cols: Tensor, kernel: Tensor, dy: Tensor, g: Conv2DGeometry,
  dKernel: Tensor | null, dBias: Tensor | null, dx: Tensor | null, dCols: Tensor | null,
): void {
  const be = backendFor(dy.dtype);
  const [rows, depth] = im2colShape(g);
  const filters = kernel.shape[3];
  if (dKernel) be.gemm(cols.values, dy.values, dKernel.values, depth, filters, rows, true, false, true);
  if (dBias) be.columnSums(dy.values, rows, filters, dBias.values, true);
  if (!dx) return;
  if (isPointwise(g)) {
    be.gemm(dy.values, kernel.values, dx.values, rows, depth, filters, false, true, false);
    return;
  }
  be.gemm(dy.values, kernel.values, dCols!.values, rows, depth, filters, false, true, false);
  be.col2im(dCols!.values, dx.values, g);
}

/** y = depthwise conv2d of x with kernel [fh, fw, C, M] (+ bias [C·M]): each channel its own M filters. */
export function depthwiseConv2dForward(x: Tensor, kernel: Tensor, bias: Tensor | null, y: Tensor, g: Conv2DGeometry): void {
  const be = backendFor(x.dtype);
  const multiplier = kernel.shape[3];
  be.depthwiseConv2d(x.values, kernel.values, y.values, g, multiplier);
  if (bias) be.addBias(y.values, bias.values, y.size / bias.size, bias.size);
}

/** Gradients of the depthwise convolution: dK += Σ x·dy per tap, db += Σ dy, dx from dy and K. */
export function depthwiseConv2dBackward(
  x: Tensor, kernel: Tensor, dy: Tensor, g: Conv2DGeometry,
  dKernel: Tensor | null, dBias: Tensor | null, dx: Tensor | null,
): void {
  const be = backendFor(x.dtype);
  const multiplier = kernel.shape[3];
  if (dKernel) be.depthwiseConv2dBackpropFilter(x.values, dy.values, dKernel.values, g, multiplier);
  if (dBias) be.columnSums(dy.values, dy.size / dBias.size, dBias.size, dBias.values, true);
  if (dx) be.depthwiseConv2dBackpropInput(dy.values, kernel.values, dx.values, g, multiplier);
}

/** y = max or mean of x over each window (padding takes no part in either, as in TensorFlow). */
export function pool2dForward(kind: 'max' | 'avg', x: Tensor, y: Tensor, g: Conv2DGeometry): void {
  const be = backendFor(x.dtype);
  if (kind === 'max') be.maxPool(x.values, y.values, g);
  else be.avgPool(x.values, y.values, g);
}

/**
 * dx of pooling: max pooling sends each dy to the first position of its window that holds the
 * maximum (found again from x and y, so the forward keeps no indices); average pooling shares it
 * equally among the window's positions inside the image.
 */
export function pool2dBackward(kind: 'max' | 'avg', x: Tensor, y: Tensor, dy: Tensor, dx: Tensor, g: Conv2DGeometry): void {
  const be = backendFor(x.dtype);
  if (kind === 'max') be.maxPoolGrad(x.values, y.values, dy.values, dx.values, g);
  else be.avgPoolGrad(dy.values, dx.values, g);
}
