/**
 * The reference backend: plain TypeScript kernels, written to be read. It is the correctness oracle
 * that faster backends are tested against, and the only backend that runs float64 (gradient checks).
 */
import type { Backend, UnaryKind } from '../backend.js';
import type { DType, FloatArray } from '../../core/tensor.js';
import { gemm } from './gemm.js';
import * as conv from './conv.js';
import * as normalization from './normalization.js';

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

export function createJsBackend(): Backend {
  return {
    name: 'js',
    alloc: (size: number, dtype: DType) => (dtype === 'float64' ? new Float64Array(size) : new Float32Array(size)),
    release: () => {},
    gemm,
    ...conv,
    ...normalization,
    addBias(x, bias, rows, cols) {
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        for (let c = 0; c < cols; c++) x[o + c] += bias[c];
      }
    },
    add(a, b, out, n) {
      for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
    },
    addBiasActivation(x, bias, y, rows, cols, kind, alpha) {
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        for (let c = 0; c < cols; c++) x[o + c] += bias[c];
      }
      unary(kind, x, y, rows * cols, alpha);
    },
    sgdUpdate(w, g, velocity, n, lr, momentum, nesterov) {
      if (!velocity) {
        for (let i = 0; i < n; i++) w[i] -= lr * g[i];
        return;
      }
      for (let i = 0; i < n; i++) {
        velocity[i] = momentum * velocity[i] - lr * g[i];
        w[i] += nesterov ? momentum * velocity[i] - lr * g[i] : velocity[i];
      }
    },
    adamUpdate(w, g, m, v, n, lrT, beta1, beta2, epsilon) {
      for (let i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * (1 - beta1);
        v[i] += (g[i] * g[i] - v[i]) * (1 - beta2);
        w[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + epsilon);
      }
    },
    rmspropUpdate(w, g, s, mom, average, n, lr, rho, momentum, epsilon) {
      for (let i = 0; i < n; i++) {
        s[i] = rho * s[i] + (1 - rho) * g[i] * g[i];
        let d = s[i];
        if (average) {
          average[i] = rho * average[i] + (1 - rho) * g[i];
          d -= average[i] * average[i];
        }
        const step = (lr * g[i]) / Math.sqrt(d + epsilon);
        if (mom) {
          mom[i] = momentum * mom[i] + step;
          w[i] -= mom[i];
        } else {
          w[i] -= step;
        }
      }
    },
    nadamUpdate(w, g, m, v, n, lrM, lrG, vScale, beta1, beta2, epsilon) {
      for (let i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * (1 - beta1);
        v[i] += (g[i] * g[i] - v[i]) * (1 - beta2);
        w[i] -= (lrM * m[i] + lrG * g[i]) / (Math.sqrt(v[i] * vScale) + epsilon);
      }
    },
    fill(a, n, value) {
      a.fill(value, 0, n);
    },
    findNonFinite(a, n) {
      for (let i = 0; i < n; i++) if (!Number.isFinite(a[i])) return i;
      return -1;
    },
    columnSums(x, rows, cols, out, accumulate) {
      if (!accumulate) out.fill(0, 0, cols);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        for (let c = 0; c < cols; c++) out[c] += x[o + c];
      }
    },
    unary,
    unaryGrad,
    softmax(x, y, rows, cols) {
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let max = -Infinity;
        for (let c = 0; c < cols; c++) max = Math.max(max, x[o + c]);
        let sum = 0;
        for (let c = 0; c < cols; c++) {
          const e = Math.exp(x[o + c] - max);
          y[o + c] = e;
          sum += e;
        }
        for (let c = 0; c < cols; c++) y[o + c] /= sum;
      }
    },
    softmaxGrad(y, dy, dx, rows, cols) {
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let dot = 0;
        for (let c = 0; c < cols; c++) dot += dy[o + c] * y[o + c];
        for (let c = 0; c < cols; c++) dx[o + c] = y[o + c] * (dy[o + c] - dot);
      }
    },
    batchNormTrain(x, gamma, beta, epsilon, rows, cols, y, mean, variance, invStd) {
      // Two passes (mean, then squared deviations) rather than E[x²]−E[x]²: the one-pass formula
      // cancels catastrophically in float32 when |mean| ≫ std, e.g. raw 0–255 pixels.
      const sum = new Float64Array(cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sum[c] += x[r * cols + c];
      for (let c = 0; c < cols; c++) mean[c] = sum[c] / rows;
      const sq = new Float64Array(cols);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const d = x[r * cols + c] - mean[c];
          sq[c] += d * d;
        }
      }
      for (let c = 0; c < cols; c++) {
        variance[c] = sq[c] / rows;
        invStd[c] = 1 / Math.sqrt(variance[c] + epsilon);
      }
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c;
          y[i] = gamma[c] * (x[i] - mean[c]) * invStd[c] + beta[c];
        }
      }
    },
    batchNormGrad(x, dy, gamma, mean, invStd, rows, cols, dx, dgamma, dbeta) {
      // The batch mean and variance depend on every row, so each dx gathers two column reductions.
      const sumDy = new Float64Array(cols);
      const sumDyXhat = new Float64Array(cols);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c;
          sumDy[c] += dy[i];
          sumDyXhat[c] += dy[i] * (x[i] - mean[c]) * invStd[c];
        }
      }
      for (let c = 0; c < cols; c++) {
        dbeta[c] += sumDy[c];
        dgamma[c] += sumDyXhat[c];
      }
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c;
          const xhat = (x[i] - mean[c]) * invStd[c];
          dx[i] = ((gamma[c] * invStd[c]) / rows) * (rows * dy[i] - sumDy[c] - xhat * sumDyXhat[c]);
        }
      }
    },
    batchNormInfer(x, mean, variance, gamma, beta, epsilon, rows, cols, y) {
      for (let c = 0; c < cols; c++) {
        const scale = gamma[c] / Math.sqrt(variance[c] + epsilon);
        const shift = beta[c] - mean[c] * scale;
        for (let r = 0; r < rows; r++) y[r * cols + c] = x[r * cols + c] * scale + shift;
      }
    },
  };
}

