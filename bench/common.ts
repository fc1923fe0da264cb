/** Shared by the benchmark runners: timing, the synthetic data of the workloads, the PyTorch peer and the ratio table. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Runs `fn` (which does `work` units) `warmup` times, then `reps` times, and returns the median
 * milliseconds per run. Async so that peers whose calls are async (TF.js data()) fit too.
 */
export async function timeIt(fn: () => unknown | Promise<unknown>, reps: number, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Deterministic pseudo-random floats in [0, 1) (the data's values do not change the timings). */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/** Labels 0..9. */
export function randomLabels(n: number, seed = 2): Int32Array {
  const f = randomFloats(n, seed);
  return Int32Array.from(f, (v) => Math.floor(v * 10));
}

/** The workloads of issue 6. Training runs `TRAIN_SAMPLES` per epoch at each batch size. */
export const TRAIN_SAMPLES = 8192;
export const PREDICT_MANY = 10000;
export const BN_SHAPES: [number, number][] = [[256, 1024], [32, 300]];
/** GEMM shapes of the seed model at batch 32 and 256: forward x·W, dW = xᵀ·dy, dx = dy·Wᵀ. */
export const GEMM_SHAPES: { name: string; m: number; n: number; k: number; transA: boolean; transB: boolean }[] = [
  { name: 'fwd 32x784 . 784x300', m: 32, n: 300, k: 784, transA: false, transB: false },
  { name: 'dW 784x32 . 32x300 (At.B)', m: 784, n: 300, k: 32, transA: true, transB: false },
  { name: 'dx 32x300 . 300x784 (A.Bt)', m: 32, n: 784, k: 300, transA: false, transB: true },
  { name: 'fwd 256x784 . 784x300', m: 256, n: 300, k: 784, transA: false, transB: false },
  { name: 'dW 784x256 . 256x300 (At.B)', m: 784, n: 300, k: 256, transA: true, transB: false },
  { name: 'dx 256x300 . 300x784 (A.Bt)', m: 256, n: 784, k: 300, transA: false, transB: true },
];

/** One measured figure of one peer. */
export interface Figure {
  workload: string;
  /** 'samples/s', 'µs' or 'GFLOP/s' */
  unit: string;
  value: number;
  /** Whether a larger value is better (throughput) or worse (time). */
  higherIsBetter: boolean;
}

/**
 * Runs a PyTorch benchmark script (Debian's /usr/bin/python3 with python3-torch) on 1 and 2 threads;
 * its JSON figures go into `peers` as "PyTorch 1T"/"PyTorch 2T". Returns the PyTorch version, or
 * null (with a notice on stderr) where PyTorch is not installed.
 */
export function runTorchPeers(script: string, quick: boolean, peers: Record<string, Figure[]>): string | null {
  let version: string | null = null;
  for (const threads of [1, 2]) {
    process.stderr.write(`PyTorch, ${threads} thread(s)...\n`);
    try {
      const out = execFileSync('/usr/bin/python3', [script, String(threads), ...(quick ? ['--quick'] : [])], {
        env: { ...process.env, OMP_NUM_THREADS: String(threads) }, encoding: 'utf8',
      });
      const parsed = JSON.parse(out) as { version: string; figures: Figure[] };
      version = parsed.version;
      peers[`PyTorch ${threads}T`] = parsed.figures;
    } catch (e) {
      process.stderr.write(`PyTorch not measured: ${(e as Error).message.split('\n')[0]} (Debian: apt-get install python3-torch)\n`);
      break;
    }
  }
  return version;
}

/**
 * Prints the figures of every peer as a Markdown table with Keel wasm's ratio to the best PyTorch
 * thread setting, and writes them to bench/results/NAME-DATE.json. PyTorch has no folding: Keel's
 * "folded BN" rows are compared with PyTorch's plain prediction.
 */
export function reportPeers(resultsDir: string, name: string, peers: Record<string, Figure[]>, extra: Record<string, unknown>): void {
  const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
  const names = Object.keys(peers);
  const torchNames = names.filter((n) => n.startsWith('PyTorch'));
  const lines = [`| workload | unit | ${names.join(' | ')} |${torchNames.length ? ' Keel wasm vs best PyTorch |' : ''}`, `|${' --- |'.repeat(2 + names.length + (torchNames.length ? 1 : 0))}`];
  const ratios: Record<string, number> = {};
  for (const f of peers['Keel wasm']) {
    const find = (n: string) => peers[n].find((x) => x.workload === (n.startsWith('Keel') ? f.workload : f.workload.replace(', folded BN', '')));
    const cells = names.map((n) => { const g = find(n); return g ? fmt(g.value) : ''; });
    const torch = torchNames.map(find).filter((g): g is Figure => !!g);
    let ratio = '';
    if (torch.length) {
      const best = f.higherIsBetter ? Math.max(...torch.map((g) => g.value)) : Math.min(...torch.map((g) => g.value));
      const r = f.higherIsBetter ? f.value / best : best / f.value;
      ratios[f.workload] = r;
      ratio = ` ${r.toFixed(2)}× |`;
    }
    lines.push(`| ${f.workload} | ${f.unit} | ${cells.join(' | ')} |${ratio}`);
  }
  console.log(lines.join('\n'));
  mkdirSync(resultsDir, { recursive: true });
  const date = new Date().toISOString();
  writeFileSync(join(resultsDir, `${name}-${date.replace(/[:.]/g, '-')}.json`), JSON.stringify({ date, ...extra, peers, ratios }, null, 2));
}
