/**
 * Every wasm kernel against the reference (js) kernel on random inputs of awkward sizes: edges of
 * the 4×16 GEMM tile and of 4-wide SIMD groups, every transpose, accumulate, aliasing the interface
 * allows, and arrays that live outside WebAssembly memory (staged in and out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
// As Keel's Node entry does, before any kernel is compiled: relaxed SIMD on (Node 20 has it behind a flag).
import '../../packages/keel/src/backend/wasm/node/relaxed-simd.js';
import type { Backend, UnaryKind } from '../../packages/keel/src/backend/backend.js';
import { createJsBackend } from '../../packages/keel/src/backend/js/index.js';
import { createWasmBackend, wasmSupported } from '../../packages/keel/src/backend/wasm/index.js';

const skip = !wasmSupported() && 'WebAssembly SIMD is not available here';
const js = createJsBackend();
// minWasmSize 1: even tiny arrays live in wasm memory, so the in-place paths get exercised.
const wasm = skip ? (null as unknown as ReturnType<typeof createWasmBackend>) : createWasmBackend({ minWasmSize: 1 });

let seed = 12345;
function rand(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
}

/** n values uniform in [lo, hi), in wasm memory (`where` 'wasm') or in a plain array. */
function random(n: number, where: 'wasm' | 'plain' = 'wasm', lo = -1, hi = 1): Float32Array {
  const a = where === 'wasm' ? (wasm.alloc(n, 'float32') as Float32Array) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
  return a;
}

function copyOf(a: Float32Array, where: 'wasm' | 'plain' = 'wasm'): Float32Array {
  const out = where === 'wasm' ? (wasm.alloc(a.length, 'float32') as Float32Array) : new Float32Array(a.length);
  out.set(a);
  return out;
}

/** Asserts |a − b| ≤ tol·max(1, |b|) everywhere, with the first offending index in the message. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * Math.max(1, Math.abs(expected[i])))) {
      assert.fail(`${what}: index ${i}: wasm ${actual[i]} vs js ${expected[i]} (tolerance ${tol})`);
    }
  }
}

const gemmSizes: [number, number, number][] = [
  [1, 1, 1], [1, 3, 17], [3, 1, 5], [4, 16, 8], [5, 17, 3], [17, 33, 65], [33, 65, 17],
  [32, 300, 784], [7, 10, 300], [64, 19, 513], [2, 100, 260],
  [1559, 21, 300], // more rows than two MC=384 blocks per part, a ragged last panel, two k-blocks
];

/**
 * A wasm backend on two threads, once its worker listens, and a copier into its memory. Without
 * work stealing, so that the worker really runs its half of every split kernel (tests count them
 * through workerBlocks): else the calling thread takes over the halves of a sleeping worker.
 */
async function twoThreads() {
  const threaded = createWasmBackend({ threads: 2, workStealing: false });
  assert.equal(await threaded.threadsReady, 1, 'one worker thread beside the calling one');
  const inHeap = (values: Float32Array) => {
    const a = threaded.alloc(values.length, 'float32') as Float32Array;
    a.set(values);
    return a;
  };
  return { threaded, inHeap };
}

test('gemm matches the reference in every layout, with and without accumulate', { skip }, () => {
  for (const [m, n, k] of gemmSizes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          for (const where of ['wasm', 'plain'] as const) {
            const a = random(m * k, where);
            const b = random(k * n, where);
            const c0 = random(m * n);
            const expected = Float32Array.from(c0);
            js.gemm(a, b, expected, m, n, k, transA, transB, accumulate);
            const c = copyOf(c0, where);
            wasm.gemm(a, b, c, m, n, k, transA, transB, accumulate);
            // float32 sums of k products: rounding grows like sqrt(k)·eps·|terms|.
            close(c, expected, 2e-6 * Math.sqrt(k) * 4,
              `gemm ${m}×${n}×${k} transA=${transA} transB=${transB} accumulate=${accumulate} (${where})`);
          }
        }
      }
    }
  }
});

test('gemm leaves memory around C untouched at tile edges', { skip }, () => {
  const [m, n, k] = [5, 17, 9];
  const big = random(m * n + 32);
  const c = big.subarray(16, 16 + m * n);
  const before = Float32Array.from(big);
  wasm.gemm(random(m * k), random(k * n), c, m, n, k, false, false, false);
  close(big.subarray(0, 16), before.subarray(0, 16), 0, 'guard before C');
  close(big.subarray(16 + m * n), before.subarray(16 + m * n), 0, 'guard after C');
});

