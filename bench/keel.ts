/** Keel's side of the benchmark, on one backend: `node --import tsx bench/keel.ts js|wasm` prints JSON. */
import * as keel from 'keel';
import { backend } from '../packages/keel/src/backend/backend.js';
import { createWasmBackend, type WasmBackend } from '../packages/keel/src/backend/wasm/index.js';
import { BN_SHAPES, GEMM_SHAPES, PREDICT_MANY, TRAIN_SAMPLES, randomFloats, randomLabels, timeIt, type Figure } from './common.js';

function seedModel(): keel.Sequential {
  const model = keel.zoo.buildModel('seed', { inputShape: [784] });
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  return model;
}

/** Variants of the wasm backend, for comparison: held to the calling thread, without fused multiply-adds. */
keel.registerBackend('wasm-1t', () => createWasmBackend({ threads: 1 }));
keel.registerBackend('wasm-nofma', () => createWasmBackend({ relaxedSimd: false }));
keel.registerBackend('wasm-nofma-1t', () => createWasmBackend({ threads: 1, relaxedSimd: false }));

export async function runKeel(backendName: string, quick = false): Promise<Figure[]> {
  keel.setBackend(backendName);
  const info = await keel.ready();
  process.stderr.write(`  (${backendName}: ${info.workers} worker thread(s), fused multiply-add: ${info.fusedMultiplyAdd})\n`);
  keel.setRandomSeed(1);
  const figures: Figure[] = [];
  const slow = backendName === 'js';
  const samples = quick || slow ? TRAIN_SAMPLES / 8 : TRAIN_SAMPLES;
  const x = keel.tensor(randomFloats(samples * 784), [samples, 784]);
  const y = keel.tensor(randomLabels(samples), [samples]);

  for (const batchSize of [32, 256]) {
    const model = seedModel();
    const ms = await timeIt(() => model.fit(x, y, { batchSize, epochs: 1, verbose: 0, shuffle: true }), quick ? 2 : 5, 1);
    figures.push({ workload: `train batch ${batchSize}`, unit: 'samples/s', value: samples / (ms / 1000), higherIsBetter: true });
  }

  const model = seedModel();
  await model.fit(x, y, { batchSize: 32, epochs: 1, verbose: 0 });
  const one = keel.tensor(randomFloats(784, 7), [1, 784]);
  const reps = slow ? 200 : 2000;
  const msOne = await timeIt(() => {
    for (let i = 0; i < reps; i++) model.predict(one);
  }, quick ? 3 : 7, 1);
  figures.push({ workload: 'predict 1', unit: 'µs', value: (msOne / reps) * 1000, higherIsBetter: false });

  const many = keel.tensor(randomFloats(PREDICT_MANY * 784, 9), [PREDICT_MANY, 784]);
  const msMany = await timeIt(() => model.predict(many, { batchSize: PREDICT_MANY }), quick || slow ? 3 : 7, 1);
  figures.push({ workload: `predict ${PREDICT_MANY}`, unit: 'samples/s', value: PREDICT_MANY / (msMany / 1000), higherIsBetter: true });

  // The same model with its BNs folded into the Dense layers (keel.foldBatchNorm), as deployed.
  const folded = keel.foldBatchNorm(model).model;
  const msOneFolded = await timeIt(() => {
    for (let i = 0; i < reps; i++) folded.predict(one);
  }, quick ? 3 : 7, 1);
  figures.push({ workload: 'predict 1 (folded)', unit: 'µs', value: (msOneFolded / reps) * 1000, higherIsBetter: false });
  const msManyFolded = await timeIt(() => folded.predict(many, { batchSize: PREDICT_MANY }), quick || slow ? 3 : 7, 1);
  figures.push({ workload: `predict ${PREDICT_MANY} (folded)`, unit: 'samples/s', value: PREDICT_MANY / (msManyFolded / 1000), higherIsBetter: true });

  const be = backend();
  const alloc = (n: number, seed: number) => {
    const a = be.alloc(n, 'float32');
    a.set(randomFloats(n, seed));
    return a;
  };
  for (const [rows, cols] of BN_SHAPES) {
    const xb = alloc(rows * cols, 3), dy = alloc(rows * cols, 4), gamma = alloc(cols, 5), beta = alloc(cols, 6);
    const yb = alloc(rows * cols, 0), dx = alloc(rows * cols, 0);
    const mean = alloc(cols, 0), variance = alloc(cols, 0), invStd = alloc(cols, 0), dg = alloc(cols, 0), db = alloc(cols, 0);
    const inner = slow ? 5 : 50;
    const ms = await timeIt(() => {
      for (let i = 0; i < inner; i++) {
        be.batchNormTrain(xb, gamma, beta, 1e-3, rows, cols, yb, mean, variance, invStd);
        be.batchNormGrad(xb, dy, gamma, mean, invStd, rows, cols, dx, dg, db);
      }
    }, quick ? 3 : 9, 1);
    figures.push({ workload: `BN fwd+bwd ${rows}x${cols}`, unit: 'µs', value: (ms / inner) * 1000, higherIsBetter: false });
  }

  for (const g of GEMM_SHAPES) {
    const a = alloc(g.m * g.k, 1), b = alloc(g.k * g.n, 2), c = alloc(g.m * g.n, 0);
    const flops = 2 * g.m * g.n * g.k;
    const inner = Math.max(1, Math.round((slow ? 2e8 : 2e9) / flops / 5));
    const ms = await timeIt(() => {
      for (let i = 0; i < inner; i++) be.gemm(a, b, c, g.m, g.n, g.k, g.transA, g.transB, false);
    }, quick ? 3 : 5, 1);
    figures.push({ workload: `GEMM ${g.name}`, unit: 'GFLOP/s', value: flops / ((ms / inner) / 1000) / 1e9, higherIsBetter: true });
  }
  return figures;
}

/**
 * The thread break-even: GEMMs of growing size on one thread and split over two (the threshold
 * forced to 0), as [MFLOP, GFLOP/s on 1 thread, on 2].
 */
export async function gemmBreakEven(): Promise<{ mflop: number; shape: string; oneThread: number; twoThreads: number }[]> {
  const one = createWasmBackend({ threads: 1 });
  const two = createWasmBackend({ threads: 2, threadedGemmMinFlops: 0 });
  if ((await two.threadsReady) === 0) return [];
  const out = [];
  for (const [m, n, k] of [[32, 16, 64], [32, 64, 100], [32, 100, 300], [32, 300, 300], [32, 300, 784], [256, 300, 784]]) {
    const flops = 2 * m * n * k;
    const rate = async (be: WasmBackend) => {
      const a = be.alloc(m * k, 'float32'), b = be.alloc(k * n, 'float32'), c = be.alloc(m * n, 'float32');
      const inner = Math.max(1, Math.round(2e8 / flops));
      const ms = await timeIt(() => {
        for (let i = 0; i < inner; i++) be.gemm(a, b, c, m, n, k, false, false, false);
      }, 5, 1);
      return flops / ((ms / inner) / 1000) / 1e9;
    };
    out.push({ mflop: flops / 1e6, shape: `${m}x${k} . ${k}x${n}`, oneThread: await rate(one), twoThreads: await rate(two) });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  keel.setBackend(process.argv[2] ?? 'wasm');
  const relaxed = (backend() as Partial<WasmBackend>).relaxedSimd;
  process.stderr.write(`  (fused multiply-add: ${relaxed ?? 'n/a'})\n`);
  const figures = await runKeel(process.argv[2] ?? 'wasm', process.argv.includes('--quick'));
  console.log(JSON.stringify(figures, null, 1));
}
