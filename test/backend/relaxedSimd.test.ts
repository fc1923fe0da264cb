/**
 * Keel's Node entry turns on relaxed SIMD (fused multiply-adds in the GEMM kernels) before the
 * default backend compiles its kernels, and `KEEL_RELAXED_SIMD=0` keeps it off. Child processes,
 * because the flag is process-wide and set once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const src = join(import.meta.dirname, '..', '..', 'packages', 'keel', 'src');
const probe = `
  const keel = await import(${JSON.stringify(join(src, 'node', 'index.ts'))});
  const info = await keel.ready();
  await new Promise((resolve) => setTimeout(resolve, 300)); // time for a failing worker to report
  console.log(JSON.stringify({ backend: info.name, fma: info.fusedMultiplyAdd, workers: info.workers }));`;

function run(env: Record<string, string>): { backend: string; fma: boolean; workers: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
    encoding: 'utf8', env: { ...process.env, ...env },
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

// The probe runs as `node --input-type=module -e`, whose flag eval'd workers inherit: the worker
// loop must start in an ES module context too (it once called require and crashed the process).
test('the Node entry point gives the default wasm backend fused multiply-adds and its worker', () => {
  assert.deepEqual(run({}), { backend: 'wasm', fma: true, workers: 1 });
});

test('KEEL_RELAXED_SIMD=0 keeps them off on Node 20, where the flag is needed', (t) => {
  const [major, minor] = process.versions.v8.split('.').map(Number);
  if (major > 11 || (major === 11 && minor >= 4)) return t.skip(`V8 ${process.versions.v8} ships relaxed SIMD: no flag to leave off`);
  assert.deepEqual(run({ KEEL_RELAXED_SIMD: '0' }), { backend: 'wasm', fma: false, workers: 1 });
});