test('addBias and columnSums match the reference', { skip }, () => {
  for (const [rows, cols] of [[1, 1], [3, 5], [17, 33], [33, 65], [256, 300]]) {
    for (const where of ['wasm', 'plain'] as const) {
      const x = random(rows * cols, where);
      const bias = random(cols, where);
      const expected = Float32Array.from(x);
      js.addBias(expected, bias, rows, cols);
      const y = copyOf(x, where);
      wasm.addBias(y, bias, rows, cols);
      close(y, expected, 1e-7, `addBias ${rows}×${cols} (${where})`);
      for (const accumulate of [false, true]) {
        const out0 = random(cols);
        const sumsJs = Float32Array.from(out0);
        js.columnSums(x, rows, cols, sumsJs, accumulate);
        const sums = copyOf(out0, where);
        wasm.columnSums(x, rows, cols, sums, accumulate);
        close(sums, sumsJs, 1e-5, `columnSums ${rows}×${cols} accumulate=${accumulate} (${where})`);
      }
    }
  }
});

const kinds: UnaryKind[] = ['linear', 'relu', 'elu', 'selu', 'leakyRelu', 'tanh', 'sigmoid', 'swish'];

test('unary and unaryGrad match the reference, also in place', { skip }, () => {
  for (const n of [1, 3, 17, 33 * 65]) {
    for (const kind of kinds) {
      for (const where of ['wasm', 'plain'] as const) {
        const x = random(n, where, -6, 6);
        const alpha = 0.3;
        const yJs = new Float32Array(n);
        js.unary(kind, x, yJs, n, alpha);
        const y = random(n, where);
        wasm.unary(kind, x, y, n, alpha);
        close(y, yJs, 1e-6, `unary ${kind} n=${n} (${where})`);
        const inPlace = copyOf(x, where);
        wasm.unary(kind, inPlace, inPlace, n, alpha); // y === x is allowed
        close(inPlace, yJs, 1e-6, `unary ${kind} in place n=${n} (${where})`);

        const dy = random(n, where);
        const dxJs = new Float32Array(n);
        js.unaryGrad(kind, x, yJs, dy, dxJs, n, alpha);
        const dx = random(n, where);
        wasm.unaryGrad(kind, x, y, dy, dx, n, alpha);
        close(dx, dxJs, 1e-6, `unaryGrad ${kind} n=${n} (${where})`);
        const dyInPlace = copyOf(dy, where);
        wasm.unaryGrad(kind, x, y, dyInPlace, dyInPlace, n, alpha); // dx === dy is allowed
        close(dyInPlace, dxJs, 1e-6, `unaryGrad ${kind} in place n=${n} (${where})`);
      }
    }
  }
});

test('softmax and softmaxGrad match the reference', { skip }, () => {
  for (const [rows, cols] of [[1, 1], [3, 10], [17, 33], [32, 10]]) {
    const x = random(rows * cols, 'wasm', -20, 20);
    const yJs = new Float32Array(rows * cols);
    js.softmax(x, yJs, rows, cols);
    const y = random(rows * cols);
    wasm.softmax(x, y, rows, cols);
    close(y, yJs, 1e-6, `softmax ${rows}×${cols}`);
    const dy = random(rows * cols);
    const dxJs = new Float32Array(rows * cols);
    js.softmaxGrad(yJs, dy, dxJs, rows, cols);
    const dx = random(rows * cols, 'plain');
    wasm.softmaxGrad(y, dy, dx, rows, cols);
    close(dx, dxJs, 1e-6, `softmaxGrad ${rows}×${cols}`);
  }
});

