/**
 * The ResNet benchmark: Keel's `resnet` zoo model (ResNet-20, a functional model) against PyTorch's
 * same network (bench/torch_resnet.py, checked to have the same 272,186 trainable parameters), in
 * one run, medians over repetitions. `node --conditions=keel-source --import tsx bench/resnet.ts
 * [--quick] [--no-torch]`; wrap it in `flock /tmp/keel-cpu.lock` on a shared machine.
 *
 * Workloads: training at batch 64 and 128 (SGD with momentum 0.9, one epoch over random 28×28
 * images), one-image prediction with BN as trained and folded, 500 images at once (folded).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as keel from 'keel';
import { createWasmBackend } from '../packages/keel/src/backend/wasm/index.js';
import { randomFloats, randomLabels, timeIt, reportPeers, runTorchPeers, type Figure } from './common.js';

const quick = process.argv.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));

function resnet() {
  const model = keel.zoo.buildModel('resnet');
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
  return model;
}

async function runKeel(threads: number): Promise<Figure[]> {
  keel.registerBackend(`wasm-${threads}t`, () => createWasmBackend({ threads }));
  keel.setBackend(`wasm-${threads}t`);
  await keel.ready();
  keel.setRandomSeed(1);
  const figures: Figure[] = [];
  const samples = quick ? 256 : 1024;
  const x = keel.tensor(randomFloats(samples * 784), [samples, 28, 28]);
  const y = keel.tensor(randomLabels(samples), [samples]);
  for (const batchSize of [64, 128]) {
    const model = resnet();
    const ms = await timeIt(() => model.fit(x, y, { batchSize, epochs: 1, verbose: 0, shuffle: false }), quick ? 3 : 5, 1);
    figures.push({ workload: `resnet train, batch ${batchSize}`, unit: 'samples/s', value: samples / (ms / 1000), higherIsBetter: true });
  }
  const model = resnet();
  await model.fit(keel.slice(x, 0, 128), keel.slice(y, 0, 128), { batchSize: 64, epochs: 1, verbose: 0 });
  const one = keel.tensor(randomFloats(784, 7), [1, 28, 28]);
  const folded = keel.foldBatchNorm(model).model;
  for (const [name, m] of [['resnet predict 1', model], ['resnet predict 1, folded BN', folded]] as const) {
    const reps = 20;
    const ms = await timeIt(() => { for (let i = 0; i < reps; i++) m.predict(one); }, quick ? 3 : 7, 1);
    figures.push({ workload: name, unit: 'µs', value: (ms / reps) * 1000, higherIsBetter: false });
  }
  const many = keel.tensor(randomFloats(500 * 784, 9), [500, 28, 28]);
  const msMany = await timeIt(() => folded.predict(many, { batchSize: 500 }), quick ? 3 : 5, 1);
  figures.push({ workload: 'resnet predict 500', unit: 'samples/s', value: 500 / (msMany / 1000), higherIsBetter: true });
  return figures;
}

const peers: Record<string, Figure[]> = {};
process.stderr.write('Keel wasm, 2 threads...\n');
peers['Keel wasm'] = await runKeel(2);
process.stderr.write('Keel wasm, 1 thread...\n');
peers['Keel wasm 1T'] = await runKeel(1);
const torchVersion = process.argv.includes('--no-torch') ? null : runTorchPeers(join(here, 'torch_resnet.py'), quick, peers);
reportPeers(join(here, 'results'), 'resnet', peers, { quick, torchVersion });