function unary(kind: UnaryKind, x: FloatArray, y: FloatArray, n: number, alpha: number): void {
  switch (kind) {
    case 'linear':
      if (y !== x) y.set(x.subarray(0, n));
      return;
    case 'relu':
      for (let i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
      return;
    case 'elu':
      for (let i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : Math.expm1(x[i]);
      return;
    case 'selu':
      for (let i = 0; i < n; i++) y[i] = SELU_SCALE * (x[i] > 0 ? x[i] : SELU_ALPHA * Math.expm1(x[i]));
      return;
    case 'leakyRelu':
      for (let i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) y[i] = sigmoid(x[i]);
      return;
    case 'swish':
      for (let i = 0; i < n; i++) y[i] = x[i] * sigmoid(x[i]);
      return;
  }
}

function unaryGrad(kind: UnaryKind, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, n: number, alpha: number): void {
  switch (kind) {
    case 'linear':
      if (dx !== dy) dx.set(dy.subarray(0, n));
      return;
    case 'relu':
      for (let i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
      return;
    case 'elu': // for x ≤ 0, d/dx (eˣ − 1) = eˣ = y + 1
      for (let i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : dy[i] * (y[i] + 1);
      return;
    case 'selu': // for x ≤ 0, y = scale·alpha·(eˣ − 1), so dy/dx = y + scale·alpha
      for (let i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] * SELU_SCALE : dy[i] * (y[i] + SELU_SCALE * SELU_ALPHA);
      return;
    case 'leakyRelu':
      for (let i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : dy[i] * alpha;
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
      return;
    case 'swish': // d/dx x·σ(x) = σ(x) + x·σ(x)(1 − σ(x)) = σ + y(1 − σ)
      for (let i = 0; i < n; i++) {
        const s = sigmoid(x[i]);
        dx[i] = dy[i] * (s + y[i] * (1 - s));
      }
      return;
  }
}

/** Logistic function, written so that exp never overflows. */
function sigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}