function bnCase(be: Backend, x: Float32Array, gamma: Float32Array, beta: Float32Array, dy: Float32Array,
  rows: number, cols: number, where: 'wasm' | 'plain') {
  const make = (n: number) => (be === js ? new Float32Array(n) : random(n, where));
  const y = make(rows * cols), mean = make(cols), variance = make(cols), invStd = make(cols);
  be.batchNormTrain(x, gamma, beta, 1e-3, rows, cols, y, mean, variance, invStd);
  const dx = make(rows * cols);
  const dgamma = new Float32Array(cols).fill(0.5), dbeta = new Float32Array(cols).fill(-0.25);
  const dg = be === js ? dgamma : copyOf(dgamma, where), db = be === js ? dbeta : copyOf(dbeta, where);
  be.batchNormGrad(x, dy, gamma, mean, invStd, rows, cols, dx, dg, db);
  const yInfer = make(rows * cols);
  be.batchNormInfer(x, mean, variance, gamma, beta, 1e-3, rows, cols, yInfer);
  return { y, mean, variance, invStd, dx, dgamma: dg, dbeta: db, yInfer };
}

test('batchNormTrain, batchNormGrad and batchNormInfer match the reference', { skip }, () => {
  for (const [rows, cols] of [[2, 1], [3, 5], [17, 33], [33, 65], [256, 300], [32, 1024]]) {
    for (const where of ['wasm', 'plain'] as const) {
      // An offset mean (|mean| ≫ std would expose a one-pass variance).
      const x = random(rows * cols, where, 95, 105);
      const gamma = random(cols, where, 0.5, 1.5), beta = random(cols, where);
      const dy = random(rows * cols, where);
      const expected = bnCase(js, x, gamma, beta, dy, rows, cols, where);
      const actual = bnCase(wasm, x, gamma, beta, dy, rows, cols, where);
      for (const key of Object.keys(expected) as (keyof typeof expected)[]) {
        // dγ and dβ are float32 sums over the rows (the reference sums in float64), whose rounding
        // grows with the row count; the element-wise outputs are held to a fixed bound.
        const tol = key === 'dgamma' || key === 'dbeta' ? Math.max(2e-4, 2e-6 * rows) : 2e-4;
        close(actual[key], expected[key], tol, `batchNorm ${key} ${rows}×${cols} (${where})`);
      }
    }
  }
});

test('float64 arrays run on the reference kernels', { skip }, () => {
  const a = Float64Array.from([1, 2, 3, 4]), b = Float64Array.from([5, 6, 7, 8]), c = new Float64Array(4);
  wasm.gemm(a, b, c, 2, 2, 2, false, false, false);
  assert.deepEqual([...c], [19, 22, 43, 50]);
  assert.ok(wasm.alloc(3, 'float64') instanceof Float64Array);
});

test('threaded GEMMs split so that each thread keeps its own half of the weight matrix', async () => {
  const { chooseGemmSplit } = await import('../../packages/keel/src/backend/wasm/threads.js');
  // The seed model's first Dense layer (W: 784×300) at batch 32 and 256: the forward splits the
  // summed dimension (W's rows), dW = xᵀ·dy splits its rows, dx = dy·Wᵀ its columns (W's rows).
  for (const batch of [32, 256]) {
    assert.equal(chooseGemmSplit(batch, 300, 784, false, false, 2), 'k', `forward, batch ${batch}`);
    assert.equal(chooseGemmSplit(784, 300, batch, true, false, 2), 'rows', `dW, batch ${batch}`);
    assert.equal(chooseGemmSplit(batch, 784, 300, false, true, 2), 'cols', `dx, batch ${batch}`);
  }
  // Too narrow to split where the rule points: the fallback.
  assert.equal(chooseGemmSplit(1000, 300, 40, false, false, 2), 'rows');
  assert.equal(chooseGemmSplit(8, 300, 20000, false, false, 2), 'k');
  assert.equal(chooseGemmSplit(8, 300, 40, false, false, 2), 'cols');
});

test('gemm split across two threads matches the reference', { skip }, async () => {
  const { threaded } = await twoThreads();
  const { chooseGemmSplit } = await import('../../packages/keel/src/backend/wasm/threads.js');
  const splits = new Set<string>();
  for (const [m, n, k] of [[32, 300, 784], [784, 300, 32], [256, 17, 300], [100, 784, 65], [5, 2000, 300], [7, 40, 1001]] as const) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          const a = threaded.alloc(m * k, 'float32') as Float32Array, b = random(k * n, 'plain');
          a.set(random(m * k, 'plain'));
          const c = threaded.alloc(m * n, 'float32') as Float32Array;
          c.set(random(m * n, 'plain'));
          const expected = Float32Array.from(c);
          js.gemm(a, b, expected, m, n, k, transA, transB, accumulate);
          threaded.gemm(a, b, c, m, n, k, transA, transB, accumulate);
          close(c, expected, 8e-6 * Math.sqrt(k), `threaded gemm ${m}×${n}×${k} transA=${transA} transB=${transB} accumulate=${accumulate}`);
          splits.add(chooseGemmSplit(m, n, k, transA, transB, 2));
        }
      }
    }
  }
  assert.deepEqual([...splits].sort(), ['cols', 'k', 'rows'], 'every way of splitting was exercised');
  // Every shape above is large enough to split: 8 layouts × 6 shapes, one worker block each.
  assert.equal(threaded.workerBlocks, 48, 'blocks the worker ran');
});

