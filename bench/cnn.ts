/**
 * The CNN benchmark: Keel's `cnn` zoo model against PyTorch's same network (bench/torch_cnn.py),
 * in one run, medians over repetitions. `node --conditions=keel-source --import tsx bench/cnn.ts
 * [--quick] [--no-torch]`; wrap it in `flock /tmp/keel-cpu.lock` on a shared machine. Prints a
 * table of figures and Keel's ratios to PyTorch's best thread setting, writes JSON to bench/results/.
 *
 * Workloads: training at batch 32 and 128 (SGD with momentum 0.9, fit over random 28×28 images),
 * one-image prediction with BN as trained and folded, 1,000 images at once; and the conv layers'
 * GEMMs on their own, against Keel's GEMM at the seed model's shape (what bounds the conv kernels).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as keel from 'keel';
import { backend } from '../packages/keel/src/backend/backend.js';
import { randomFloats, randomLabels, timeIt, reportPeers, runTorchPeers, type Figure } from './common.js';

const quick = process.argv.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));

function cnn(): keel.Sequential {
  const model = keel.zoo.buildModel('cnn');
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
  return model;
}

async function runKeel(threads: number): Promise<Figure[]> {
  keel.registerBackend(`wasm-${threads}t`, () => createBackend(threads));
  keel.setBackend(`wasm-${threads}t`);
  await keel.ready();
  keel.setRandomSeed(1);
  const figures: Figure[] = [];
  const samples = quick ? 512 : 2048;
  const x = keel.tensor(randomFloats(samples * 784), [samples, 28, 28]);
  const y = keel.tensor(randomLabels(samples), [samples]);
  for (const batchSize of [32, 128]) {
    const model = cnn();
    const ms = await timeIt(() => model.fit(x, y, { batchSize, epochs: 1, verbose: 0, shuffle: false }), quick ? 3 : 5, 1);
    figures.push({ workload: `cnn train, batch ${batchSize}`, unit: 'samples/s', value: samples / (ms / 1000), higherIsBetter: true });
  }
  const model = cnn();
  await model.fit(keel.slice(x, 0, 256), keel.slice(y, 0, 256), { batchSize: 64, epochs: 1, verbose: 0 });
  const one = keel.tensor(randomFloats(784, 7), [1, 28, 28]);
  const folded = keel.foldBatchNorm(model).model;
  for (const [name, m] of [['cnn predict 1', model], ['cnn predict 1, folded BN', folded]] as const) {
    const reps = 50;
    const ms = await timeIt(() => { for (let i = 0; i < reps; i++) m.predict(one); }, quick ? 3 : 7, 1);
    figures.push({ workload: name, unit: 'µs', value: (ms / reps) * 1000, higherIsBetter: false });
  }
  const many = keel.tensor(randomFloats(1000 * 784, 9), [1000, 28, 28]);
  const msMany = await timeIt(() => folded.predict(many, { batchSize: 1000 }), quick ? 3 : 7, 1);
  figures.push({ workload: 'cnn predict 1,000', unit: 'samples/s', value: 1000 / (msMany / 1000), higherIsBetter: true });

  // The GEMMs of the second and fourth convolutions at batch 32 (forward, dW, dx), and the seed
  // model's first Dense for comparison: GFLOP/s.
  const be = backend();
  const shapes: [string, number, number, number, boolean, boolean][] = [
    ['conv 28×28×32→32 fwd', 25088, 32, 288, false, false], ['conv 28×28×32→32 dW', 288, 32, 25088, true, false],
    ['conv 28×28×32→32 dx', 25088, 288, 32, false, true], ['conv 14×14×64→64 fwd', 6272, 64, 576, false, false],
    ['conv 14×14×64→64 dW', 576, 64, 6272, true, false], ['conv 14×14×64→64 dx', 6272, 576, 64, false, true],
    ['dense 32×784·784×300', 32, 300, 784, false, false],
  ];
  for (const [name, m, n, k, ta, tb] of shapes) {
    const a = be.alloc(m * k, 'float32'), b = be.alloc(k * n, 'float32'), c = be.alloc(m * n, 'float32');
    a.set(randomFloats(m * k, 3)); b.set(randomFloats(k * n, 4));
    const ms = await timeIt(() => be.gemm(a, b, c, m, n, k, ta, tb, false), quick ? 5 : 15, 3);
    figures.push({ workload: `GEMM ${name}`, unit: 'GFLOP/s', value: (2 * m * n * k) / ms / 1e6, higherIsBetter: true });
    be.release(a); be.release(b); be.release(c);
  }
  return figures;
}

import { createWasmBackend } from '../packages/keel/src/backend/wasm/index.js';
function createBackend(threads: number) {
  return createWasmBackend({ threads });
}

const peers: Record<string, Figure[]> = {};
process.stderr.write('Keel wasm, 2 threads...\n');
peers['Keel wasm'] = await runKeel(2);
process.stderr.write('Keel wasm, 1 thread...\n');
peers['Keel wasm 1T'] = await runKeel(1);
const torchVersion = process.argv.includes('--no-torch') ? null : runTorchPeers(join(here, 'torch_cnn.py'), quick, peers);
reportPeers(join(here, 'results'), 'cnn', peers, { quick, torchVersion });
