/**
 * `npm run bench`: Keel (js and wasm backends), TensorFlow.js (cpu and wasm) and, when
 * `/usr/bin/python3 -c "import torch"` works, PyTorch (1 and 2 threads), on the workloads of issue
 * 6, in one run. Prints medians and Keel-wasm's ratio to each peer, and writes everything as JSON
 * into bench/results/. Wrap it in `flock /tmp/keel-cpu.lock` on a shared machine.
 *
 * Ratios are "times as fast": throughput / peer's throughput, or peer's time / time, so > 1 means
 * Keel-wasm wins either way. `--quick` shortens every workload (for a smoke test, not for figures);
 * `--no-torch`, `--no-tfjs` and `--no-browser` skip those peers.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GEMM_SHAPES, type Figure } from './common.js';
import { gemmBreakEven, runKeel } from './keel.js';
import { runTfjs } from './tfjs.js';
import { runBrowser } from './browser.js';

const quick = process.argv.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));
const peers: Record<string, Figure[]> = {};
const notes: string[] = [];

function log(msg: string) {
  process.stderr.write(`${msg}\n`);
}

log('Keel wasm...');
peers['Keel wasm'] = await runKeel('wasm', quick);
log('Keel wasm, 1 thread...');
peers['Keel wasm 1T'] = await runKeel('wasm-1t', quick);
// Engines without relaxed SIMD (Safari, Firefox, older Chrome) run the plain SIMD kernels: the
// same backend built with relaxedSimd: false, whatever the Node version.
log('Keel wasm without fused multiply-adds...');
peers['Keel wasm no FMA'] = await runKeel('wasm-nofma', quick);
log('Keel wasm without fused multiply-adds, 1 thread...');
peers['Keel wasm no FMA 1T'] = await runKeel('wasm-nofma-1t', quick);
// The same kernels in headless Chromium, with and without cross-origin isolation (Web Workers).
if (!process.argv.includes('--no-browser')) {
  log('Keel wasm in Chromium (isolated page, then plain page)...');
  try {
    const pages = await runBrowser(quick);
    if (!pages) throw new Error('Chromium not found (apt-get install chromium)');
    for (const [mode, r] of Object.entries(pages)) {
      log(`  (${mode} page: ${r.workers} worker(s), fused multiply-add: ${r.fma})`);
      peers[`Keel Chromium ${mode}`] = r.figures;
    }
  } catch (e) {
    notes.push(`Keel in Chromium not measured: ${(e as Error).message.split('\n')[0]}`);
  }
}
log('GEMM thread break-even...');
const breakEven = await gemmBreakEven();
log('Keel js...');
peers['Keel js'] = await runKeel('js', quick);
// TF.js's backends share one engine: cpu first, then wasm.
if (!process.argv.includes('--no-tfjs')) {
  log('TF.js cpu...');
  peers['TF.js cpu'] = await runTfjs('cpu', quick);
  log('TF.js wasm...');
  peers['TF.js wasm'] = await runTfjs('wasm', quick);
}

let torchVersion: string | null = null;
try {
  if (process.argv.includes('--no-torch')) throw new Error('skipped (--no-torch)');
  execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
  for (const threads of [1, 2]) {
    log(`PyTorch, ${threads} thread(s)...`);
    const out = execFileSync('/usr/bin/python3', [join(here, 'torch_bench.py'), String(threads), JSON.stringify(GEMM_SHAPES)], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    const parsed = JSON.parse(out) as { version: string; figures: Figure[] };
    torchVersion = parsed.version;
    peers[`PyTorch ${threads}T`] = parsed.figures;
  }
} catch (e) {
  notes.push(`PyTorch not measured: ${(e as Error).message.split('\n')[0]}`);
}

const subjects = ['Keel wasm', 'Keel wasm 1T', 'Keel wasm no FMA', 'Keel wasm no FMA 1T', 'Keel Chromium isolated', 'Keel Chromium plain'].filter((p) => peers[p]);
const comparedTo = ['TF.js wasm', 'PyTorch 1T', 'PyTorch 2T'].filter((p) => peers[p]);
const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
// Keel's folded-model rows are compared with the peers' plain predictions (they have no folding).
const lookup = (peer: string, workload: string) =>
  peers[peer].find((x) => x.workload === (peer.startsWith('Keel') ? workload : workload.replace(/ \(folded\)$/, '')));
const rows: string[] = [];
rows.push(`| workload | unit | ${Object.keys(peers).join(' | ')} |`);
rows.push(`|${' --- |'.repeat(2 + Object.keys(peers).length)}`);
for (const f of peers['Keel wasm']) {
  rows.push(`| ${f.workload} | ${f.unit} | ${Object.keys(peers).map((p) => { const g = lookup(p, f.workload); return g ? fmt(g.value) : ''; }).join(' | ')} |`);
}
const ratios: Record<string, Record<string, Record<string, number>>> = {};
const ratioRows: string[] = [];
ratioRows.push(`| workload | ${subjects.flatMap((s) => comparedTo.map((p) => `${s.replace('Keel ', '')} ÷ ${p}`)).join(' | ')} |`);
ratioRows.push(`|${' --- |'.repeat(1 + subjects.length * comparedTo.length)}`);
for (const f of peers['Keel wasm']) {
  const cells: string[] = [];
  for (const s of subjects) {
    const mine = lookup(s, f.workload);
    for (const p of comparedTo) {
      const g = lookup(p, f.workload);
      if (!mine || !g) {
        cells.push('');
        continue;
      }
      // "times as fast": > 1 means Keel wins, for throughputs and for times alike.
      const r = f.higherIsBetter ? mine.value / g.value : g.value / mine.value;
      ((ratios[s] ??= {})[f.workload] ??= {})[p] = r;
      cells.push(`${r.toFixed(2)}×`);
    }
  }
  ratioRows.push(`| ${f.workload} | ${cells.join(' | ')} |`);
}

const date = new Date().toISOString();
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
const result = { date, machine, quick, torchVersion, notes, peers, ratios, breakEven };
const dir = join(here, 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `bench-${date.replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
writeFileSync(file, JSON.stringify(result, null, 1));
console.log(`${date} — ${machine}${torchVersion ? `, PyTorch ${torchVersion}` : ''}`);
console.log(rows.join('\n'));
console.log('\nRatios ("times as fast", > 1 means Keel is faster):');
console.log(ratioRows.join('\n'));
console.log('\nGEMM break-even (GFLOP/s, one thread vs split over two):');
for (const b of breakEven) console.log(`  ${b.shape} (${b.mflop.toFixed(2)} MFLOP): ${b.oneThread.toFixed(1)} vs ${b.twoThreads.toFixed(1)}`);
for (const n of notes) console.log(`note: ${n}`);
console.log(`\nwritten to ${file}`);
