/**
 * The wasm kernels that fuse several passes (bias + activation after Dense's GEMM) and the optimizer
 * updates, against the reference (js) kernels: awkward sizes (1, 3, 17, 1000: the 4-wide SIMD
 * groups and their scalar tails), arrays inside WebAssembly memory and plain arrays outside it
 * (staged in and out), and mixes of both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UnaryKind } from '../../packages/keel/src/backend/backend.js';
import { createJsBackend } from '../../packages/keel/src/backend/js/index.js';
import { createWasmBackend, wasmSupported } from '../../packages/keel/src/backend/wasm/index.js';
import { previousNadamStep, previousRmspropStep } from '../previousOptimizers.js';

const skip = !wasmSupported() && 'WebAssembly SIMD is not available here';
const js = createJsBackend();
const wasm = skip ? (null as unknown as ReturnType<typeof createWasmBackend>) : createWasmBackend({ minWasmSize: 1, threads: 1 });

let seed = 777;
function rand(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
}

type Where = 'wasm' | 'plain';
const places: Where[] = ['wasm', 'plain'];

function random(n: number, where: Where, lo = -1, hi = 1): Float32Array {
  const a = where === 'wasm' ? (wasm.alloc(n, 'float32') as Float32Array) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
  return a;
}

function copyOf(a: Float32Array, where: Where): Float32Array {
  const out = where === 'wasm' ? (wasm.alloc(a.length, 'float32') as Float32Array) : new Float32Array(a.length);
  out.set(a);
  return out;
}

/** Asserts |a − b| ≤ tol·(|b| + floor) everywhere: relative, with an absolute floor near 0. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, floor: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * (Math.abs(expected[i]) + floor))) {
      assert.fail(`${what}: index ${i}: wasm ${actual[i]} vs js ${expected[i]} (tolerance ${tol})`);
    }
  }
}

const sizes = [1, 3, 17, 1000];
const kinds: UnaryKind[] = ['linear', 'relu', 'leakyRelu', 'elu', 'selu', 'tanh', 'sigmoid', 'swish'];

test('addBiasActivation matches addBias then unary on the reference, and keeps the pre-activation', { skip }, () => {
  const shapes: [number, number][] = [[1, 1], [1, 3], [3, 17], [17, 3], [4, 1000], [1000, 1]];
  for (const [rows, cols] of shapes) {
    for (const kind of kinds) {
      for (const where of places) {
        const x0 = random(rows * cols, 'plain', -3, 3);
        const bias = random(cols, where);
        const alpha = 0.3;
        const preJs = Float32Array.from(x0);
        const yJs = new Float32Array(rows * cols);
        js.addBias(preJs, bias, rows, cols);
        js.unary(kind, preJs, yJs, rows * cols, alpha);
        // The js fused kernel is the same two passes, written once.
        const preJsFused = Float32Array.from(x0);
        const yJsFused = new Float32Array(rows * cols);
        js.addBiasActivation(preJsFused, bias, yJsFused, rows, cols, kind, alpha);
        close(preJsFused, preJs, 0, 0, `js addBiasActivation pre ${kind} ${rows}×${cols}`);
        close(yJsFused, yJs, 0, 0, `js addBiasActivation y ${kind} ${rows}×${cols}`);

        const pre = copyOf(x0, where);
        const y = random(rows * cols, where);
        wasm.addBiasActivation(pre, bias, y, rows, cols, kind, alpha);
        close(pre, preJs, 0, 0, `addBiasActivation pre ${kind} ${rows}×${cols} (${where})`);
        close(y, yJs, 1e-6, 1, `addBiasActivation y ${kind} ${rows}×${cols} (${where})`);

        const inPlace = copyOf(x0, where);
        wasm.addBiasActivation(inPlace, bias, inPlace, rows, cols, kind, alpha); // y === x is allowed
        close(inPlace, yJs, 1e-6, 1, `addBiasActivation in place ${kind} ${rows}×${cols} (${where})`);
      }
    }
  }
});

test('addBiasActivation with relu zeroes exactly the negative pre-activations', { skip }, () => {
  const pre = Float32Array.from([-2, -0.5, 0, 0.5, 2, -1, 1]);
  const y = new Float32Array(7);
  wasm.addBiasActivation(pre, Float32Array.from([1, 1, 1, 1, 1, 1, 1]), y, 1, 7, 'relu', 0);
  assert.deepEqual([...pre], [-1, 0.5, 1, 1.5, 3, 0, 2]);
  // + 0 turns −0 (what 0·x gives for negative x, in both backends) into 0.
  assert.deepEqual([...y].map((v) => v + 0), [0, 0.5, 1, 1.5, 3, 0, 2]);
});

test('sgdUpdate matches the reference, plain, with momentum and with nesterov', { skip }, () => {
  const lr = 0.05;
  for (const n of sizes) {
    for (const [momentum, nesterov] of [[0, false], [0.9, false], [0.9, true]] as const) {
      for (const [wWhere, slotWhere] of [['wasm', 'wasm'], ['plain', 'plain'], ['wasm', 'plain'], ['plain', 'wasm']] as const) {
        const w = random(n, wWhere);
        const wJs = Float32Array.from(w);
        const velocity = momentum > 0 ? random(n, slotWhere, -0.1, 0.1) : null;
        const velocityJs = velocity ? Float32Array.from(velocity) : null;
        for (let step = 0; step < 4; step++) {
          const g = random(n, slotWhere);
          const gBefore = Float32Array.from(g);
          js.sgdUpdate(wJs, g, velocityJs, n, lr, momentum, nesterov);
          wasm.sgdUpdate(w, g, velocity, n, lr, momentum, nesterov);
          const what = `sgdUpdate n=${n} momentum=${momentum} nesterov=${nesterov} step ${step} (w ${wWhere}, g/v ${slotWhere})`;
          // float32 arithmetic against the reference's float64 arithmetic rounded once: a few ulps
          // of the terms (|w| ≤ ~1.5, |v| ≤ ~0.5).
          close(w, wJs, 4e-7, 1, `${what}: w`);
          if (velocity) close(velocity, velocityJs!, 4e-7, 1, `${what}: velocity`);
          close(g, gBefore, 0, 0, `${what}: g untouched`);
        }
      }
    }
  }
});

test('adamUpdate matches the reference over several steps', { skip }, () => {
  const [lr, beta1, beta2, epsilon] = [0.01, 0.9, 0.999, 1e-7];
  for (const n of sizes) {
    for (const [wWhere, slotWhere] of [['wasm', 'wasm'], ['plain', 'plain'], ['wasm', 'plain'], ['plain', 'wasm']] as const) {
      const w = random(n, wWhere);
      const m = random(n, slotWhere, 0, 0);
      const v = random(n, slotWhere, 0, 0);
      const [wJs, mJs, vJs] = [Float32Array.from(w), new Float32Array(n), new Float32Array(n)];
      for (let t = 1; t <= 5; t++) {
        const g = random(n, slotWhere, -2, 2);
        const lrT = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
        js.adamUpdate(wJs, g, mJs, vJs, n, lrT, beta1, beta2, epsilon);
        wasm.adamUpdate(w, g, m, v, n, lrT, beta1, beta2, epsilon);
        const what = `adamUpdate n=${n} t=${t} (w ${wWhere}, g/m/v ${slotWhere})`;
        // m averages signed gradients and can nearly cancel: float32 rounds g − m to half an ulp
        // of |g| ≤ 2 (1.2e-7), times (1 − β1), whatever m's size; hence an absolute floor of 1e-7.
        // v sums squares: no cancellation, a relative bound.
        close(m, mJs, 1e-6, 0.1, `${what}: m`);
        close(v, vJs, 1e-6, 1e-12, `${what}: v`);
        close(w, wJs, 1e-6, 1, `${what}: w`);
      }
    }
  }
});

test('adamUpdate follows the documented formula on one value', { skip }, () => {
  // Keras 3, step 1 from zero state: m = 0.1·g, v = 0.001·g², lrT = lr·sqrt(0.001)/0.1.
  const g = 0.5;
  const lrT = (0.001 * Math.sqrt(1 - 0.999)) / (1 - 0.9);
  const expected = 1 - (lrT * 0.1 * g) / (Math.sqrt(0.001 * g * g) + 1e-7);
  for (const be of [js, wasm]) {
    const [w, m, v] = [Float32Array.of(1), Float32Array.of(0), Float32Array.of(0)];
    be.adamUpdate(w, Float32Array.of(g), m, v, 1, lrT, 0.9, 0.999, 1e-7);
    assert.ok(Math.abs(w[0] - expected) < 1e-7, `${be.name}: w ${w[0]} vs ${expected}`);
    assert.ok(Math.abs(m[0] - 0.05) < 1e-8 && Math.abs(v[0] - 0.00025) < 1e-10, `${be.name}: m ${m[0]}, v ${v[0]}`);
  }
});

test('float64 optimizer updates run on the reference kernels', { skip }, () => {
  const w = Float64Array.of(1, 2, 3);
  const v = new Float64Array(3);
  wasm.sgdUpdate(w, Float64Array.of(1, 1, 1), v, 3, 0.1, 0.5, false);
  assert.deepEqual([...w], [0.9, 1.9, 2.9]);
  assert.deepEqual([...v], [-0.1, -0.1, -0.1]);
});

/**
 * The scalars the Nadam optimizer hands nadamUpdate at step t (the Backend interface's formula),
 * given Πₜ₋₁; returns Πₜ too.
 */
