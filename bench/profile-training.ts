/**
 * Where a training step's time goes, kernel by kernel: one epoch of a zoo model on random images
 * with every backend call timed (GEMMs by shape, BN and im2col by size), after one epoch of
 * warm-up, and the share outside the kernels (the graph walk, layers, the optimizer loop).
 *
 *   node --conditions=keel-source --import tsx bench/profile-training.ts [MODEL] [THREADS] [BATCH]
 *
 * MODEL defaults to resnet, THREADS to 2, BATCH to 64; 8 batches. With CPUPROF=FILE it also
 * writes a V8 CPU profile of the timed epoch (open it in Chrome's DevTools). Not a benchmark: the
 * timers cost a little, and figures on a shared machine are noisy; compare runs interleaved.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import * as keel from 'keel';
import { createWasmBackend } from '../packages/keel/src/backend/wasm/index.js';
import { backend } from '../packages/keel/src/backend/backend.js';
import type { Conv2DGeometry } from '../packages/keel/src/backend/convGeometry.js';
import { randomFloats, randomLabels } from './common.js';

const [modelName = 'resnet', threadsArg = '2', batchArg = '64'] = process.argv.slice(2);
const threads = Number(threadsArg);
const batch = Number(batchArg);
keel.registerBackend('profiled', () => createWasmBackend({ threads }));
keel.setBackend('profiled');
await keel.ready();

/** A label per call: the kernel, with the sizes that tell its calls apart. */
function label(kernel: string, args: unknown[]): string {
  if (kernel === 'gemm') return `gemm m${args[3]} n${args[4]} k${args[5]} ${args[6] ? 'T' : 'N'}${args[7] ? 'T' : 'N'}`;
  if (kernel === 'batchNormTrain') return `${kernel} ${args[4]}x${args[5]}`;
  if (kernel === 'batchNormGrad') return `${kernel} ${args[5]}x${args[6]}`;
  if (kernel === 'im2col' || kernel === 'col2im') {
    const g = args[2] as Conv2DGeometry;
    return `${kernel} ${g.inHeight}x${g.inWidth}x${g.inChannels} ${g.filterHeight}x${g.filterWidth} stride ${g.strideHeight}`;
  }
  if (kernel === 'unary') return `unary ${args[0]} n${args[3]}`;
  if (kernel === 'unaryGrad') return `unaryGrad ${args[0]} n${args[5]}`;
  return kernel;
}

const stats = new Map<string, { calls: number; ms: number }>();
const be = backend() as unknown as Record<string, unknown>;
for (const key of Object.keys(be)) {
  const f = be[key];
  if (typeof f !== 'function') continue;
  be[key] = (...args: unknown[]) => {
    const t = performance.now();
    const result = (f as (...a: unknown[]) => unknown)(...args);
    const ms = performance.now() - t;
    const name = label(key, args);
    const s = stats.get(name) ?? { calls: 0, ms: 0 };
    s.calls++;
    s.ms += ms;
    stats.set(name, s);
    return result;
  };
}

keel.setRandomSeed(1);
const samples = batch * 8;
const x = keel.tensor(randomFloats(samples * 784), [samples, 28, 28]);
const y = keel.tensor(randomLabels(samples), [samples]);
const model = keel.zoo.buildModel(modelName as Parameters<typeof keel.zoo.buildModel>[0]);
model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
const epoch = () => model.fit(x, y, { batchSize: batch, epochs: 1, verbose: 0, shuffle: false });
await epoch();
stats.clear();
const session = new Session();
if (process.env.CPUPROF) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const t0 = performance.now();
await epoch();
const total = performance.now() - t0;
if (process.env.CPUPROF) writeFileSync(process.env.CPUPROF, JSON.stringify((await session.post('Profiler.stop')).profile));

const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
const inKernels = rows.reduce((sum, [, s]) => sum + s.ms, 0);
const pct = (ms: number) => `${((ms / total) * 100).toFixed(1)}%`;
console.log(`${modelName}, batch ${batch}, ${threads} thread(s): ${total.toFixed(0)} ms for ${samples} samples = ` +
  `${((samples / total) * 1000).toFixed(0)} samples/s; ${pct(total - inKernels)} outside the kernels`);
const byKernel = new Map<string, number>();
for (const [name, s] of rows) byKernel.set(name.split(' ')[0], (byKernel.get(name.split(' ')[0]) ?? 0) + s.ms);
console.log('\nBy kernel:');
for (const [name, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).filter(([, ms]) => ms / total >= 0.001)) console.log(`  ${name.padEnd(20)} ${pct(ms)}`);
console.log('\nBy call (calls, ms, share):');
for (const [name, s] of rows.slice(0, 30)) console.log(`  ${name.padEnd(44)} ${String(s.calls).padStart(6)} ${s.ms.toFixed(1).padStart(8)} ${pct(s.ms).padStart(6)}`);
process.exit(0);
