/**
 * The ceiling of WebAssembly SIMD on this machine: floating-point operations per second of
 * f32x4.relaxed_madd (fused multiply-add, 4 lanes, 8 flops) in 12 independent chains, the most a
 * wasm kernel can do, on 1 thread and on 2 at once. No memory is touched. Compare it with the
 * GFLOP/s a peer reaches on the same network (bench/resnet.ts prints both) to see whether a target
 * is reachable by better kernels or only by fewer flops.
 * `node --import tsx bench/simd-peak.ts`.
 */
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import binaryen from 'binaryen';

const [major, minor] = process.versions.v8.split('.').map(Number);
if (major < 11 || (major === 11 && minor < 4)) setFlagsFromString('--experimental-wasm-relaxed-simd');

const CHAINS = 12;
/** The module: run(iterations) does CHAINS fused multiply-adds per iteration and returns a lane. */
export function peakModule(): Uint8Array {
  const locals = Array.from({ length: CHAINS }, (_, i) => `(local $a${i} v128)`).join(' ');
  const init = Array.from({ length: CHAINS }, (_, i) => `(local.set $a${i} (f32x4.splat (f32.const ${1 + i * 1e-3})))`).join('\n');
  const body = Array.from({ length: CHAINS }, (_, i) =>
    `(local.set $a${i} (f32x4.relaxed_madd (local.get $a${i}) (local.get $b) (local.get $c)))`).join('\n');
  const sum = Array.from({ length: CHAINS - 1 }, () => '(f32x4.add').join(' ') + ' (local.get $a0) ' +
    Array.from({ length: CHAINS - 1 }, (_, i) => `(local.get $a${i + 1}))`).join(' ');
  const wat = `(module (func (export "run") (param $n i32) (result f32) ${locals} (local $b v128) (local $c v128)
    (local.set $b (f32x4.splat (f32.const 0.999))) (local.set $c (f32x4.splat (f32.const 0.001)))
    ${init}
    (block $done (loop $top
      ${body}
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $top (i32.gt_s (local.get $n) (i32.const 0)))))
    (f32x4.extract_lane 0 ${sum})))`;
  const m = binaryen.parseText(wat);
  m.setFeatures(binaryen.Features.SIMD128 | binaryen.Features.RelaxedSIMD);
  if (!m.validate()) throw new Error('simd-peak: the module does not validate');
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}

const ITERATIONS = 100_000_000;
const workerSource = `
  const { parentPort, workerData } = require('node:worker_threads');
  const { setFlagsFromString } = require('node:v8');
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  const run = new WebAssembly.Instance(new WebAssembly.Module(workerData.bytes)).exports.run;
  run(1000000);
  parentPort.on('message', (n) => { const t = performance.now(); run(n); parentPort.postMessage(performance.now() - t); });
`;

/** The median over 5 runs of the FMA rate, in GFLOP/s, of `threads` threads running at once. */
export async function measureSimdPeak(threads: number, bytes: Uint8Array = peakModule()): Promise<number> {
  const workers = Array.from({ length: threads }, () => new Worker(workerSource, { eval: true, workerData: { bytes } }));
  const once = () => Promise.all(workers.map((w) => new Promise<number>((resolve) => { w.once('message', resolve); w.postMessage(ITERATIONS); })));
  const rates: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const ms = await once();
    rates.push((threads * ITERATIONS * CHAINS * 8) / (Math.max(...ms) / 1000) / 1e9);
  }
  await Promise.all(workers.map((w) => w.terminate()));
  rates.sort((a, b) => a - b);
  return rates[2];
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const bytes = peakModule();
  for (const threads of [1, 2]) {
    console.log(`wasm f32x4 FMA peak, ${threads} thread${threads > 1 ? 's' : ''}: ${(await measureSimdPeak(threads, bytes)).toFixed(1)} GFLOP/s (median of 5)`);
  }
}