test('gemm with and without fused multiply-adds (relaxed SIMD) matches the reference', { skip }, () => {
  const variants = [createWasmBackend({ relaxedSimd: false, threads: 1 })];
  const withFma = createWasmBackend({ relaxedSimd: true, threads: 1 });
  // Fused multiply-adds need relaxed SIMD: Node 22+, or Node 20 once relaxed-simd.ts set its flag.
  assert.equal(withFma.relaxedSimd, true, 'relaxed SIMD should be available on Node (src/backend/wasm/node/relaxed-simd.ts)');
  variants.push(withFma);
  assert.equal(variants[0].relaxedSimd, false);
  for (const be of variants) {
    for (const [m, n, k] of [[1, 300, 784], [7, 17, 65], [33, 65, 17], [32, 784, 300]] as const) {
      for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const a = random(m * k, 'plain'), b = random(k * n, 'plain'), c = random(m * n, 'plain');
        const expected = Float32Array.from(c);
        js.gemm(a, b, expected, m, n, k, transA, transB, true);
        be.gemm(a, b, c, m, n, k, transA, transB, true);
        close(c, expected, 8e-6 * Math.sqrt(k), `gemm (fma=${be.relaxedSimd}) ${m}×${n}×${k} transA=${transA} transB=${transB}`);
      }
    }
  }
});

test('the calling thread runs the blocks of workers that have not started', { skip }, async () => {
  const { loadKernels } = await import('../../packages/keel/src/backend/wasm/kernels.js');
  const { WasmHeap } = await import('../../packages/keel/src/backend/wasm/heap.js');
  const { createKernelPool } = await import('../../packages/keel/src/backend/wasm/node/pool.js');
  const { splitGemm } = await import('../../packages/keel/src/backend/wasm/threads.js');
  const kernels = loadKernels();
  const heap = new WasmHeap(kernels);
  // Used at once, before its worker is even running: the caller must take the worker's block.
  const pool = createKernelPool(kernels.module, kernels.memory, 2)!;
  assert.equal(pool.ready, false);
  const [m, n, k] = [32, 300, 100];
  const a = heap.alloc(m * k), b = heap.alloc(k * n), c = heap.alloc(m * n);
  a.set(random(m * k, 'plain'));
  b.set(random(k * n, 'plain'));
  const scratch = heap.malloc(2 * 4 * kernels.exports.gemmScratchFloats(m, n, k));
  const blocks = splitGemm(a.byteOffset, b.byteOffset, c.byteOffset, m, n, k, false, false, false, 2,
    (part) => scratch + part * 4 * kernels.exports.gemmScratchFloats(m, n, k), 'cols');
  pool.run('gemmStrided', blocks, kernels.exports.gemmStrided as (...args: number[]) => void);
  const expected = new Float32Array(m * n);
  js.gemm(a, b, expected, m, n, k, false, false, false);
  close(c, expected, 1e-4, 'gemm with a late worker');
  // Without stealing too: until its worker listens the pool runs every block here, rather than
  // wait for a worker that would miss the job.
  c.fill(0);
  pool.run('gemmStrided', blocks, kernels.exports.gemmStrided as (...args: number[]) => void, false);
  close(c, expected, 1e-4, 'gemm with a late worker, without stealing');
});

