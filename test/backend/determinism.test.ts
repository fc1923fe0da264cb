/**
 * Same seed ⇒ same results on the wasm backend too, whether or not its worker threads are up: a
 * kernel is split the same way when its parts run on workers or one after the other here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { createWasmBackend, wasmSupported } from '../../packages/keel/src/backend/wasm/index.js';
import { Random } from '../../packages/keel/src/core/random.js';

test('wasm: a run before the worker threads listen equals one after', { skip: !wasmSupported() && 'no WebAssembly SIMD' }, async () => {
  const r = new Random(3);
  const n = 640;
  const x = keel.tensor(Float32Array.from({ length: n * 784 }, () => r.next()), [n, 28, 28]);
  const y = keel.tensor(Int32Array.from({ length: n }, () => r.int(10)));
  const run = async (name: string, waitForThreads: boolean) => {
    const backend = createWasmBackend();
    keel.registerBackend(name, () => backend);
    if (waitForThreads) await backend.threadsReady;
    keel.setBackend(name);
    keel.setRandomSeed(1);
    const model = keel.zoo.buildModel('seed');
    model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    const history = await model.fit(x, y, { epochs: 2, batchSize: 64, verbose: 0, seed: 2 });
    keel.setBackend('js');
    return { loss: history.loss, weights: model.getWeights().map((w) => Array.from(w.dataSync())) };
  };
  const cold = await run('wasm-cold', false);
  const warm = await run('wasm-warm', true);
  assert.deepEqual(cold, warm);
});
