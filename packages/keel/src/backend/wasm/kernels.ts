/**
 * Loads the compiled kernels (kernels.generated.ts, built from assembly/*.as) into a WebAssembly
 * memory. Synchronous, so that `setBackend('wasm')` needs no await: the module is a few KB.
 */
import { sharedKernels, sharedRelaxedKernels, unsharedKernels, unsharedRelaxedKernels } from './kernels.generated.js';
import type { UnaryKind } from '../backend.js';

/** The kernels' exports. Pointers are byte offsets into the memory; sizes count f32 values. */
export interface KernelExports {
  gemm(a: number, b: number, c: number, m: number, n: number, k: number,
    transA: number, transB: number, accumulate: number, scratch: number): void;
  gemmStrided(a: number, b: number, c: number, m: number, n: number, k: number, lda: number, ldb: number, ldc: number,
    transA: number, transB: number, accumulate: number, scratch: number): void;
  gemmScratchFloats(m: number, n: number, k: number): number;
  addBias(x: number, bias: number, rows: number, cols: number): void;
  addVectors(a: number, b: number, out: number, n: number): void;
  addBiasActivation(x: number, bias: number, y: number, rows: number, cols: number, kind: number, alpha: number): void;
  columnSums(x: number, rows: number, cols: number, out: number, accumulate: number): void;
  fillValue(x: number, n: number, value: number): void;
  findNonFinite(x: number, n: number): number;
  sgdUpdate(w: number, g: number, velocity: number, n: number, lr: number, momentum: number, nesterov: number): void;
  adamUpdate(w: number, g: number, m: number, v: number, n: number, lrT: number,
    oneMinusBeta1: number, oneMinusBeta2: number, epsilon: number): void;
  /** mom and average are 0 when absent (no momentum, not centered). */
  rmspropUpdate(w: number, g: number, s: number, mom: number, average: number, n: number, lr: number, rho: number,
    oneMinusRho: number, momentum: number, epsilon: number): void;
  nadamUpdate(w: number, g: number, m: number, v: number, n: number, lrM: number, lrG: number, vScale: number,
    oneMinusBeta1: number, oneMinusBeta2: number, epsilon: number): void;
  unary(kind: number, x: number, y: number, n: number, alpha: number): void;
  unaryGrad(kind: number, x: number, y: number, dy: number, dx: number, n: number, alpha: number): void;
  softmax(x: number, y: number, rows: number, cols: number): void;
  softmaxGrad(y: number, dy: number, dx: number, rows: number, cols: number): void;
  batchNormTrain(x: number, gamma: number, beta: number, epsilon: number, rows: number, cols: number,
    y: number, mean: number, variance: number, invStd: number, scratch: number): void;
  batchNormTrainStrided(x: number, gamma: number, beta: number, rows: number, cols: number, ld: number,
    y: number, mean: number, variance: number, invStd: number, scratch: number, epsilon: number): void;
  batchNormGradStrided(x: number, dy: number, gamma: number, mean: number, invStd: number, rows: number, cols: number,
    ld: number, dx: number, dgamma: number, dbeta: number, scratch: number): void;
  batchNormGrad(x: number, dy: number, gamma: number, mean: number, invStd: number, rows: number, cols: number,
    dx: number, dgamma: number, dbeta: number, scratch: number): void;
  batchNormInfer(x: number, mean: number, variance: number, gamma: number, beta: number, epsilon: number,
    rows: number, cols: number, y: number, scratch: number): void;
  // Row-split BN (narrow matrices): per part of the rows, partial sums or the row-wise passes.
  batchNormRowsSums(x: number, rows: number, cols: number, out: number): void;
  batchNormRowsSquares(x: number, mean: number, rows: number, cols: number, out: number): void;
  batchNormRowsNormalize(x: number, mean: number, k: number, beta: number, rows: number, cols: number, y: number): void;
  batchNormRowsGradSums(x: number, dy: number, mean: number, invStd: number, rows: number, cols: number, sumDy: number, sumDyXhat: number): void;
  batchNormRowsGradApply(x: number, dy: number, mean: number, a: number, b: number, k: number, rows: number, cols: number, dx: number): void;
  // Window kernels (assembly/conv.as): `geom` points at GEOMETRY_FIELDS as i32; [start, end) is a range of the outer index.
  im2col(x: number, cols: number, geom: number, rowStart: number, rowEnd: number): void;
  col2im(cols: number, dx: number, geom: number, nStart: number, nEnd: number): void;
  depthwiseConv2d(x: number, kernel: number, y: number, geom: number, nStart: number, nEnd: number): void;
  depthwiseConv2dBackpropInput(dy: number, kernel: number, dx: number, geom: number, nStart: number, nEnd: number): void;
  depthwiseConv2dBackpropFilter(x: number, dy: number, dKernel: number, geom: number, cStart: number, cEnd: number): void;
  maxPool(x: number, y: number, geom: number, nStart: number, nEnd: number): void;
  maxPoolGrad(x: number, y: number, dy: number, dx: number, geom: number, nStart: number, nEnd: number): void;
  avgPool(x: number, y: number, geom: number, nStart: number, nEnd: number): void;
  avgPoolGrad(dy: number, dx: number, geom: number, nStart: number, nEnd: number): void;
}

