/**
 * Real Keras 3 (JAX backend, CPU) as the independent implementation the .keras tests check Keel
 * against. Python runs as a child process with a bounded time; arrays cross as raw little-endian
 * float32 files. Where python3 or Keras is missing, the tests that need it are skipped with a
 * printed NOTICE, unless CI is set (`.ci/run` installs Keras and JAX), where they fail instead.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const here = import.meta.dirname;

const env = { ...process.env, KERAS_BACKEND: 'jax', JAX_PLATFORMS: 'cpu', TF_CPP_MIN_LOG_LEVEL: '3', PYTHONUNBUFFERED: '1' };

let available: boolean | undefined;

/** Whether `python3 -c 'import keras, jax'` works here (checked once, within 60 s). */
export function kerasAvailable(): boolean {
  if (available === undefined) {
    const probe = spawnSync('python3', ['-c', 'import keras, jax'], { env, timeout: 60_000, stdio: 'ignore' });
    available = probe.status === 0;
  }
  return available;
}

/**
 * Skips the test when Keras cannot run here and CI is not set; fails it when CI is set. Returns
 * true when the test should go on.
 */
export function needKeras(t: TestContext): boolean {
  if (kerasAvailable()) return true;
  if (process.env.CI) throw new Error('python3 with keras and jax is required on CI (.ci/run installs them with pip), but `import keras, jax` failed.');
  console.log('NOTICE: python3 with keras and jax is not available; the Keras 3 cross-checks are skipped (pip install keras jax to run them).');
  t.skip('python3 with keras and jax is not available');
  return false;
}

/** Runs a Python script of test/keras/ with arguments; resolves with its stdout, rejects with its stderr. */
export function runPython(script: string, args: string[], timeoutMs = 120_000, extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('python3', [join(here, script), ...args], { env: { ...env, ...extraEnv }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${script} failed (${error.code ?? error.signal}):\n${stderr.slice(-4000)}`));
      else resolve(stdout);
    });
  });
}

/** A fresh temporary folder, removed by `done()`. */
export function scratch(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'keel-keras-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFloats(path: string, values: Float32Array): void {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  writeFileSync(path, bytes);
}

export function readFloats(path: string): Float32Array {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/** The largest |a - b|, after checking that the lengths agree. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
