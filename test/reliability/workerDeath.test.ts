/**
 * A kernel worker thread that dies during training. The wasm backend splits large kernels between
 * the calling thread and a worker; here the worker is made to die at a chosen moment of a `fit`
 * (through the pool's test hook, KernelPool.injectFault) and the run is compared, weight for weight,
 * with a run where nothing went wrong:
 *
 * - dies as it takes a block (throws, or process.exit), dies while idle, or is terminated from
 *   outside: the pool says so (one process warning), runs that block and every later one on the
 *   calling thread, and the training ends with the same weights, bit for bit;
 * - its kernel throws midway (the output is unknown): the call fails at once with a
 *   ThreadPoolError that says what happened, and the next run, on one thread, gives the same weights;
 * - goes silent mid-kernel (as a thread killed without a word): the wait ends at the pool's time
 *   limit with a ThreadPoolError instead of hanging, and the next run gives the same weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { createWasmBackend, wasmSupported, type WasmBackend } from '../../packages/keel/src/backend/wasm/index.js';
import { loadKernels } from '../../packages/keel/src/backend/wasm/kernels.js';
import { createKernelPool } from '../../packages/keel/src/backend/wasm/node/pool.js';
import { registerPoolStarter, registeredPoolStarter, type Fault, type KernelPool } from '../../packages/keel/src/backend/wasm/threads.js';
import { Random } from '../../packages/keel/src/core/random.js';
import { withBackend } from '../helpers.js';

const skip = !wasmSupported() && 'no WebAssembly SIMD';

let made = 0;
/** A fresh two-thread wasm backend, registered under a new name, with its pool (once its worker listens). */
async function backendWithPool(options: { workStealing?: boolean; timeoutMs?: number } = {}): Promise<{ name: string; be: WasmBackend; pool: KernelPool }> {
  const previous = registeredPoolStarter();
  let pool: KernelPool | null = null;
  registerPoolStarter((module, memory, threads) => (pool = createKernelPool(module, memory, threads, { timeoutMs: options.timeoutMs })));
  let be: WasmBackend;
  try {
    be = createWasmBackend({ threads: 2, workStealing: options.workStealing ?? false });
  } finally {
    if (previous) registerPoolStarter(previous);
  }
  assert.ok(pool, 'the backend started a pool');
  assert.equal(await be.threadsReady, 1, 'one worker thread beside the calling one');
  const name = `wasm (worker death test ${made++})`;
  keel.registerBackend(name, () => be);
  return { name, be, pool: pool! };
}

const random = new Random(3);
const n = 256;
const x = keel.tensor(Float32Array.from({ length: n * 784 }, () => random.next()), [n, 28, 28]);
const y = keel.tensor(Int32Array.from({ length: n }, () => random.int(10)));

/** One epoch of the seed model (4 steps of 64, every GEMM split across the threads); its weights. */
function train(backendName: string, afterBatch?: (batch: number) => void): Promise<number[][]> {
  return withBackend(backendName, async () => {
    keel.setRandomSeed(1);
    const model = keel.zoo.buildModel('seed');
    model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    await model.fit(x, y, { epochs: 1, batchSize: 64, verbose: 0, seed: 2, callbacks: afterBatch ? { onBatchEnd: (b) => afterBatch(b) } : [] });
    return model.getWeights().map((w) => Array.from(w.dataSync()));
  });
}

/** The warnings the pool emits while `fn` runs (and for a moment after, as Node emits them on the next tick). */
async function warningsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
  const warnings: string[] = [];
  const listener = (w: Error & { code?: string }) => { if (w.code === 'KEEL_THREAD_POOL') warnings.push(w.message); };
  process.on('warning', listener);
  try {
    const result = await fn();
    await new Promise((r) => setTimeout(r, 50));
    return { result, warnings };
  } finally {
    process.off('warning', listener);
  }
}

