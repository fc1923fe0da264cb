/**
 * Memory of the wasm backend stays bounded: storage of dropped tensors returns to the heap when the
 * collector finalizes them, released storage is reused, and 100,000 predictions do not grow it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as keel from 'keel';
import { backend } from '../../packages/keel/src/backend/backend.js';
import type { WasmHeap } from '../../packages/keel/src/backend/wasm/heap.js';
import { createWasmBackend, wasmSupported } from '../../packages/keel/src/backend/wasm/index.js';
import { withBackend } from '../helpers.js';

const skip = !wasmSupported() && 'WebAssembly SIMD is not available here';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The heap of the active backend; call it inside `withBackend('wasm', ...)`. */
function wasmHeap(): WasmHeap {
  return (backend() as unknown as { heap: WasmHeap }).heap;
}

/** Collects garbage and lets FinalizationRegistry callbacks run (they run between tasks). */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('storage of dropped tensors is reclaimed and reused', { skip }, () => withBackend('wasm', async () => {
  const heap = wasmHeap();
  await collect();
  const baseline = heap.bytesInUse;
  let tensors = Array.from({ length: 50 }, () => keel.zeros([256, 1024]));
  assert.ok(heap.bytesInUse >= baseline + 50 * 256 * 1024 * 4, 'tensors of this size live in wasm memory');
  const reserved = heap.bytesReserved;
  tensors = [];
  await collect();
  assert.equal(heap.bytesInUse, baseline, 'finalized tensors give their storage back');
  for (let round = 0; round < 20; round++) {
    tensors = Array.from({ length: 50 }, () => keel.zeros([256, 1024]));
    tensors.forEach((t) => assert.equal(t.values[12345], 0, 'recycled storage is zeroed'));
    tensors[0].values.fill(7);
    tensors = [];
    await collect();
  }
  assert.equal(heap.bytesReserved, reserved, 'the memory did not grow: blocks were reused');
}));

test('release returns storage at once, and twice is harmless', { skip }, () => withBackend('wasm', () => {
  const heap = wasmHeap();
  const be = backend();
  const before = heap.bytesInUse;
  const a = be.alloc(5000, 'float32');
  assert.ok(heap.bytesInUse > before);
  be.release(a);
  be.release(a);
  be.release(new Float32Array(5000));
  assert.equal(heap.bytesInUse, before);
}));

test('100,000 predict calls keep wasm memory flat', { skip }, () => withBackend('wasm', async () => {
  const heap = wasmHeap();
  keel.setRandomSeed(3);
  const model = keel.zoo.buildModel('seed', { inputShape: [784] });
  const x = keel.tensor(new Float32Array(784).fill(0.5), [1, 784]);
  const run = (n: number) => {
    for (let i = 0; i < n; i++) model.predict(x);
  };
  run(1000);
  await collect();
  const inUse = heap.bytesInUse;
  const reserved = heap.bytesReserved;
  const rss = process.memoryUsage().rss;
  run(100_000); // synchronously: no finalizer can run meanwhile
  assert.ok(heap.bytesInUse <= inUse, `wasm storage grew from ${inUse} to ${heap.bytesInUse} bytes`);
  assert.equal(heap.bytesReserved, reserved);
  await collect();
  const grown = process.memoryUsage().rss - rss;
  assert.ok(grown < 64 * 2 ** 20, `resident memory grew by ${(grown / 2 ** 20).toFixed(1)} MB`);
}));

test('a synchronous loop making a fresh input per predict stays bounded', { skip }, () => withBackend('wasm', async () => {
  const heap = wasmHeap();
  keel.setRandomSeed(4);
  const model = keel.zoo.buildModel('seed', { inputShape: [784] });
  const input = new Float32Array(784).fill(0.25);
  model.predict(keel.tensor(input, [1, 784]));
  await collect();
  const inUse = heap.bytesInUse;
  for (let i = 0; i < 20_000; i++) model.predict(keel.tensor(input, [1, 784])); // 62 MB of inputs
  const grown = heap.bytesInUse - inUse;
  assert.ok(grown <= 16 * 2 ** 20 + 65536, `wasm storage grew by ${grown} bytes, beyond the 16 MiB of small arrays`);
  await collect();
  assert.ok(heap.bytesInUse <= inUse + 65536, `finalized inputs were not given back (${heap.bytesInUse - inUse} bytes)`);
}));

test('past the cap, arrays come from the JavaScript heap and kernels still work', { skip }, () => {
  // A private backend with a tiny cap, so that the fallback path is taken.
  const small = createWasmBackend({ capBytes: 64 * 1024 });
  const a = small.alloc(20000, 'float32') as Float32Array; // 80 KB > cap
  assert.equal(small.heap.owns(a), false);
  const b = small.alloc(2000, 'float32') as Float32Array;
  assert.equal(small.heap.owns(b), true);
  a.fill(1);
  b.fill(2);
  const c = new Float32Array(100);
  small.gemm(a, b, c, 10, 10, 200, false, false, false);
  assert.deepEqual([...c], new Array(100).fill(400));
});
