/**
 * Same seed ⇒ same results on the wasm backend too, whether or not its worker threads are up: a
 * kernel is split the same way when its parts run on workers or one after the other here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { createWasmBackend, wasmSupported } from '../../packages/keel/src/backend/wasm/index.js';
import { Random } from '../../packages/keel/src/core/random.js';
import { withBackend } from '../helpers.js';

/**
 * A fresh wasm backend, so that its threads are still starting when the first run begins. A
 * registration cannot be undone, so there is one, made inside the test (after every test of this
 * file has listed its backends), and both runs use it: before and after its threads listen.
 */
const FRESH_WASM = 'wasm-fresh (determinism test)';

test('wasm: a run before the worker threads listen equals one after', { skip: !wasmSupported() && 'no WebAssembly SIMD' }, async () => {
  const r = new Random(3);
  const n = 640;
  const x = keel.tensor(Float32Array.from({ length: n * 784 }, () => r.next()), [n, 28, 28]);
  const y = keel.tensor(Int32Array.from({ length: n }, () => r.int(10)));
  const fresh = createWasmBackend();
  keel.registerBackend(FRESH_WASM, () => fresh);
  const run = () => withBackend(FRESH_WASM, async () => {
    keel.setRandomSeed(1);
    const model = keel.zoo.buildModel('seed');
    model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    const history = await model.fit(x, y, { epochs: 2, batchSize: 64, verbose: 0, seed: 2 });
    return { loss: history.loss, weights: model.getWeights().map((w) => Array.from(w.dataSync())) };
  });
  const before = keel.getBackend();
  const cold = await run();
  await fresh.threadsReady;
  const warm = await run();
  assert.deepEqual(cold, warm);
  assert.equal(keel.getBackend(), before, 'the backend active before the test is active again');
});