function nadamScalars(lr: number, beta1: number, beta2: number, t: number, uProductBefore: number) {
  const muT = beta1 * (1 - 0.5 * 0.96 ** t);
  const muNext = beta1 * (1 - 0.5 * 0.96 ** (t + 1));
  const uProductT = uProductBefore * muT;
  return {
    uProductT,
    lrM: (lr * muNext) / (1 - uProductT * muNext),
    lrG: (lr * (1 - muT)) / (1 - uProductT),
    vScale: 1 / (1 - beta2 ** t),
  };
}

const rmspropCases = [
  { momentum: 0, centered: false },
  { momentum: 0.9, centered: false },
  { momentum: 0, centered: true },
  { momentum: 0.5, centered: true },
];

test('rmspropUpdate matches the reference and the previous formula, centered or not, with or without momentum', { skip }, () => {
  const [lr, rho, epsilon] = [0.01, 0.9, 1e-7];
  for (const n of sizes) {
    for (const { momentum, centered } of rmspropCases) {
      for (const [wWhere, slotWhere] of [['wasm', 'wasm'], ['plain', 'plain'], ['wasm', 'plain'], ['plain', 'wasm']] as const) {
        const w = random(n, wWhere);
        const [s, mom, avg] = [0, 1, 2].map(() => random(n, slotWhere, 0, 0));
        const wJs = Float32Array.from(w);
        const [sJs, momJs, avgJs] = [0, 1, 2].map(() => new Float32Array(n));
        const w64 = Float64Array.from(w);
        const state64 = { s: new Float64Array(n), mom: new Float64Array(n), avg: new Float64Array(n) };
        for (let t = 1; t <= 5; t++) {
          const g = random(n, slotWhere, -2, 2);
          const gBefore = Float32Array.from(g);
          const [momArg, avgArg] = [momentum > 0 ? mom : null, centered ? avg : null];
          js.rmspropUpdate(wJs, g, sJs, momentum > 0 ? momJs : null, centered ? avgJs : null, n, lr, rho, momentum, epsilon);
          wasm.rmspropUpdate(w, g, s, momArg, avgArg, n, lr, rho, momentum, epsilon);
          previousRmspropStep(w64, g, state64, { lr, rho, momentum, epsilon, centered });
          const what = `rmspropUpdate n=${n} momentum=${momentum} centered=${centered} t=${t} (w ${wWhere}, g/slots ${slotWhere})`;
          // A step is at most lr·|g|/sqrt(d) ≈ 0.03 (0.3 with momentum); float32 rounding of s,
          // ḡ² and the step moves w by a few ulps of the step, well inside 1e-6 of |w| + 1.
          close(w, wJs, 1e-6, 1, `${what}: w vs js`);
          close(w, w64, 1e-6, 1, `${what}: w vs the previous formula in float64`);
          close(wJs, w64, 1e-6, 1, `${what}: js w vs the previous formula in float64`);
          close(s, sJs, 1e-6, 1e-12, `${what}: s`);
          close(s, state64.s, 1e-6, 1e-12, `${what}: s vs float64`);
          // ḡ and mom average signed values and can nearly cancel: an absolute floor, as Adam's m.
          if (centered) close(avg, avgJs, 1e-6, 0.1, `${what}: ḡ`);
          if (momentum > 0) close(mom, momJs, 1e-6, 0.1, `${what}: mom`);
          // Absent slots are neither read nor written.
          if (!centered) close(avg, new Float32Array(n), 0, 0, `${what}: ḡ untouched`);
          if (momentum === 0) close(mom, new Float32Array(n), 0, 0, `${what}: mom untouched`);
          close(g, gBefore, 0, 0, `${what}: g untouched`);
        }
      }
    }
  }
});