test('batch normalization split across two threads matches the reference', { skip }, async () => {
  const { threaded, inHeap } = await twoThreads();
  // The last four split by rows (partial sums per part): three narrower than 32 columns (16
  // channels over 28×28 positions of 8 images, ResNet's first stage; odd rows and columns), one tall.
  for (const [rows, cols] of [[256, 1024], [300, 257], [64, 1040], [259, 301], [6272, 16], [5043, 13], [16385, 4], [6001, 41]]) {
    const x = random(rows * cols, 'plain', -3, 5), dy = random(rows * cols, 'plain');
    const gamma = random(cols, 'plain', 0.5, 1.5), beta = random(cols, 'plain');
    const run = (be: Backend, alloc: (v: Float32Array) => Float32Array) => {
      const out = {
        y: alloc(new Float32Array(rows * cols)), mean: alloc(new Float32Array(cols)), variance: alloc(new Float32Array(cols)),
        invStd: alloc(new Float32Array(cols)), dx: alloc(new Float32Array(rows * cols)),
        dgamma: alloc(new Float32Array(cols).fill(0.5)), dbeta: alloc(new Float32Array(cols).fill(-1)),
      };
      const [xa, dya, ga, ba] = [alloc(x), alloc(dy), alloc(gamma), alloc(beta)];
      be.batchNormTrain(xa, ga, ba, 1e-3, rows, cols, out.y, out.mean, out.variance, out.invStd);
      be.batchNormGrad(xa, dya, ga, out.mean, out.invStd, rows, cols, out.dx, out.dgamma, out.dbeta);
      return out;
    };
    const expected = run(js, (v) => Float32Array.from(v));
    const actual = run(threaded, inHeap);
    for (const key of Object.keys(expected) as (keyof typeof expected)[]) {
      const tol = key === 'dgamma' || key === 'dbeta' ? Math.max(2e-4, 2e-6 * rows) : 2e-4;
      close(actual[key], expected[key], tol, `threaded batchNorm ${key} ${rows}×${cols}`);
    }
  }
  // Forward and backward of 4 wide shapes, all large enough to split: one worker block each; of
  // the 4 split by rows, 3 passes forward and 2 backward.
  assert.equal(threaded.workerBlocks, 8 + 4 * 5, 'blocks the worker ran');
});

test('the SIMD exp-based activations are within 2 float32 ulps of float64, at every position', { skip }, () => {
  const be = createWasmBackend({ threads: 1 });
  const f32 = Math.fround;
  const bits = new Int32Array(1), view = new Float32Array(bits.buffer);
  const ordered = (v: number) => ((view[0] = v), bits[0] < 0 ? -2147483648 - bits[0] : bits[0]);
  const xs: number[] = [];
  for (let e = -40; e <= 7; e += 0.01) xs.push(f32(2 ** e), f32(-(2 ** e))); // tiny to large magnitudes
  for (let v = -110; v <= 110; v += 0.0137) xs.push(f32(v));
  // Edges: zeros, where exp overflows or goes subnormal, tanh's switch at 0.625, the float32 range.
  xs.push(0, -0, 88.7, 88.72, 89, -87.3, -103, -104, 0.625, -0.625, f32(0.62499), 3.4e38, -3.4e38, 1e-45, -1e-45);
  const references: [UnaryKind, (v: number) => number][] = [
    ['tanh', Math.tanh],
    ['sigmoid', (v) => 1 / (1 + Math.exp(-v))],
    ['elu', (v) => (v > 0 ? v : Math.expm1(v))],
    ['selu', (v) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v))],
    ['swish', (v) => v / (1 + Math.exp(-v))],
  ];
  // Each value sits at every offset modulo 4 once: SIMD body and partial tail must agree.
  for (const shift of [0, 1, 2, 3]) {
    const n = xs.length + shift;
    const x = be.alloc(n, 'float32') as Float32Array, y = be.alloc(n, 'float32') as Float32Array;
    x.set(xs, shift);
    for (const [kind, ref] of references) {
      be.unary(kind, x, y, n, 0);
      for (let i = shift; i < n; i++) {
        const want = f32(ref(x[i]));
        // Below float32's normal range the ulp is meaningless: there, 1e-40 absolute. Swish is
        // x·σ(x), and σ(x) is subnormal below x ≈ −87 where x·σ(x) still is not: a float32 σ
        // keeps fewer bits there, so swish is held to ulps only above 1e-35.
        const tiny = kind === 'swish' ? 1e-35 : 1.2e-38;
        const ok = Math.abs(want) < tiny ? Math.abs(y[i] - want) <= 1e-40 * Math.max(1, Math.abs(x[i])) : Math.abs(ordered(y[i]) - ordered(want)) <= 2;
        if (!ok) assert.fail(`${kind}(${x[i]}) = ${y[i]}, float64 says ${want} (offset ${shift})`);
      }
      const special = be.alloc(7, 'float32') as Float32Array, out = be.alloc(7, 'float32') as Float32Array;
      special.set([NaN, Infinity, -Infinity, NaN, 1, NaN, -1]);
      be.unary(kind, special, out, 7, 0);
      for (let i = 0; i < 7; i++) {
        const want = f32(ref(special[i]));
        assert.ok(Object.is(out[i], want) || (Number.isNaN(out[i]) && Number.isNaN(want)) || Math.abs(ordered(out[i]) - ordered(want)) <= 2,
          `${kind}(${special[i]}) = ${out[i]}, want ${want}`);
      }
    }
  }
});

