/**
 * Keel's wasm backend in headless Chromium (scripts/browser.ts): training the seed model on a
 * cross-origin-isolated page, where the kernels split across a Web Worker, and on a plain page,
 * where the same parts run one after the other on the main thread. Same workload and data as
 * bench/keel.ts; timed inside the page, median of `reps` epochs.
 */
import { findChromium, openBrowser, type PageMode } from '../scripts/browser.js';
import { TRAIN_SAMPLES, type Figure } from './common.js';

const page = (samples: number, reps: number) => `
import * as keel from './src/index.js';
const { workers, fusedMultiplyAdd } = await keel.ready();
const floats = (n, seed) => { const out = new Float32Array(n); let s = seed >>> 0; for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out[i] = s / 2 ** 32; } return out; };
const samples = ${samples};
const x = keel.tensor(floats(samples * 784, 1), [samples, 784]);
const y = keel.tensor(Int32Array.from(floats(samples, 2), (v) => Math.floor(v * 10)), [samples]);
keel.setRandomSeed(1);
const figures = [];
for (const batchSize of [32, 256]) {
  const model = keel.zoo.buildModel('seed', { inputShape: [784] });
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  const times = [];
  for (let rep = 0; rep < ${reps} + 1; rep++) {
    const t0 = performance.now();
    await model.fit(x, y, { batchSize, epochs: 1, verbose: 0, shuffle: true });
    if (rep > 0) times.push(performance.now() - t0); // the first epoch warms up
  }
  times.sort((a, b) => a - b);
  const ms = times[times.length >> 1];
  figures.push({ workload: 'train batch ' + batchSize, unit: 'samples/s', value: samples / (ms / 1000), higherIsBetter: true });
}
window.__result = { workers, fma: fusedMultiplyAdd, figures };
`;

/** Figures per page mode, or null when Chromium is not installed. */
export async function runBrowser(quick = false): Promise<Record<string, { workers: number; fma: boolean; figures: Figure[] }> | null> {
  const chromium = findChromium();
  if (!chromium) return null;
  const session = await openBrowser(chromium);
  try {
    const out: Record<string, { workers: number; fma: boolean; figures: Figure[] }> = {};
    for (const mode of ['isolated', 'plain'] as PageMode[]) {
      out[mode] = (await session.run(mode, page(quick ? TRAIN_SAMPLES / 8 : TRAIN_SAMPLES, quick ? 2 : 5), 600_000)) as (typeof out)[string];
    }
    return out;
  } finally {
    await session.close();
  }
}
