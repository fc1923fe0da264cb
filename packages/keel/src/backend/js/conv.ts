/**
 * Reference kernels for convolutions and pooling over channels-last (NHWC) images, written to be
 * read: each is the definition as a loop nest. Faster backends are tested against them.
 *
 * A convolution is im2col + GEMM: each output position becomes a row of its window's values
 * ([filterHeight, filterWidth, inChannels] flattened, zeros where the window leaves the image), so
 * the kernel [filterHeight, filterWidth, in, out], read as a matrix of (fh·fw·in) rows, multiplies
 * the rows into the output [batch·outHeight·outWidth, out], which is NHWC as it stands.
 */
import type { FloatArray } from '../../core/tensor.js';
import type { Conv2DGeometry } from '../convGeometry.js';

/** Calls `visit(inputIndex or −1, column)` for each value of output position (n, oh, ow)'s window. */
function forWindow(
  g: Conv2DGeometry, n: number, oh: number, ow: number,
  visit: (pixel: number, fh: number, fw: number) => void,
): void {
  for (let fh = 0; fh < g.filterHeight; fh++) {
    const ih = oh * g.strideHeight - g.padTop + fh * g.dilationHeight;
    for (let fw = 0; fw < g.filterWidth; fw++) {
      const iw = ow * g.strideWidth - g.padLeft + fw * g.dilationWidth;
      const inside = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth;
      visit(inside ? (n * g.inHeight + ih) * g.inWidth + iw : -1, fh, fw);
    }
  }
}

/** cols[row, (fh·fw + fw)·C + c] = x[n, ih, iw, c] (0 outside the image), row = (n·outH + oh)·outW + ow. */
export function im2col(x: FloatArray, cols: FloatArray, g: Conv2DGeometry): void {
  const C = g.inChannels;
  const K = g.filterHeight * g.filterWidth * C;
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row++) {
        forWindow(g, n, oh, ow, (pixel, fh, fw) => {
          const to = row * K + (fh * g.filterWidth + fw) * C;
          for (let c = 0; c < C; c++) cols[to + c] = pixel < 0 ? 0 : x[pixel * C + c];
        });
      }
    }
  }
}

/** The adjoint of im2col: dx = 0, then dx[n, ih, iw, c] += cols[row, ...] for every window value. */
export function col2im(cols: FloatArray, dx: FloatArray, g: Conv2DGeometry): void {
  const C = g.inChannels;
  const K = g.filterHeight * g.filterWidth * C;
  dx.fill(0, 0, g.batch * g.inHeight * g.inWidth * C);
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row++) {
        forWindow(g, n, oh, ow, (pixel, fh, fw) => {
          if (pixel < 0) return;
          const from = row * K + (fh * g.filterWidth + fw) * C;
          for (let c = 0; c < C; c++) dx[pixel * C + c] += cols[from + c];
        });
      }
    }
  }
}

/**
 * Depthwise convolution, kernel [fh, fw, C, M]: y[n, oh, ow, c·M + m] = Σ x[n, ih, iw, c]·k[fh, fw, c, m].
 * Each input channel has its own M filters; no sum over channels.
 */
export function depthwiseConv2d(x: FloatArray, kernel: FloatArray, y: FloatArray, g: Conv2DGeometry, multiplier: number): void {
  const C = g.inChannels;
  const out = C * multiplier;
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row++) {
        const to = row * out;
        for (let j = 0; j < out; j++) y[to + j] = 0;
        forWindow(g, n, oh, ow, (pixel, fh, fw) => {
          if (pixel < 0) return;
          const k = (fh * g.filterWidth + fw) * out;
          for (let c = 0; c < C; c++) {
            const v = x[pixel * C + c];
            for (let m = 0; m < multiplier; m++) y[to + c * multiplier + m] += v * kernel[k + c * multiplier + m];
          }
        });
      }
    }
  }
}

/** dx of the depthwise convolution: dx = 0, then dx[n, ih, iw, c] += Σ_m dy[.., c·M + m]·k[fh, fw, c, m]. */
export function depthwiseConv2dBackpropInput(dy: FloatArray, kernel: FloatArray, dx: FloatArray, g: Conv2DGeometry, multiplier: number): void {
  const C = g.inChannels;
  const out = C * multiplier;
  dx.fill(0, 0, g.batch * g.inHeight * g.inWidth * C);
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row++) {
        forWindow(g, n, oh, ow, (pixel, fh, fw) => {
          if (pixel < 0) return;
          const k = (fh * g.filterWidth + fw) * out;
          for (let c = 0; c < C; c++) {
            let sum = 0;
            for (let m = 0; m < multiplier; m++) sum += dy[row * out + c * multiplier + m] * kernel[k + c * multiplier + m];
            dx[pixel * C + c] += sum;
          }
        });
      }
    }
  }
}