test('optimizer updates and fill split across two threads match the reference', { skip }, async () => {
  const { threaded, inHeap } = await twoThreads();
  const n = 70001; // above THREADED_PASS_MIN_VALUES, and not a multiple of 16
  // Second moments in [0.5, 1] and running means under 0.1, so that centered RMSprop's s − ḡ² > 0.
  const w = random(n, 'plain'), g = random(n, 'plain'), s1 = random(n, 'plain', 0.5, 1), s2 = random(n, 'plain', 0.5, 1), s3 = random(n, 'plain', 0, 0.1);
  const steps: [string, (be: Backend, arrays: Float32Array[]) => void][] = [
    ['sgd', (be, [w0, g0]) => be.sgdUpdate(w0, g0, null, n, 0.01, 0, false)],
    ['sgd nesterov', (be, [w0, g0, v]) => be.sgdUpdate(w0, g0, v, n, 0.01, 0.9, true)],
    ['adam', (be, [w0, g0, m, v]) => be.adamUpdate(w0, g0, m, v, n, 0.001, 0.9, 0.999, 1e-7)],
    ['rmsprop centered', (be, [w0, g0, sq, mom, avg]) => be.rmspropUpdate(w0, g0, sq, mom, avg, n, 0.001, 0.9, 0.5, 1e-7)],
    ['nadam', (be, [w0, g0, m, v]) => be.nadamUpdate(w0, g0, m, v, n, 0.001, 0.0005, 1.2, 0.9, 0.999, 1e-7)],
  ];
  for (const [name, step] of steps) {
    const expected = [w, g, s1, s2, s3].map((a) => Float32Array.from(a));
    const actual = [w, g, s1, s2, s3].map(inHeap);
    step(js, expected);
    step(threaded, actual);
    for (let i = 0; i < expected.length; i++) close(actual[i], expected[i], 1e-6, `threaded ${name}, array ${i}`);
  }
  // fill, which zeroes gradients before a step: split the same way, and on arrays outside the heap.
  for (const [size, target] of [[n, inHeap(w)], [n, Float32Array.from(w)], [37, inHeap(w.subarray(0, 37))]] as const) {
    threaded.fill(target, size - 1, -0.5); // all but the last value
    assert.ok(target.subarray(0, size - 1).every((v) => v === -0.5), `fill of ${size - 1} values`);
    assert.equal(target[size - 1], w[size - 1], 'fill wrote past n');
  }
  // 5 updates and 1 fill of n values in wasm memory (the plain and the short fill stay here).
  assert.equal(threaded.workerBlocks, 6, 'blocks the worker ran');
});

test('bias + activation and BN inference split by rows across two threads match the reference', { skip }, async () => {
  const { threaded, inHeap } = await twoThreads();
  const [rows, cols] = [301, 300]; // 90,300 values: split, with an odd number of rows
  const x = random(rows * cols, 'plain', -3, 3), bias = random(cols, 'plain');
  for (const kind of ['relu', 'tanh'] as const) {
    const xJs = Float32Array.from(x), yJs = new Float32Array(rows * cols);
    js.addBiasActivation(xJs, bias, yJs, rows, cols, kind, 0);
    const xW = inHeap(x), yW = inHeap(new Float32Array(rows * cols));
    threaded.addBiasActivation(xW, inHeap(bias), yW, rows, cols, kind, 0);
    close(xW, xJs, 1e-6, `threaded addBiasActivation (${kind}): x + bias`);
    close(yW, yJs, 1e-6, `threaded addBiasActivation (${kind}): f(x + bias)`);
  }
  const mean = random(cols, 'plain'), variance = random(cols, 'plain', 0.1, 2), gamma = random(cols, 'plain'), beta = random(cols, 'plain');
  const yJs = new Float32Array(rows * cols);
  js.batchNormInfer(x, mean, variance, gamma, beta, 1e-3, rows, cols, yJs);
  const yW = inHeap(new Float32Array(rows * cols));
  threaded.batchNormInfer(inHeap(x), inHeap(mean), inHeap(variance), inHeap(gamma), inHeap(beta), 1e-3, rows, cols, yW);
  close(yW, yJs, 1e-5, 'threaded batchNormInfer');
  assert.equal(threaded.workerBlocks, 3, 'blocks the worker ran (2 bias + activation, 1 BN inference)');
});