test('nadamUpdate matches the reference and the previous formula over several steps', { skip }, () => {
  const [lr, beta1, beta2, epsilon] = [0.01, 0.9, 0.999, 1e-7];
  for (const n of sizes) {
    for (const [wWhere, slotWhere] of [['wasm', 'wasm'], ['plain', 'plain'], ['wasm', 'plain'], ['plain', 'wasm']] as const) {
      const w = random(n, wWhere);
      const m = random(n, slotWhere, 0, 0);
      const v = random(n, slotWhere, 0, 0);
      const [wJs, mJs, vJs] = [Float32Array.from(w), new Float32Array(n), new Float32Array(n)];
      const w64 = Float64Array.from(w);
      const state64 = { m: new Float64Array(n), v: new Float64Array(n), uProduct: 1 };
      let uProduct = 1;
      for (let t = 1; t <= 5; t++) {
        const g = random(n, slotWhere, -2, 2);
        const gBefore = Float32Array.from(g);
        const c = nadamScalars(lr, beta1, beta2, t, uProduct);
        uProduct = c.uProductT;
        js.nadamUpdate(wJs, g, mJs, vJs, n, c.lrM, c.lrG, c.vScale, beta1, beta2, epsilon);
        wasm.nadamUpdate(w, g, m, v, n, c.lrM, c.lrG, c.vScale, beta1, beta2, epsilon);
        previousNadamStep(w64, g, state64, t, { lr, beta1, beta2, epsilon });
        const what = `nadamUpdate n=${n} t=${t} (w ${wWhere}, g/m/v ${slotWhere})`;
        close(m, mJs, 1e-6, 0.1, `${what}: m`);
        close(v, vJs, 1e-6, 1e-12, `${what}: v`);
        close(w, wJs, 1e-6, 1, `${what}: w vs js`);
        close(w, w64, 1e-6, 1, `${what}: w vs the previous formula in float64`);
        close(wJs, w64, 1e-6, 1, `${what}: js w vs the previous formula in float64`);
        close(g, gBefore, 0, 0, `${what}: g untouched`);
      }
    }
  }
});

