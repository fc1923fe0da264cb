/**
 * The wasm window kernels (im2col, col2im, depthwise convolution, pooling) against the reference
 * (js) kernels, at awkward sizes (1×1 images, 1 and 3 channels, 7×7 windows, stride 3, dilation,
 * uneven 'same' padding), with arrays in and out of WebAssembly memory, and split over two
 * threads where the worker must run its half (the split must not change a bit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../packages/keel/src/backend/wasm/node/relaxed-simd.js';
import type { Backend } from '../../packages/keel/src/backend/backend.js';
import { convGeometry, type Conv2DGeometry, type Padding } from '../../packages/keel/src/backend/convGeometry.js';
import { createJsBackend } from '../../packages/keel/src/backend/js/index.js';
import { createWasmBackend, wasmSupported } from '../../packages/keel/src/backend/wasm/index.js';

const skip = !wasmSupported() && 'WebAssembly SIMD is not available here';
const js = createJsBackend();
const wasm = skip ? (null as unknown as ReturnType<typeof createWasmBackend>) : createWasmBackend({ minWasmSize: 1, threads: 1 });

let seed = 777;
function rand(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
}

function random(be: Backend | null, n: number, ties = false): Float32Array {
  const a = be ? (be.alloc(n, 'float32') as Float32Array) : new Float32Array(n);
  // With ties, values repeat so that max pooling must pick the first maximum of a window.
  for (let i = 0; i < n; i++) a[i] = ties ? Math.floor(rand() * 4) - 2 : 2 * rand() - 1;
  return a;
}

function copyInto(be: Backend | null, a: Float32Array): Float32Array {
  const out = be ? (be.alloc(a.length, 'float32') as Float32Array) : new Float32Array(a.length);
  out.set(a);
  return out;
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * Math.max(1, Math.abs(expected[i])))) assert.fail(`${what}: index ${i}: wasm ${actual[i]} vs js ${expected[i]}`);
  }
}

interface Case { what: string; input: [number, number, number, number]; filter: [number, number]; strides: [number, number]; dilations?: [number, number]; padding: Padding; multiplier?: number }

const cases: Case[] = [
  { what: '1×1 image, 1 channel, 3×3 same', input: [2, 1, 1, 1], filter: [3, 3], strides: [1, 1], padding: 'same' },
  { what: '3 channels, 3×3 same', input: [2, 5, 6, 3], filter: [3, 3], strides: [1, 1], padding: 'same' },
  { what: '7×7 window, stride 3, valid', input: [2, 11, 10, 3], filter: [7, 7], strides: [3, 3], padding: 'valid' },
  { what: '7×7 window on 3×4, same', input: [1, 3, 4, 5], filter: [7, 7], strides: [1, 1], padding: 'same' },
  { what: '2×2 stride 2 same (extra row/column)', input: [3, 5, 7, 6], filter: [2, 2], strides: [2, 2], padding: 'same' },
  { what: 'dilation 2, same, 9 channels', input: [2, 6, 7, 9], filter: [3, 3], strides: [1, 1], dilations: [2, 2], padding: 'same', multiplier: 2 },
  { what: '3×2 strides [2, 3], 4 channels', input: [2, 7, 8, 4], filter: [3, 2], strides: [2, 3], padding: 'same', multiplier: 3 },
];

function geometryOf(c: Case): Conv2DGeometry {
  return convGeometry('test', c.input, { filterSize: c.filter, strides: c.strides, dilations: c.dilations, padding: c.padding });
}

const sizes = (g: Conv2DGeometry, m = 1) => ({
  input: g.batch * g.inHeight * g.inWidth * g.inChannels,
  output: g.batch * g.outHeight * g.outWidth * g.inChannels * m,
  cols: g.batch * g.outHeight * g.outWidth * g.filterHeight * g.filterWidth * g.inChannels,
  kernel: g.filterHeight * g.filterWidth * g.inChannels * m,
});

for (const where of ['wasm', 'plain'] as const) {
  const heap = (): Backend | null => (where === 'wasm' ? wasm : null);
  test(`im2col and col2im match the reference exactly (${where} arrays)`, { skip }, () => {
    for (const c of cases) {
      const g = geometryOf(c);
      const n = sizes(g);
      const x = random(heap(), n.input);
      const cols = heap() ? (wasm.alloc(n.cols, 'float32') as Float32Array) : new Float32Array(n.cols);
      const expected = new Float32Array(n.cols);
      js.im2col(x, expected, g);
      wasm.im2col(x, cols, g);
      assert.deepEqual(cols, expected, `im2col ${c.what}`);
      const dx = random(heap(), n.input); // garbage: col2im overwrites
      const dxExpected = new Float32Array(n.input);
      js.col2im(cols, dxExpected, g);
      wasm.col2im(cols, dx, g);
      assert.deepEqual(dx, dxExpected, `col2im ${c.what}`);
    }
  });

  test(`pooling forward and backward match the reference (${where} arrays, ties included)`, { skip }, () => {
    for (const c of cases) {
      const g = geometryOf({ ...c, dilations: [1, 1] });
      const n = sizes(g);
      const x = random(heap(), n.input, true);
      for (const kind of ['max', 'avg'] as const) {
        const y = random(heap(), n.output);
        const yExpected = new Float32Array(n.output);
        (kind === 'max' ? js.maxPool : js.avgPool)(x, yExpected, g);
        (kind === 'max' ? wasm.maxPool : wasm.avgPool).call(wasm, x, y, g);
        assert.deepEqual(y, yExpected, `${kind}Pool ${c.what}`);
        const dy = random(heap(), n.output);
        const dx = random(heap(), n.input);
        const dxExpected = new Float32Array(n.input);
        if (kind === 'max') {
          js.maxPoolGrad(x, yExpected, dy, dxExpected, g);
          wasm.maxPoolGrad(x, y, dy, dx, g);
          assert.deepEqual(dx, dxExpected, `maxPoolGrad ${c.what}`);
        } else {
          js.avgPoolGrad(dy, dxExpected, g);
          wasm.avgPoolGrad(dy, dx, g);
          close(dx, dxExpected, 1e-6, `avgPoolGrad ${c.what}`);
        }
      }
    }
  });

  test(`depthwise convolution forward, input and filter gradients match the reference (${where} arrays)`, { skip }, () => {
    for (const c of cases) {
      const m = c.multiplier ?? 1;
      const g = geometryOf(c);
      const n = sizes(g, m);
      const x = random(heap(), n.input);
      const kernel = random(heap(), n.kernel);
      const y = random(heap(), n.output);
      const yExpected = new Float32Array(n.output);
      js.depthwiseConv2d(x, kernel, yExpected, g, m);
      wasm.depthwiseConv2d(x, kernel, y, g, m);
      close(y, yExpected, 1e-5, `depthwise ${c.what}`);
      const dy = random(heap(), n.output);
      const dx = random(heap(), n.input);
      const dxExpected = new Float32Array(n.input);
      js.depthwiseConv2dBackpropInput(dy, kernel, dxExpected, g, m);
      wasm.depthwiseConv2dBackpropInput(dy, kernel, dx, g, m);
      close(dx, dxExpected, 1e-5, `depthwise dx ${c.what}`);
      const dk0 = random(null, n.kernel);
      const dk = copyInto(heap(), dk0);
      const dkExpected = Float32Array.from(dk0);
      js.depthwiseConv2dBackpropFilter(x, dy, dkExpected, g, m);
      wasm.depthwiseConv2dBackpropFilter(x, dy, dk, g, m);
      close(dk, dkExpected, 1e-5, `depthwise dK (accumulated) ${c.what}`);
    }
  });
}

test('split over two threads, the window kernels give the same bits, and the worker runs its half', { skip }, async () => {
  const threaded = createWasmBackend({ threads: 2, workStealing: false });
  assert.equal(await threaded.threadsReady, 1);
  const single = createWasmBackend({ threads: 1 });
  // Large enough to split: 8 images of 20×20×16.
  const g = convGeometry('test', [8, 20, 20, 16], { filterSize: [3, 3], strides: [1, 1], padding: 'same' });
  const n = sizes(g, 2);
  const run = (be: typeof threaded) => {
    const x = copyInto(be, sourceX);
    const cols = be.alloc(n.cols, 'float32') as Float32Array;
    be.im2col(x, cols, g);
    const dx = be.alloc(n.input, 'float32') as Float32Array;
    be.col2im(cols, dx, g);
    const y = be.alloc(n.output / 2, 'float32') as Float32Array;
    be.maxPool(x, y, g);
    const dxPool = be.alloc(n.input, 'float32') as Float32Array;
    be.maxPoolGrad(x, y, copyInto(be, sourceDy.subarray(0, n.output / 2)), dxPool, g);
    const kernel = copyInto(be, sourceKernel);
    const yd = be.alloc(n.output, 'float32') as Float32Array;
    be.depthwiseConv2d(x, kernel, yd, g, 2);
    const dk = be.alloc(n.kernel, 'float32') as Float32Array;
    be.depthwiseConv2dBackpropFilter(x, copyInto(be, sourceDy), dk, g, 2);
    return [cols, dx, y, dxPool, yd, dk].map((a) => Float32Array.from(a));
  };
  const sourceX = random(null, n.input);
  const sourceDy = random(null, n.output);
  const sourceKernel = random(null, n.kernel);
  const before = threaded.workerBlocks;
  const two = run(threaded);
  const one = run(single);
  assert.ok(threaded.workerBlocks >= before + 6, `the worker ran ${threaded.workerBlocks - before} blocks`);
  two.forEach((a, i) => assert.deepEqual(a, one[i], `output ${i}`));
});