/** The order in which the window kernels read a geometry's fields (assembly/conv.as). */
export const GEOMETRY_FIELDS = [
  'batch', 'inHeight', 'inWidth', 'inChannels', 'outHeight', 'outWidth', 'filterHeight', 'filterWidth',
  'strideHeight', 'strideWidth', 'dilationHeight', 'dilationWidth', 'padTop', 'padLeft', 'multiplier',
] as const;

/** Activation codes as the kernels number them (assembly/elementwise.as). */
export const UNARY_CODES: Record<UnaryKind, number> = {
  linear: 0, relu: 1, elu: 2, selu: 3, leakyRelu: 4, tanh: 5, sigmoid: 6, swish: 7,
};

/** The kernels keep their constant tables (Mathf.exp) below this address; the heap starts here. */
export const HEAP_BASE = 65536;
const PAGE = 65536;
/** Upper bound of a shared memory (4 GiB, wasm32's limit); address space is reserved, not used. */
export const MAX_PAGES = 65536;

function decode(base64: string): Uint8Array {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

export interface LoadedKernels {
  memory: WebAssembly.Memory;
  /** The compiled module, for worker threads to instantiate over the same (shared) memory. */
  module: WebAssembly.Module;
  exports: KernelExports;
  /** Whether the memory is shared: views then survive growth, else the memory never grows. */
  shared: boolean;
  /** Whether the GEMM kernels use fused multiply-adds (relaxed SIMD). */
  relaxed: boolean;
}

let relaxedSupport: boolean | undefined;

/** Whether the engine runs relaxed SIMD (Chrome 114+, Node 22+, or `--experimental-wasm-relaxed-simd`). */
export function relaxedSimdSupported(): boolean {
  try {
    relaxedSupport ??= WebAssembly.validate(decode(unsharedRelaxedKernels) as BufferSource);
  } catch {
    relaxedSupport = false;
  }
  return relaxedSupport;
}

/**
 * Instantiates the kernels over a shared memory when the platform allows one (Node; browsers on
 * cross-origin-isolated pages, and Chromium on any page, though only isolated pages can hand it to
 * a worker), else over a fixed-size plain memory of `unsharedPages` pages, which
 * never grows because growing a plain memory detaches every view (every tensor) over it.
 * Throws when WebAssembly or its SIMD extension is missing.
 */
export function loadKernels(unsharedPages = 4096, useRelaxed = relaxedSimdSupported()): LoadedKernels {
  let memory: WebAssembly.Memory;
  let shared = true;
  try {
    memory = new WebAssembly.Memory({ initial: HEAP_BASE / PAGE + 16, maximum: MAX_PAGES, shared: true });
  } catch {
    shared = false;
    memory = new WebAssembly.Memory({ initial: unsharedPages });
  }
  const relaxed = useRelaxed && relaxedSimdSupported();
  const source = shared ? (relaxed ? sharedRelaxedKernels : sharedKernels) : relaxed ? unsharedRelaxedKernels : unsharedKernels;
  const module = new WebAssembly.Module(decode(source) as BufferSource);
  const instance = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error('wasm kernel aborted'); } } });
  return { memory, module, exports: instance.exports as unknown as KernelExports, shared, relaxed };
}

/** Whether this platform can run the kernels (WebAssembly with SIMD). */
export function wasmSupported(): boolean {
  try {
    // Validation fails on engines without SIMD, since the module uses v128 instructions.
    return typeof WebAssembly === 'object' && WebAssembly.validate(decode(unsharedKernels) as BufferSource);
  } catch {
    return false;
  }
}