/** dKernel of the depthwise convolution, accumulated: dk[fh, fw, c, m] += Σ_{n, oh, ow} x[n, ih, iw, c]·dy[.., c·M + m]. */
export function depthwiseConv2dBackpropFilter(x: FloatArray, dy: FloatArray, dKernel: FloatArray, g: Conv2DGeometry, multiplier: number): void {
  const C = g.inChannels;
  const out = C * multiplier;
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row++) {
        forWindow(g, n, oh, ow, (pixel, fh, fw) => {
          if (pixel < 0) return;
          const k = (fh * g.filterWidth + fw) * out;
          for (let c = 0; c < C; c++) {
            const v = x[pixel * C + c];
            for (let m = 0; m < multiplier; m++) dKernel[k + c * multiplier + m] += v * dy[row * out + c * multiplier + m];
          }
        });
      }
    }
  }
}

/** y[n, oh, ow, c] = max of x over the window; padded positions take no part (TensorFlow's rule). */
export function maxPool(x: FloatArray, y: FloatArray, g: Conv2DGeometry): void {
  const C = g.inChannels;
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row++) {
        for (let c = 0; c < C; c++) y[row * C + c] = -Infinity;
        forWindow(g, n, oh, ow, (pixel) => {
          if (pixel < 0) return;
          for (let c = 0; c < C; c++) if (x[pixel * C + c] > y[row * C + c]) y[row * C + c] = x[pixel * C + c];
        });
      }
    }
  }
}

/**
 * dx of max pooling: dx = 0, then each dy goes to the first position of its window (in row-major
 * window order) where x equals the pooled maximum y. Recomputing the position from x and y, as
 * TensorFlow's MaxPoolGrad does, spares the forward an index buffer.
 */
export function maxPoolGrad(x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, g: Conv2DGeometry): void {
  const C = g.inChannels;
  dx.fill(0, 0, g.batch * g.inHeight * g.inWidth * C);
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row++) {
        for (let c = 0; c < C; c++) {
          let done = false;
          forWindow(g, n, oh, ow, (pixel) => {
            if (done || pixel < 0 || x[pixel * C + c] !== y[row * C + c]) return;
            dx[pixel * C + c] += dy[row * C + c];
            done = true;
          });
        }
      }
    }
  }
}

/** Number of window positions inside the image: average pooling divides by it (TensorFlow's 'same' rule). */
function insideCount(g: Conv2DGeometry, n: number, oh: number, ow: number): number {
  let count = 0;
  forWindow(g, n, oh, ow, (pixel) => {
    if (pixel >= 0) count++;
  });
  return count;
}

/** y[n, oh, ow, c] = mean of x over the window's positions inside the image. */
export function avgPool(x: FloatArray, y: FloatArray, g: Conv2DGeometry): void {
  const C = g.inChannels;
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row++) {
        for (let c = 0; c < C; c++) y[row * C + c] = 0;
        forWindow(g, n, oh, ow, (pixel) => {
          if (pixel < 0) return;
          for (let c = 0; c < C; c++) y[row * C + c] += x[pixel * C + c];
        });
        const count = insideCount(g, n, oh, ow);
        for (let c = 0; c < C; c++) y[row * C + c] /= count;
      }
    }
  }
}

/** dx of average pooling: dx = 0, then each dy is shared equally by its window's inside positions. */
export function avgPoolGrad(dy: FloatArray, dx: FloatArray, g: Conv2DGeometry): void {
  const C = g.inChannels;
  dx.fill(0, 0, g.batch * g.inHeight * g.inWidth * C);
  let row = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row++) {
        const count = insideCount(g, n, oh, ow);
        forWindow(g, n, oh, ow, (pixel) => {
          if (pixel < 0) return;
          for (let c = 0; c < C; c++) dx[pixel * C + c] += dy[row * C + c] / count;
        });
      }
    }
  }
}