/** Waits (at most `ms`) until `condition` holds. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let reference: number[][];
test('the reference: a run on two threads where nothing goes wrong', { skip, timeout: 60_000 }, async () => {
  const { name, be } = await backendWithPool();
  reference = await train(name);
  assert.ok(be.workerBlocks > 10, `the worker ran ${be.workerBlocks} blocks`);
});

for (const fault of ['throw-before', 'exit'] as Fault[]) {
  test(`a worker that dies as it takes a block (${fault}) mid-training: reported once, the rest on one thread, the same weights`, { skip, timeout: 60_000 }, async () => {
    const { name, be, pool } = await backendWithPool();
    let blocksAtFault = -1;
    const { result, warnings } = await warningsDuring(() => train(name, (batch) => {
      if (batch === 1) { blocksAtFault = be.workerBlocks; pool.injectFault(0, fault); }
    }));
    assert.deepEqual(result, reference, 'the weights differ from the run without a fault');
    assert.ok(blocksAtFault > 0, 'the worker ran blocks before the fault');
    assert.equal(be.workerBlocks, blocksAtFault, 'the worker ran no block after the fault');
    assert.match(pool.failure ?? 'none', /^wasm backend: worker thread 1 of 1 died$/);
    assert.deepEqual(warnings, ['wasm backend: worker thread 1 of 1 died; kernels run on the calling thread from now on (the same results, on one core).']);
    assert.equal(pool.ready, false);
  });
}

test('a worker that dies while idle, or is terminated from outside, between two steps: the same weights', { skip, timeout: 60_000 }, async () => {
  for (const fault of ['exit-idle', 'terminate'] as Fault[]) {
    // With work stealing (the default), as a user runs: a dead worker's blocks are taken over.
    const { name, pool } = await backendWithPool({ workStealing: true });
    const { result, warnings } = await warningsDuring(async () => {
      const weights = await train(name, (batch) => { if (batch === 1) pool.injectFault(0, fault); });
      // A terminated thread cannot say it died: its exit event tells, at an event-loop turn.
      await until(() => pool.failure !== undefined, 5_000, `the pool notices the ${fault}`);
      return weights;
    });
    assert.deepEqual(result, reference, `${fault}: the weights differ from the run without a fault`);
    assert.equal(warnings.length, 1, `${fault}: ${JSON.stringify(warnings)}`);
    assert.match(warnings[0], /^wasm backend: worker thread 1 of 1 (died|ended \(exit code \d+\)); kernels run on the calling thread from now on/);
  }
});

test('once the pool has gone down the backend says why, and keel.ready() reports no workers instead of the old count', { skip, timeout: 60_000 }, async () => {
  // A worker that dies while idle: said in shared memory, before the pool's next job.
  const idle = await backendWithPool();
  assert.deepEqual(await withBackend(idle.name, () => keel.ready()), { name: 'wasm', workers: 1, fusedMultiplyAdd: idle.be.relaxedSimd });
  assert.equal(idle.be.threadsFailure, undefined);
  idle.pool.injectFault(0, 'exit-idle');
  await until(() => idle.be.threadsFailure !== undefined, 5_000, 'the backend notices the exit');
  assert.match(idle.be.threadsFailure ?? '', /^wasm backend: worker thread 1 of 1 (died|ended \(exit code 70\))$/);
  const afterExit = await withBackend(idle.name, () => keel.ready());
  assert.equal(afterExit.workers, 0);
  assert.match(afterExit.threadsFailure ?? 'none', /^wasm backend: worker thread 1 of 1 (died|ended \(exit code 70\))$/);

  // A kernel that throws midway: the backend drops the pool, and keeps its reason.
  const thrown = await backendWithPool();
  await assert.rejects(train(thrown.name, (batch) => { if (batch === 1) thrown.pool.injectFault(0, 'throw-after'); }), keel.ThreadPoolError);
  assert.match(thrown.be.threadsFailure ?? 'none', /^wasm backend: worker thread 1 failed while running its part of \w+ \(Error: injected fault throw-after\)$/);
  assert.deepEqual(await withBackend(thrown.name, () => keel.ready()), {
    name: 'wasm', workers: 0, fusedMultiplyAdd: thrown.be.relaxedSimd, threadsFailure: thrown.be.threadsFailure,
  });

  // Workers that do not start in time: no workers, and why.
  const previous = registeredPoolStarter();
  registerPoolStarter((module, memory, threads) => createKernelPool(module, memory, threads, { startTimeoutMs: 1 }));
  let late: WasmBackend;
  try {
    late = createWasmBackend({ threads: 2 });
  } finally {
    if (previous) registerPoolStarter(previous);
  }
  const lateName = `wasm (worker death test ${made++})`;
  keel.registerBackend(lateName, () => late);
  const info = await withBackend(lateName, () => keel.ready());
  assert.equal(info.workers, 0);
  assert.match(info.threadsFailure ?? 'none', /the worker threads had not started after 0\.001 s/);
});

test("a worker whose kernel throws midway: a ThreadPoolError at once, saying so; the next run, on one thread, gives the same weights", { skip, timeout: 60_000 }, async () => {
  const { name, be, pool } = await backendWithPool();
  const begun = performance.now();
  await assert.rejects(train(name, (batch) => { if (batch === 1) pool.injectFault(0, 'throw-after'); }), (e: Error) => {
    assert.ok(e instanceof keel.ThreadPoolError && e instanceof keel.KeelError, `${e.name}: ${e.message}`);
    assert.equal(e.name, 'ThreadPoolError');
    assert.match(e.message, /^wasm backend: worker thread 1 failed while running its part of \w+ \(Error: injected fault throw-after\)\. Its output is incomplete, so this operation failed; the thread pool is shut down and kernels run on the calling thread from now on\. Run it again/);
    return true;
  });
  assert.ok(performance.now() - begun < 10_000, 'the failure was not reported at once');
  const blocks = be.workerBlocks;
  assert.deepEqual(await train(name), reference);
  assert.equal(be.workerBlocks, blocks, 'no block ran on a worker after the failure');
});

test('a worker that goes silent mid-kernel: the wait ends at the time limit (0.5 s here) with a ThreadPoolError, never hangs', { skip, timeout: 60_000 }, async () => {
  const { name, pool } = await backendWithPool({ timeoutMs: 500 });
  const begun = performance.now();
  await assert.rejects(train(name, (batch) => { if (batch === 2) pool.injectFault(0, 'hang'); }), {
    constructor: keel.ThreadPoolError,
    name: 'ThreadPoolError',
    message: /^wasm backend: worker thread 1 of 1 has not finished its part of \w+ after 0\.5 s \(stuck, or killed\)\. This operation's result is lost; the thread pool is shut down/,
  });
  const ms = performance.now() - begun;
  assert.ok(ms < 10_000, `${ms} ms`);
  assert.match(pool.failure ?? 'none', /has not finished/);
  assert.deepEqual(await train(name), reference);
});

test('workers that do not start within the start limit are given up: `started` rejects, so keel.ready() settles', { skip, timeout: 60_000 }, async () => {
  const kernels = loadKernels();
  if (!kernels.shared) return;
  const pool = createKernelPool(kernels.module, kernels.memory, 2, { startTimeoutMs: 1 })!;
  await assert.rejects(pool.started, /the worker threads had not started after 0\.001 s; kernels stay on one thread/);
  assert.equal(pool.ready, false);
});
