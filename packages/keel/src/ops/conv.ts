/**
 * 2-D convolutions over channels-last (NHWC) images, each with its gradient beside it.
 *
 * conv2d is im2col + GEMM: the windows of x become the rows of a matrix `cols`
 * ([batch·outHeight·outWidth, filterHeight·filterWidth·inChannels]), and the kernel
 * [filterHeight, filterWidth, in, out] is already that matrix's right-hand factor in memory, so
 * y = cols·K lands in NHWC order. The backward is Dense's on `cols`: dK += colsᵀ·dy, and
 * dx = col2im(dy·Kᵀ). A 1×1 convolution with stride 1 and no padding needs no im2col: x is `cols`.
 * The window matrix is made a few images at a time (IM2COL_CHUNK_FLOATS), built again in the
 * backward rather than kept: measured at batch 128 of the cnn model, a whole-batch matrix (115 MB
 * for the second convolution) made the step memory-bound.
 * Why im2col rather than a direct kernel: the GEMM is the most tuned kernel Keel has (a packed
 * register-blocked SIMD micro-kernel, split over threads), and a 3×3 window copies each input
 * value 9 times, which costs far less than the multiply-adds it feeds; see the wasm kernels' header
 * for the measured split of the time.
 */
import type { Tensor } from '../core/tensor.js';
import { backendFor, type UnaryKind } from '../backend/backend.js';
import type { Conv2DGeometry } from '../backend/convGeometry.js';
import { addBiasActivation } from './matmul.js';

/** Whether conv2d can use x itself as its im2col matrix (1×1 window, stride 1, no padding). */
export function isPointwise(g: Conv2DGeometry): boolean {
  return g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1 &&
    g.padTop === 0 && g.padLeft === 0;
}

/**
 * The window matrix is built and consumed a few images at a time, so that it stays in cache
 * between im2col writing it and the GEMM reading it: about this many floats (1 MB) per chunk, half
 * of it per thread, within each core's 2 MB L2. A whole batch of 128 images of 28×28×32 makes a
 * 115 MB matrix, which streams through memory twice. Measured on 2 cores (2026-12-02, the
 * calling process alone, interleaved runs of one epoch of 512 or 1,024 images): ResNet-20 trained
 * at 263-280 samples/s at batch 64 with 256K floats against 227-245 with 1M and 217 with 64K, and
 * at 259-266 against 245-250 at batch 128; the cnn model at 502-530 against 472-503 at batch 128
 * (within noise). An earlier measurement of the cnn model alone (2026-12-01) had favoured 1M.
 */
export const IM2COL_CHUNK_FLOATS = 1 << 18;

/** Images per chunk of the window matrix for geometry `g` (at least 1). */
export function imagesPerChunk(g: Conv2DGeometry): number {
  const perImage = g.outHeight * g.outWidth * g.filterHeight * g.filterWidth * g.inChannels;
  return Math.max(1, Math.min(g.batch, Math.floor(IM2COL_CHUNK_FLOATS / perImage)));
}

/** Rows and columns of the window matrix of `images` images (default: one chunk). */
export function im2colShape(g: Conv2DGeometry, images = imagesPerChunk(g)): [number, number] {
  return [images * g.outHeight * g.outWidth, g.filterHeight * g.filterWidth * g.inChannels];
}

/** Calls `fn(first image, images)` for each chunk of the batch, in order. */
function forChunks(g: Conv2DGeometry, fn: (first: number, images: number) => void): void {
  const per = imagesPerChunk(g);
  for (let first = 0; first < g.batch; first += per) fn(first, Math.min(per, g.batch - first));
}

/**
 * y = conv2d(x, K) + b, with `activation` fused after the GEMM as in Dense (y keeps the
 * pre-activation for the backward; the activation goes to `activation.out`). `cols` is a work
 * buffer of `im2colShape(g)` for the window matrix, built chunk by chunk (null when
 * `isPointwise(g)`: x is its own window matrix).
 */
export function conv2dForward(
  x: Tensor, kernel: Tensor, bias: Tensor | null, y: Tensor, cols: Tensor | null, g: Conv2DGeometry,
  activation?: { kind: UnaryKind; out: Tensor },
): void {
  const be = backendFor(x.dtype);
  const depth = g.filterHeight * g.filterWidth * g.inChannels;
  const filters = kernel.shape[3];
  const positions = g.outHeight * g.outWidth;
  const rows = g.batch * positions;
  if (!cols) {
    be.gemm(x.values, kernel.values, y.values, rows, filters, depth, false, false, false);
  } else {
    const inImage = g.inHeight * g.inWidth * g.inChannels;
    forChunks(g, (first, images) => {
      const part = { ...g, batch: images };
      be.im2col(x.values.subarray(first * inImage, (first + images) * inImage), cols.values, part);
      be.gemm(cols.values, kernel.values, y.values.subarray(first * positions * filters, (first + images) * positions * filters),
        images * positions, filters, depth, false, false, false);
    });
  }
  addBiasActivation(y, bias, rows, filters, activation);
}

/**
 * Gradients of y = conv2d(x, K) + b given dL/dy, chunk by chunk: the window matrix of the chunk is
 * built again from x (cheaper than keeping a whole batch's: it stays in cache), then dK += colsᵀ·dy,
 * and dx = col2im(dy·Kᵀ) through the same buffer (the adjoint of the window copy: overlapping
 * windows add up). db += Σ dy over positions. `cols` as in the forward (null when pointwise).
 */
export function conv2dBackward(
  x: Tensor, kernel: Tensor, dy: Tensor, g: Conv2DGeometry, cols: Tensor | null,
  dKernel: Tensor | null, dBias: Tensor | null, dx: Tensor | null,
): void {
  const be = backendFor(dy.dtype);
  const depth = g.filterHeight * g.filterWidth * g.inChannels;
  const filters = kernel.shape[3];
  const positions = g.outHeight * g.outWidth;
  const rows = g.batch * positions;
  if (dBias) be.columnSums(dy.values, rows, filters, dBias.values, true);
  if (!cols) {
    if (dKernel) be.gemm(x.values, dy.values, dKernel.values, depth, filters, rows, true, false, true);
    if (dx) be.gemm(dy.values, kernel.values, dx.values, rows, depth, filters, false, true, false);
    return;
  }
  if (!dKernel && !dx) return;
  const inImage = g.inHeight * g.inWidth * g.inChannels;
  forChunks(g, (first, images) => {
    const part = { ...g, batch: images };
    const dyPart = dy.values.subarray(first * positions * filters, (first + images) * positions * filters);
    if (dKernel) {
      be.im2col(x.values.subarray(first * inImage, (first + images) * inImage), cols.values, part);
      be.gemm(cols.values, dyPart, dKernel.values, depth, filters, images * positions, true, false, true);
    }
    if (dx) {
      be.gemm(dyPart, kernel.values, cols.values, images * positions, depth, filters, false, true, false);
      be.col2im(cols.values, dx.values.subarray(first * inImage, (first + images) * inImage), part);
    }
  });
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
