/**
 * The wasm kernels that fuse several passes (bias + activation after Dense's GEMM) and the optimizer
 * updates, against the reference (js) kernels: awkward sizes (1, 3, 17, 1000: the 4-wide SIMD
 * groups and their scalar tails), arrays inside WebAssembly memory and plain arrays outside it
 * (staged in and out), and mixes of both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UnaryKind } from '../../src/backend/backend.js';
import { createJsBackend } from '../../src/backend/js/index.js';
import { createWasmBackend, wasmSupported } from '../../src/backend/wasm/index.js';

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
