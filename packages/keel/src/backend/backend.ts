import type { DType, FloatArray } from '../core/tensor.js';
import { ValueError } from '../core/errors.js';
import type { Conv2DGeometry } from './convGeometry.js';
import { describeValue } from '../core/format.js';

/** Element-wise activation kernels every backend implements. */
export type UnaryKind = 'linear' | 'relu' | 'elu' | 'selu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'swish';

/**
 * The kernels a backend provides. Kernels work on flat row-major arrays with explicit sizes, write
 * into the output arrays they are given and allocate nothing, so that layers can reuse buffers and a
 * backend can keep every array in its own memory.
 *
 * Arrays passed to a backend's kernels are ones it allocated with `alloc` (or plain typed arrays for
 * the reference backend). float64 arrays are only ever sent to the reference backend.
 *
 * Batch-norm kernels take γ before β, as y = γ·x̂ + β is written, and the statistics (mean, variance)
 * before both; their one caller, ops/batchNorm.ts, takes all of these by name.
 */
export interface Backend {
  readonly name: string;

  /** Zeroed storage for `size` values. A backend may return a view over its own memory. */
  alloc(size: number, dtype: DType): FloatArray;
  /** Gives storage from `alloc` back; the caller must not touch it afterwards. */
  release(data: FloatArray): void;

  /**
   * General matrix product: C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`.
   * op(A) is m×k (A is k×m when `transA`), op(B) is k×n (B is n×k when `transB`), C is m×n.
   */
  gemm(
    a: FloatArray, b: FloatArray, c: FloatArray,
    m: number, n: number, k: number,
    transA: boolean, transB: boolean, accumulate: boolean,
  ): void;

  /** x[r, c] += bias[c] for a rows×cols matrix, in place. */
  addBias(x: FloatArray, bias: FloatArray, rows: number, cols: number): void;

  /**
   * out = a + b over n values (the merge layers' sum, and gradients summed where a tensor fans
   * out). `out` may alias `a` or `b`.
   */
  add(a: FloatArray, b: FloatArray, out: FloatArray, n: number): void;

  /**
   * y[r, c] = f(x[r, c] + bias[c]) for a rows×cols matrix, in one pass: x is updated in place to
   * x + bias (the pre-activation, which a backward needs) and y gets the activation of it. `y` may
   * alias `x` (the pre-activation is then not kept). `alpha` is the slope of leakyRelu.
   */
  addBiasActivation(
    x: FloatArray, bias: FloatArray, y: FloatArray, rows: number, cols: number, kind: UnaryKind, alpha: number,
  ): void;

  /**
   * a[0..n) = value. A kernel rather than `a.fill` so that a threaded backend writes each part of
   * a large array on the thread that works on that part next (gradients zeroed before a step).
   */
  fill(a: FloatArray, n: number, value: number): void;

  /** The index of the first NaN or ±Infinity among a[0..n), or −1 when all are finite (input checks). */
  findNonFinite(a: FloatArray, n: number): number;

  /** out[c] = Σ_r x[r, c] (or out[c] += ... when `accumulate`). */
  columnSums(x: FloatArray, rows: number, cols: number, out: FloatArray, accumulate: boolean): void;

  /** y = f(x) element-wise over n values. `alpha` is the slope of leakyRelu. `y` may alias `x`. */
  unary(kind: UnaryKind, x: FloatArray, y: FloatArray, n: number, alpha: number): void;

  /**
   * dx = dy · f'(x) element-wise, given the forward's input `x` and output `y` (each kernel uses
   * whichever is cheaper). `dx` may alias `dy`.
   */
  unaryGrad(kind: UnaryKind, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, n: number, alpha: number): void;

  /** Row-wise softmax of a rows×cols matrix, shifted by the row maximum for stability. */
  softmax(x: FloatArray, y: FloatArray, rows: number, cols: number): void;

