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
import { backend } from '../packages/keel/src/backend/backend.js';
import { measureSimdPeak } from './simd-peak.js';
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

/**
 * Floating-point operations of one training sample: 2·m·n·k summed over the GEMMs of one step at
 * batch 64 (every convolution and Dense, forward and backward), divided by the batch. PyTorch runs
 * the same convolutions, so samples/s times this is each peer's GFLOP/s.
 */
async function trainingFlopsPerSample(): Promise<number> {
  const b = backend();
  const gemm = b.gemm;
  let flops = 0;
  b.gemm = (...args: Parameters<typeof gemm>) => { flops += 2 * args[3] * args[4] * args[5]; return gemm.apply(b, args); };
  try {
    const model = resnet();
    await model.trainOnBatch(keel.tensor(randomFloats(64 * 784, 3), [64, 28, 28]), keel.tensor(randomLabels(64, 4), [64]));
  } finally {
    b.gemm = gemm;
  }
  return flops / 64;
}

const peers: Record<string, Figure[]> = {};
process.stderr.write('Keel wasm, 2 threads...\n');
peers['Keel wasm'] = await runKeel(2);
process.stderr.write('Keel wasm, 1 thread...\n');
peers['Keel wasm 1T'] = await runKeel(1);
const torchVersion = process.argv.includes('--no-torch') ? null : runTorchPeers(join(here, 'torch_resnet.py'), quick, peers);
const flops = await trainingFlopsPerSample();
const peak = await measureSimdPeak(2);
const ceiling = (peak * 1e9) / flops;
reportPeers(join(here, 'results'), 'resnet', peers, { quick, torchVersion, trainingFlopsPerSample: flops, simdPeakGflops2T: peak });
// What the vector width allows: at wasm SIMD's peak on 2 threads, with every cycle a fused
// multiply-add and nothing else, training could reach `ceiling` samples/s.
const rate = (name: string, batch: number) => peers[name]?.find((f) => f.workload === `resnet train, batch ${batch}`)?.value;
console.log(`\nTraining work: ${(flops / 1e6).toFixed(0)} MFLOP per sample (GEMMs of one step). wasm f32x4 FMA peak on 2 threads: ` +
  `${peak.toFixed(0)} GFLOP/s, so at most ${Math.round(ceiling)} samples/s.`);
for (const name of Object.keys(peers)) {
  const rates = [64, 128].map((batch) => rate(name, batch)).filter((r): r is number => r !== undefined);
  if (rates.length) {
    console.log(`${name}: ${rates.map((r) => ((r * flops) / 1e9).toFixed(0)).join(' and ')} GFLOP/s at batch 64 and 128 ` +
      `(${rates.map((r) => `${Math.round((r / ceiling) * 100)}%`).join(' and ')} of the wasm ceiling)`);
  }
}
