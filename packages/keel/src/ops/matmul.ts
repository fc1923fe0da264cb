/**
 * Matrix products and the bias add of a Dense layer, each with its gradient beside it.
 * All work on 2-D views: a tensor of shape [..., k] is read as a (size/k)×k matrix.
 */
import type { Tensor } from '../core/tensor.js';
import { ShapeError, formatShape } from '../core/errors.js';
import { backendFor, type UnaryKind } from '../backend/backend.js';
import { LEAKY_RELU_SLOPE } from './activations.js';
import { empty } from './tensor.js';

export interface MatMulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  /** Write here instead of allocating (must be m×n). */
  out?: Tensor;
  /** Add the product to `out` instead of overwriting it. */
  accumulate?: boolean;
}

/** C = op(A)·op(B) for 2-D A and B. */
export function matMul(a: Tensor, b: Tensor, options: MatMulOptions = {}): Tensor {
  const { transposeA = false, transposeB = false, out, accumulate = false } = options;
  if (a.rank !== 2 || b.rank !== 2) {
    throw new ShapeError(`matMul: expected two 2-D tensors, received ${formatShape(a.shape)} and ${formatShape(b.shape)}.`);
  }
  const [m, ka] = transposeA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = transposeB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (ka !== kb) {
    throw new ShapeError(
      `matMul: inner dimensions differ: op(A) is ${m}×${ka} and op(B) is ${kb}×${n} ` +
        `(A ${formatShape(a.shape)}, B ${formatShape(b.shape)}, transposeA=${transposeA}, transposeB=${transposeB}).`,
    );
  }
  const c = out ?? empty([m, n], a.dtype);
  backendFor(a.dtype).gemm(a.values, b.values, c.values, m, n, ka, transposeA, transposeB, accumulate);
  return c;
}

/**
 * y = x·W + b with x read as rows×inputs: the Dense layer's affine map. `y` must be rows×units.
 * With `activation`, also out = activation(y), fused with the bias add into one pass after the GEMM
 * (`y` keeps the pre-activation, which the backward needs; `out` may be `y`). Softmax is not fused.
 */
export function denseForward(
  x: Tensor, kernel: Tensor, bias: Tensor | null, y: Tensor,
  activation?: { kind: UnaryKind; out: Tensor },
): void {
  const [inputs, units] = kernel.shape;
  const rows = x.size / inputs;
  backendFor(x.dtype).gemm(x.values, kernel.values, y.values, rows, units, inputs, false, false, false);
  addBiasActivation(y, bias, rows, units, activation);
}

/**
 * y += b per column of the rows×cols matrix y, then activation.out = activation(y) in the same pass
 * (y keeps the pre-activation). What Dense and Conv2D do after their GEMM.
 */
export function addBiasActivation(
  y: Tensor, bias: Tensor | null, rows: number, cols: number, activation?: { kind: UnaryKind; out: Tensor },
): void {
  const be = backendFor(y.dtype);
  if (bias && activation) {
    be.addBiasActivation(y.values, bias.values, activation.out.values, rows, cols, activation.kind, LEAKY_RELU_SLOPE);
  } else if (bias) {
    be.addBias(y.values, bias.values, rows, cols);
  } else if (activation) {
    be.unary(activation.kind, y.values, activation.out.values, y.size, LEAKY_RELU_SLOPE);
  }
}

/**
 * Gradients of y = x·W + b given dL/dy: dW += xᵀ·dy, db += Σ_rows dy, and dx = dy·Wᵀ
 * (each skipped when null: the first layer needs no dx, a frozen one no dW).
 */
export function denseBackward(
  x: Tensor, kernel: Tensor, dy: Tensor,
  dKernel: Tensor | null, dBias: Tensor | null, dx: Tensor | null,
): void {
  const [inputs, units] = kernel.shape;
  const rows = x.size / inputs;
  const be = backendFor(x.dtype);
  if (dKernel) be.gemm(x.values, dy.values, dKernel.values, inputs, units, rows, true, false, true);
  if (dBias) be.columnSums(dy.values, rows, units, dBias.values, true);
  if (dx) be.gemm(dy.values, kernel.values, dx.values, rows, inputs, units, false, true, false);
}