  /** dx = y ⊙ (dy − Σ_c dy·y) row-wise: the softmax Jacobian applied to dy. */
  softmaxGrad(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void;

  /**
   * Batch normalization in training mode over the rows of a rows×cols matrix, per column:
   * mean = Σx/rows, variance = Σ(x−mean)²/rows (biased), invStd = 1/sqrt(variance + epsilon),
   * y = gamma·(x − mean)·invStd + beta. Writes y, mean, variance and invStd.
   */
  batchNormTrain(
    x: FloatArray, gamma: FloatArray, beta: FloatArray, epsilon: number, rows: number, cols: number,
    y: FloatArray, mean: FloatArray, variance: FloatArray, invStd: FloatArray,
  ): void;

  /**
   * The exact backward of `batchNormTrain`, per column, with x̂ = (x − mean)·invStd:
   * dbeta = Σ dy, dgamma = Σ dy·x̂, dx = gamma·invStd/rows · (rows·dy − dbeta − x̂·dgamma).
   * dgamma and dbeta are accumulated into (+=).
   */
  batchNormGrad(
    x: FloatArray, dy: FloatArray, gamma: FloatArray, mean: FloatArray, invStd: FloatArray,
    rows: number, cols: number, dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray,
  ): void;

  /**
   * One SGD step over n values (Keras 3): without `velocity`, w ← w − lr·g; with it,
   * v ← momentum·v − lr·g, then w ← w + v (nesterov: w ← w + momentum·v − lr·g).
   */
  sgdUpdate(
    w: FloatArray, g: FloatArray, velocity: FloatArray | null, n: number, lr: number, momentum: number, nesterov: boolean,
  ): void;

  /**
   * One Adam step over n values (Keras 3), with the bias corrections folded into
   * lrT = lr·sqrt(1 − β2ᵗ)/(1 − β1ᵗ): m ← m + (g − m)·(1 − β1); v ← v + (g² − v)·(1 − β2);
   * w ← w − lrT·m/(sqrt(v) + epsilon).
   */
  adamUpdate(
    w: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, n: number,
    lrT: number, beta1: number, beta2: number, epsilon: number,
  ): void;

  /**
   * One RMSprop step over n values (Keras 3): s ← ρ·s + (1 − ρ)·g²; when `average` is given
   * (centered), ḡ ← ρ·ḡ + (1 − ρ)·g and d = s − ḡ², else d = s; Δ = lr·g/sqrt(d + epsilon).
   * Without `mom`, w ← w − Δ; with it, mom ← momentum·mom + Δ, then w ← w − mom.
   */
  rmspropUpdate(
    w: FloatArray, g: FloatArray, s: FloatArray, mom: FloatArray | null, average: FloatArray | null, n: number,
    lr: number, rho: number, momentum: number, epsilon: number,
  ): void;

  /**
   * One Nadam step over n values (Keras 3), with the momentum schedule and bias corrections folded
   * into three scalars the caller computes in float64 (μₜ = β1·(1 − 0.5·0.96^t), as Keras 3, Πₜ = μ1···μₜ):
   * lrM = lr·μₜ₊₁/(1 − Πₜ₊₁), lrG = lr·(1 − μₜ)/(1 − Πₜ), vScale = 1/(1 − β2ᵗ).
   * m ← m + (g − m)·(1 − β1); v ← v + (g² − v)·(1 − β2);
   * w ← w − (lrM·m + lrG·g)/(sqrt(v·vScale) + epsilon).
   */
  nadamUpdate(
    w: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, n: number,
    lrM: number, lrG: number, vScale: number, beta1: number, beta2: number, epsilon: number,
  ): void;

  /** Inference-mode normalization: y = gamma·(x − mean)/sqrt(variance + epsilon) + beta, per column. */
  batchNormInfer(
    x: FloatArray, mean: FloatArray, variance: FloatArray, gamma: FloatArray, beta: FloatArray,
    epsilon: number, rows: number, cols: number, y: FloatArray,
  ): void;

  // ---- per-sample normalization: group normalization, and layer normalization as its G = 1 case ----

  /**
   * Group normalization of `batch` samples, each a positions×channels matrix (row-major: the
   * channels of one position are adjacent), its channels split into `groups` groups of
   * channels/groups consecutive channels. Per sample n and group g, over its m = positions·channels/groups values:
   * mean = Σx/m, variance = Σ(x − mean)²/m (biased), invStd = 1/sqrt(variance + epsilon), and
   * y = gamma[c]·(x − mean)·invStd + beta[c]. Writes y, and mean and invStd (batch·groups values,
   * sample-major). Layer normalization over the last D values of each row is positions = 1,
   * channels = D, groups = 1.
   */
  groupNorm(
    x: FloatArray, gamma: FloatArray, beta: FloatArray, epsilon: number,
    batch: number, positions: number, channels: number, groups: number,
    y: FloatArray, mean: FloatArray, invStd: FloatArray,
  ): void;

  /**
   * The exact backward of `groupNorm`, with x̂ = (x − mean)·invStd and, per sample and group,
   * ĝ = dy·gamma[c]: dx = invStd/m · (m·ĝ − Σĝ − x̂·Σĝ·x̂) (the statistics depend on every value of
   * the group); dgamma[c] += Σ dy·x̂ and dbeta[c] += Σ dy over samples and positions (accumulated).
   */
  groupNormGrad(
    x: FloatArray, dy: FloatArray, gamma: FloatArray, mean: FloatArray, invStd: FloatArray,
    batch: number, positions: number, channels: number, groups: number,
    dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray,
  ): void;

  // ---- convolutions and pooling over NHWC images (geometry in convGeometry.ts) ----------------

  /** cols[row, (fh·fw + fw)·C + c] = x[n, ih, iw, c], zeros outside the image; one row per output position. */
  im2col(x: FloatArray, cols: FloatArray, g: Conv2DGeometry): void;
  /** The adjoint of im2col: dx = 0, then every value of `cols` is added to the input position it came from. */
  col2im(cols: FloatArray, dx: FloatArray, g: Conv2DGeometry): void;
  /** y[n, oh, ow, c·M + m] = Σ_window x[n, ih, iw, c]·kernel[fh, fw, c, m] (kernel [fh, fw, C, M]). */
  depthwiseConv2d(x: FloatArray, kernel: FloatArray, y: FloatArray, g: Conv2DGeometry, multiplier: number): void;
  /** dx (overwritten) of depthwiseConv2d given dy. */
  depthwiseConv2dBackpropInput(dy: FloatArray, kernel: FloatArray, dx: FloatArray, g: Conv2DGeometry, multiplier: number): void;
  /** dKernel += the kernel gradient of depthwiseConv2d given x and dy. */
  depthwiseConv2dBackpropFilter(x: FloatArray, dy: FloatArray, dKernel: FloatArray, g: Conv2DGeometry, multiplier: number): void;
  /** y = the maximum of each window's positions inside the image. */
  maxPool(x: FloatArray, y: FloatArray, g: Conv2DGeometry): void;
  /** dx (overwritten): each dy goes to the first window position (row-major) where x equals y. */
  maxPoolGrad(x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, g: Conv2DGeometry): void;
  /** y = the mean of each window's positions inside the image. */
  avgPool(x: FloatArray, y: FloatArray, g: Conv2DGeometry): void;
  /** dx (overwritten): each dy shared equally by its window's positions inside the image. */
  avgPoolGrad(dy: FloatArray, dx: FloatArray, g: Conv2DGeometry): void;
}

const registry = new Map<string, () => Backend>();
const instances = new Map<string, Backend>();
let active: Backend | undefined;
let reference: Backend | undefined;

/** Makes a backend available under `name`. The factory runs on first use. */
export function registerBackend(name: string, factory: () => Backend): void {
  registry.set(name, factory);
}

/** The readable reference backend: the correctness oracle, and the one float64 runs on. */
const referenceName = 'js';

function instance(name: string): Backend {
  let b = instances.get(name);
  if (!b) {
    const factory = registry.get(name);
    if (!factory) {
      throw new ValueError(
        `setBackend: unknown backend ${typeof name === 'string' ? `'${name.slice(0, 60)}'` : describeValue(name)}. Registered backends: ${[...registry.keys()].join(', ')}.`,
      );
    }
    b = factory();
    instances.set(name, b);
  }
  return b;
}

/** Chooses the backend that runs every float32 kernel from now on (`'js'` is the reference). */
export function setBackend(name: string): void {
  active = instance(name);
}

/** The active backend's name. */
export function getBackend(): string {
  return backend().name;
}

/** What `ready()` tells about the active backend. */
export interface BackendInfo {
  name: string;
  /** Worker threads that run parts of large kernels, beside the calling thread (0 once they have gone down). */
  workers: number;
  /**
   * Why the worker threads are no longer used, when they went down (one died, was stuck, its
   * kernel threw, or they did not start): kernels run on the calling thread, with the same results.
   * Absent while they work, and when there never were any.
   */
  threadsFailure?: string;
  /** Whether the GEMM kernels use fused multiply-adds (wasm with relaxed SIMD). */
  fusedMultiplyAdd: boolean;
}

/**
 * Resolves once the active backend is fully up, as TF.js's `tf.ready()`: for wasm, once its worker
 * threads listen (Node; browser pages that are cross-origin isolated). Nothing has to wait for it:
 * until then the same parts of each large kernel run one after the other on the calling thread,
 * with the same results, only slower. On Node a worker takes its parts as soon as it has started,
 * a fraction of a second after import, even inside a synchronous loop that never yields to the
 * event loop (it says so in shared memory, not by a message).
 *
 * Gotcha: in a browser a Web Worker starts only while the page's event loop turns, so a synchronous
 * loop begun right after import runs on one thread to its end: `await keel.ready()` before it.
 * (Either way the first thousand or so `predict` calls of a small model take about twice as long
 * as later ones while V8 warms up; compiling the kernels eagerly, V8's `--no-liftoff`, does not
 * shorten that, measured on Node 20.)
 *
 * Once the worker threads have gone down (see BackendInfo.threadsFailure), it reports `workers: 0`
 * and why, whenever it is called.
 *
 * @example
 * const { workers } = await keel.ready(); // { name: 'wasm', workers: 1, fusedMultiplyAdd: true } by default on Node
 */
export async function ready(): Promise<BackendInfo> {
  const b = backend() as Backend & { threadsReady?: Promise<number>; relaxedSimd?: boolean; threadsFailure?: string };
  const started = (await b.threadsReady) ?? 0;
  const failure = b.threadsFailure;
  const info: BackendInfo = { name: b.name, workers: failure === undefined ? started : 0, fusedMultiplyAdd: b.relaxedSimd ?? false };
  if (failure !== undefined) info.threadsFailure = failure;
  return info;
}

/** The names of the registered backends. */
export function listBackends(): string[] {
  return [...registry.keys()];
}

/** The active backend. @internal */
export function backend(): Backend {
  if (!active) active = instance(referenceName);
  return active;
}

/** The backend for arrays of a dtype: float64 always runs on the reference backend. @internal */
export function backendFor(dtype: DType): Backend {
  if (dtype === 'float64') {
    if (!reference) reference = instance(referenceName);
    return reference;
  }
  return backend();
}
