/**
 * Keel in a real browser (headless Chromium): the core loads as plain ES modules, picks the wasm
 * backend, and on a cross-origin-isolated page starts a Web Worker that shares the kernels'
 * memory. Training there must give bit-for-bit the weights of a page without isolation, where the
 * same parts of each split kernel run one after the other on the main thread.
 *
 * Needs Chromium (Debian: `apt-get install chromium`; .ci/run installs it). Without it the tests
 * are skipped with a notice, unless KEEL_BROWSER_TESTS=required (CI), which makes that a failure.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { findChromium, openBrowser, type BrowserSession } from '../../scripts/browser.js';

const chromium = findChromium();
const required = process.env.KEEL_BROWSER_TESTS === 'required';
if (!chromium && required) throw new Error('KEEL_BROWSER_TESTS=required but Chromium is not installed (apt-get install chromium, or set KEEL_CHROMIUM).');
const missing = 'Chromium not found (apt-get install chromium, or set KEEL_CHROMIUM; KEEL_BROWSER_TESTS=required makes this a failure)';
const skip = !chromium && `NOT RUN: ${missing}`;
// A skipped test is one line among hundreds, and the summary only counts it among the skipped: say
// it on stderr too, which the test runner passes on.
if (skip) process.stderr.write(`NOTICE: the browser test (test/browser/threads.test.ts) did not run: ${missing}\n`);

let session: Promise<BrowserSession> | null = null;
const browser = () => (session ??= openBrowser(chromium!));
after(async () => {
  if (session) await (await session).close();
});

// Trains the seed model on seeded random data in batches of 256, so that both the GEMMs and the
// batch normalizations (256×300 values) are large enough to be split; reports a hash of the weights.
const TRAIN = `
import * as keel from './src/index.js';
import { backend } from './src/backend/backend.js';
import { Random } from './src/core/random.js';
const be = backend();
const { workers } = await keel.ready();
const r = new Random(3);
const n = 768;
const x = keel.tensor(Float32Array.from({ length: n * 784 }, () => r.next()), [n, 28, 28]);
const y = keel.tensor(Int32Array.from({ length: n }, () => r.int(10)));
keel.setRandomSeed(1);
const model = keel.zoo.buildModel('seed');
model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
const history = await model.fit(x, y, { epochs: 2, batchSize: 256, verbose: 0, seed: 2 });
let hash = 0x811c9dc5;
for (const w of model.getWeights()) {
  for (const bits of new Uint32Array(w.dataSync().slice().buffer)) hash = Math.imul(hash ^ bits, 16777619) >>> 0;
}
window.__result = {
  backend: keel.getBackend(), isolated: crossOriginIsolated, workers, fma: be.relaxedSimd,
  // (The SharedArrayBuffer global is absent from pages without isolation: ask the object itself.)
  sharedMemory: Object.prototype.toString.call(be.heap.memory.buffer) === '[object SharedArrayBuffer]',
  workerBlocks: be.workerBlocks,
  loss: history.history.loss, hash,
};
`;

test('a cross-origin-isolated page trains on two threads, with the weights of a one-thread page', { skip, timeout: 300_000 }, async () => {
  const b = await browser();
  const isolated = (await b.run('isolated', TRAIN)) as Record<string, unknown>;
  const plain = (await b.run('plain', TRAIN)) as Record<string, unknown>;
  assert.equal(isolated.backend, 'wasm');
  assert.deepEqual([isolated.isolated, isolated.sharedMemory, isolated.workers], [true, true, 1], 'isolated page: shared memory and one Web Worker');
  assert.ok((isolated.workerBlocks as number) > 0, 'the Web Worker ran parts of the kernels');
  // Chromium makes a shared WebAssembly.Memory on any page; only isolation lets a worker have it.
  assert.deepEqual([plain.isolated, plain.workers, plain.workerBlocks], [false, 0, 0], 'plain page: no worker');
  assert.equal(isolated.fma, plain.fma);
  assert.ok((isolated.loss as number[]).every(Number.isFinite));
  assert.deepEqual(isolated.loss, plain.loss);
  assert.equal(isolated.hash, plain.hash, 'weights after training differ between the two pages');
});