test('activations, their gradients, vector sums and bias rows split across two threads match the reference', { skip }, async () => {
  const { threaded, inHeap } = await twoThreads();
  const n = 70001; // above THREADED_PASS_MIN_VALUES, and not a multiple of 16
  const x = random(n, 'plain', -3, 3), dy = random(n, 'plain');
  let blocks = 0;
  for (const kind of ['relu', 'leakyRelu', 'elu'] as const) {
    const yJs = new Float32Array(n), dxJs = new Float32Array(n);
    js.unary(kind, x, yJs, n, 0.2);
    js.unaryGrad(kind, x, yJs, dy, dxJs, n, 0.2);
    const xW = inHeap(x), yW = inHeap(new Float32Array(n)), dxW = inHeap(new Float32Array(n));
    threaded.unary(kind, xW, yW, n, 0.2);
    threaded.unaryGrad(kind, xW, yW, inHeap(dy), dxW, n, 0.2);
    close(yW, yJs, 1e-6, `threaded unary (${kind})`);
    close(dxW, dxJs, 1e-6, `threaded unaryGrad (${kind})`);
    blocks += 2;
  }
  // The vector sum of the merge layers and of gradients where a tensor fans out, into a third
  // array and in place, in wasm memory and outside it (staged).
  const sumJs = new Float32Array(n);
  js.add(x, dy, sumJs, n);
  const sumW = inHeap(new Float32Array(n));
  threaded.add(inHeap(x), inHeap(dy), sumW, n);
  close(sumW, sumJs, 0, 'threaded add');
  const inPlace = inHeap(x);
  threaded.add(inPlace, inHeap(dy), inPlace, n);
  close(inPlace, sumJs, 0, 'threaded add in place');
  const plain = Float32Array.from(x);
  threaded.add(plain, dy, plain, n);
  close(plain, sumJs, 0, 'threaded add of arrays outside wasm memory, in place');
  blocks += 3;
  // Rows of a bias: split by rows.
  const [rows, cols] = [301, 300];
  const bias = random(cols, 'plain'), x2 = random(rows * cols, 'plain');
  const biasJs = Float32Array.from(x2);
  js.addBias(biasJs, bias, rows, cols);
  const biasW = inHeap(x2);
  threaded.addBias(biasW, inHeap(bias), rows, cols);
  close(biasW, biasJs, 0, 'threaded addBias by rows');
  blocks += 1;
  assert.equal(threaded.workerBlocks, blocks, 'blocks the worker ran');
});

test('findNonFinite finds the first NaN or infinity wherever it is, in and out of wasm memory', { skip }, () => {
  for (const n of [0, 1, 5, 16, 17, 100, 1000]) {
    for (const where of ['wasm', 'plain'] as const) {
      const a = random(n, where, -1e30, 1e30);
      assert.equal(wasm.findNonFinite(a, n), -1, `all finite, n=${n}`);
      for (const bad of [NaN, Infinity, -Infinity]) {
        for (const at of new Set([0, n >> 1, n - 2, n - 1].filter((i) => i >= 0 && i < n))) {
          const b = copyOf(a, where);
          b[at] = bad;
          if (at + 3 < n) b[at + 3] = NaN; // a later one must not be reported instead
          assert.equal(wasm.findNonFinite(b, n), at, `${bad} at ${at} of ${n} (${where})`);
          assert.equal(js.findNonFinite(b, n), at);
          if (at > 0) assert.equal(wasm.findNonFinite(b, at), -1, 'values past n are not looked at');
        }
      }
    }
  }
});
