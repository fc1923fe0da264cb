/**
 * Prediction time of the seed and seed-before models, with BN folded into the Dense layers vs not:
 * one instance (latency) and 10,000 instances at once (throughput, one batch of 10,000). Medians.
 *
 * Run on a quiet machine (the lock keeps Keel's benchmarks from running at the same time):
 *   flock /tmp/keel-cpu.lock node --import tsx bench/fold.ts [--backend js] [--json out.json]
 *
 * With --accuracy, instead: train the seed model on Fashion-MNIST (--train-limit images, --epochs,
 * SGD --learning-rate, --seeds runs) and compare test accuracy with the moving averages, with
 * recomputed population statistics, and folded after recomputing (must equal the latter).
 */
import { writeFileSync } from 'node:fs';
import * as keel from 'keel';
import * as datasets from 'keel-datasets';
import { Random } from '../packages/keel/src/core/random.js';

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
if (option('backend')) keel.setBackend(option('backend')!);

function seedModel(variant: 'seed' | 'seed-before'): keel.Sequential {
  const hidden = (units: number) =>
    variant === 'seed'
      ? [keel.layers.dense({ units, activation: 'relu', kernelInitializer: 'heNormal' }), keel.layers.batchNormalization()]
      : [keel.layers.dense({ units, useBias: false, kernelInitializer: 'heNormal' }), keel.layers.batchNormalization(), keel.layers.activation({ activation: 'relu' })];
  const model = keel.sequential({ layers: [
    keel.layers.flatten({ inputShape: [28, 28] }), keel.layers.batchNormalization(),
    ...hidden(300), ...hidden(100), keel.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
  const random = new Random(1);
  for (const layer of model.layers) {
    if (layer instanceof keel.layers.BatchNormalization) {
      layer.setWeights(layer.getWeights().map((w) => keel.tensor(Float32Array.from(w.dataSync(), () => random.uniform(0.5, 1.5)), w.shape)));
    }
  }
  return model;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function time(fn: () => void, runs: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(samples);
}

if (args.includes('--accuracy')) {
  await accuracyExperiment();
  process.exit(0);
}

async function accuracyExperiment(): Promise<void> {
  const trainLimit = Number(option('train-limit') ?? 10_000);
  const epochs = Number(option('epochs') ?? 1);
  const learningRate = Number(option('learning-rate') ?? 1e-3);
  const seeds = Number(option('seeds') ?? 3);
  const data = await datasets.fashionMnist({ trainLimit });
  const { xs, ys } = data.train;
  const accuracy = (m: keel.Sequential) => {
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    return (m.evaluate(data.test.xs, data.test.ys, { batchSize: 1000 }) as keel.Tensor[])[1].dataSync()[0];
  };
  console.log(`Fashion-MNIST, seed model, ${xs.shape[0]} training images, ${epochs} epoch(s), SGD lr ${learningRate}, batch 32`);
  console.log('seed  moving averages  recomputed  folded (recomputed)  recompute s');
  const rows: Record<string, number>[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    keel.setRandomSeed(seed);
    const model = seedModel('seed');
    model.layers.forEach((l) => {
      if (l instanceof keel.layers.BatchNormalization) l.setWeights(l.getWeights().map((w, i) => keel.tensor(Float32Array.from(w.dataSync(), () => (i === 0 || i === 3 ? 1 : 0)), w.shape)));
    });
    model.compile({ optimizer: keel.optimizers.sgd({ learningRate }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await model.fit(xs, ys, { epochs, batchSize: 32, verbose: 0, seed });
    const moving = accuracy(model);
    const started = Date.now();
    await keel.recomputeBatchNormStatistics(model, xs, { batchSize: 1000 });
    const seconds = (Date.now() - started) / 1000;
    const recomputed = accuracy(model);
    const folded = accuracy(keel.foldBatchNorm(model).model);
    rows.push({ seed, moving, recomputed, folded, seconds });
    console.log(`${String(seed).padEnd(5)} ${moving.toFixed(4).padEnd(16)} ${recomputed.toFixed(4).padEnd(11)} ${folded.toFixed(4).padEnd(20)} ${seconds.toFixed(1)}`);
  }
  const out = option('json');
  if (out) writeFileSync(out, JSON.stringify({ trainLimit: xs.shape[0], epochs, learningRate, rows }, null, 2));
}

const random = new Random(2);
const x10k = keel.tensor(Float32Array.from({ length: 10_000 * 784 }, () => random.next()), [10_000, 28, 28]);
const x1 = keel.tensor(x10k.dataSync().subarray(0, 784), [1, 28, 28]);
const results: Record<string, unknown>[] = [];
console.log(`backend ${keel.getBackend()}, node ${process.version}`);
console.log('model        layers  params   one instance (ms)        10,000 at once (ms)');
console.log('                              BN      folded  speed-up   BN      folded  speed-up');
for (const variant of ['seed', 'seed-before'] as const) {
  const model = seedModel(variant);
  const { model: folded } = keel.foldBatchNorm(model);
  const one = [model, folded].map((m) => time(() => m.predict(x1), 500, 50));
  const many = [model, folded].map((m) => time(() => m.predict(x10k, { batchSize: 10_000 }), 11, 2));
  results.push({
    variant, params: [model.countParams(), folded.countParams()], layers: [model.layers.length, folded.layers.length],
    oneInstanceMs: one, tenThousandMs: many, speedUpOne: one[0] / one[1], speedUpMany: many[0] / many[1],
  });
  console.log(
    `${variant.padEnd(12)} ${`${model.layers.length}→${folded.layers.length}`.padEnd(7)} ${String(folded.countParams()).padEnd(8)} ` +
      `${one[0].toFixed(3).padStart(7)} ${one[1].toFixed(3).padStart(7)}  ${(one[0] / one[1]).toFixed(2)}×     ` +
      `${many[0].toFixed(0).padStart(5)} ${many[1].toFixed(0).padStart(7)}  ${(many[0] / many[1]).toFixed(2)}×`,
  );
}
const out = option('json');
if (out) writeFileSync(out, JSON.stringify({ backend: keel.getBackend(), node: process.version, results }, null, 2));