test('float64 RMSprop and Nadam updates run on the reference kernels, as the previous formulas', { skip }, () => {
  const n = 7;
  const g = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
  for (const { momentum, centered } of rmspropCases) {
    const w = Float64Array.from({ length: n }, (_, i) => i / 3);
    const [s, mom, avg] = [0, 1, 2].map(() => new Float64Array(n));
    const w64 = Float64Array.from(w);
    const state64 = { s: new Float64Array(n), mom: new Float64Array(n), avg: new Float64Array(n) };
    for (let t = 0; t < 3; t++) {
      wasm.rmspropUpdate(w, g, s, momentum > 0 ? mom : null, centered ? avg : null, n, 0.01, 0.9, momentum, 1e-7);
      previousRmspropStep(w64, g, state64, { lr: 0.01, rho: 0.9, momentum, epsilon: 1e-7, centered });
    }
    // The same arithmetic in float64, but for the order of s + ε − ḡ²: an ulp or so.
    close(w, w64, 1e-15, 1, `float64 rmsprop momentum=${momentum} centered=${centered}`);
  }
  const w = Float64Array.from({ length: n }, (_, i) => i / 3);
  const [m, v] = [new Float64Array(n), new Float64Array(n)];
  const w64 = Float64Array.from(w);
  const state64 = { m: new Float64Array(n), v: new Float64Array(n), uProduct: 1 };
  let uProduct = 1;
  for (let t = 1; t <= 3; t++) {
    const c = nadamScalars(0.01, 0.9, 0.999, t, uProduct);
    uProduct = c.uProductT;
    wasm.nadamUpdate(w, g, m, v, n, c.lrM, c.lrG, c.vScale, 0.9, 0.999, 1e-7);
    previousNadamStep(w64, g, state64, t, { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
  }
  // lr folded into lrM and lrG changes the float64 rounding: a few ulps.
  close(w, w64, 1e-15, 1, 'float64 nadam');
  close(m, state64.m, 0, 0, 'float64 nadam m');
});
