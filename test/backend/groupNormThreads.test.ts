/**
 * Group (and layer) normalization on the wasm backend's threads: large batches split over samples,
 * and the results are the same bits with one part or two, whether the worker runs its part or not.
 * The backward's dgamma and dbeta, sums over samples, are added in sample order after the split.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend, wasmSupported, THREADED_BN_MIN_VALUES, type WasmBackend } from '../../packages/keel/src/backend/wasm/index.js';
import { Random } from '../../packages/keel/src/core/random.js';

const skip = !wasmSupported() && 'no WebAssembly SIMD';

interface Case { what: string; batch: number; positions: number; channels: number; groups: number }

const cases: Case[] = [
  // Below the threshold: one call, on the calling thread.
  { what: 'small (below the threshold)', batch: 4, positions: 64, channels: 16, groups: 4 },
  // At and above it: split over samples, an odd batch so the parts differ in size.
  { what: 'at the threshold', batch: 4, positions: THREADED_BN_MIN_VALUES / 4 / 32, channels: 32, groups: 8 },
  { what: 'conv-like, odd batch', batch: 5, positions: 100, channels: 160, groups: 10 },
  { what: 'layer norm (one position, one group)', batch: 301, channels: 250, positions: 1, groups: 1 },
  { what: 'one position, groups of 3 channels, a tail of SIMD lanes', batch: 257, positions: 1, channels: 255, groups: 85 },
  { what: 'instance norm (a group per channel)', batch: 3, positions: 1024, channels: 24, groups: 24 },
];

const values = (c: Case) => c.batch * c.positions * c.channels;

function random(n: number, seed: number, offset = 0): Float32Array {
  const r = new Random(seed);
  return Float32Array.from({ length: n }, () => offset + 4 * (r.next() - 0.5));
}

/** A copy of `source` in the backend's memory. */
function inHeap(be: WasmBackend, source: Float32Array): Float32Array {
  const a = be.alloc(source.length, 'float32') as Float32Array;
  a.set(source);
  return a;
}

/** Forward then backward of case `c`; every output, copied out. */
function run(be: WasmBackend, c: Case): Record<string, Float32Array> {
  const n = values(c);
  const x = inHeap(be, random(n, 1, 3)); // a mean far from 0, as after a ReLU
  const gamma = inHeap(be, random(c.channels, 2, 1));
  const beta = inHeap(be, random(c.channels, 3));
  const y = be.alloc(n, 'float32') as Float32Array;
  const mean = be.alloc(c.batch * c.groups, 'float32') as Float32Array;
  const invStd = be.alloc(c.batch * c.groups, 'float32') as Float32Array;
  be.groupNorm(x, gamma, beta, 1e-3, c.batch, c.positions, c.channels, c.groups, y, mean, invStd);
  const dy = inHeap(be, random(n, 4));
  const dx = be.alloc(n, 'float32') as Float32Array;
  // dgamma and dbeta accumulate: start from earlier gradients, as a second use of the layer would.
  const dgamma = inHeap(be, random(c.channels, 5));
  const dbeta = inHeap(be, random(c.channels, 6));
  be.groupNormGrad(x, dy, gamma, mean, invStd, c.batch, c.positions, c.channels, c.groups, dx, dgamma, dbeta);
  // The backward once more, into dy itself (dx may alias dy).
  be.groupNormGrad(x, dy, gamma, mean, invStd, c.batch, c.positions, c.channels, c.groups, dy, dgamma, dbeta);
  return Object.fromEntries(Object.entries({ y, mean, invStd, dx, dxInPlace: dy, dgamma, dbeta }).map(([k, a]) => [k, Float32Array.from(a)]));
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

test('group norm forward and backward: the same bits on one part and on two (the worker running its part), below and above the threshold', { skip, timeout: 60_000 }, async () => {
  const threaded = createWasmBackend({ threads: 2, workStealing: false });
  assert.equal(await threaded.threadsReady, 1, 'one worker beside the calling thread');
  const single = createWasmBackend({ threads: 1 });
  for (const c of cases) {
    const before = threaded.workerBlocks;
    const two = run(threaded, c);
    const ran = threaded.workerBlocks - before;
    const one = run(single, c);
    if (values(c) < THREADED_BN_MIN_VALUES) assert.equal(ran, 0, `${c.what}: ${values(c)} values ran on one thread`);
    else assert.equal(ran, 3, `${c.what}: the worker ran its part of the forward and of both backwards`);
    for (const key of Object.keys(one)) {
      assert.ok(one[key].every(Number.isFinite), `${c.what}: ${key} is finite`);
      assert.deepEqual(bits(two[key]), bits(one[key]), `${c.what}: ${key} differs between one part and two`);
    }
  }
});

test('with the worker up or not (its parts run here), group norm gives the same bits', { skip, timeout: 60_000 }, async () => {
  // A fresh backend: its worker is still starting during the first run, so those parts run here.
  const fresh = createWasmBackend({ threads: 2 });
  const c = cases[2];
  const cold = run(fresh, c);
  await fresh.threadsReady;
  const warm = run(fresh, c);
  for (const key of Object.keys(cold)) assert.deepEqual(bits(warm[key]), bits(cold[key]), key);
});
