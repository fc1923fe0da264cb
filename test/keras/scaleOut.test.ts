/**
 * examples/scale-out/ end to end on small subsets: Keel trains the cnn and exports .keras, Keras 3
 * continues training under keras.distribution.DataParallel over two host devices, Keel loads the
 * result, predicts what Keras predicted within 1e-5 (the example exits non-zero otherwise) and
 * evaluates it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { needKeras, runPython } from './python.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('examples/scale-out: Keel → Keras 3 DataParallel on 2 devices → Keel, on 256 training images', { timeout: 180_000 }, async (t) => {
  if (!needKeras(t)) return;
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--conditions=keel-source', '--import', 'tsx', 'examples/scale-out/run.ts', '--train', '256', '--test', '128'],
      { cwd: root, timeout: 170_000, maxBuffer: 1 << 20 },
      (error, out, err) => (error ? reject(new Error(`the example failed (${error.code ?? error.signal}):\n${out}\n${err.slice(-3000)}`)) : resolve(out)));
  });
  assert.match(stdout, /^keel: trained on 256 images, test accuracy \d\.\d{3} with the moving statistics, \d\.\d{3} with the exact ones, on 128$/m);
  assert.match(stdout, /^keras: trained one epoch on 2 devices \(cpu:0, cpu:1\), loss \d+\.\d{4}, accuracy \d\.\d{3}$/m);
  const close = /predictions within (\S+) of Keras's$/m.exec(stdout);
  assert.ok(close && Number(close[1]) <= 1e-5, `predictions within ${close?.[1]}`);
  const after = /^keel: test accuracy after Keras's epoch (\d\.\d{3}) with Keras's moving statistics, (\d\.\d{3}) with the exact ones, on 128$/m.exec(stdout);
  assert.ok(after, stdout);
  // Two short trainings of a CNN on 256 images are far from chance (0.1) on 10 classes.
  assert.ok(Number(after[2]) >= 0.3, `accuracy ${after[2]}`);
});

test('under DataParallel on 2 devices, Keras 3 on JAX computes BN statistics over the global batch, as Keel on one machine', { timeout: 120_000 }, async (t) => {
  if (!needKeras(t)) return;
  // What docs/keras.md says of the scale-out path: the moving statistics after one step of momentum
  // 0.5 from (0, 1) are those of the global batch (mean 1, variance 1), not the per-device halves' (variance 0).
  const out = JSON.parse(await runPython('keras_side.py', ['data-parallel-bn'], 100_000, { XLA_FLAGS: '--xla_force_host_platform_device_count=2' }));
  assert.equal(out.devices, 2);
  assert.deepEqual(out.moving_mean, [0.5, 0.5, 0.5]);
  assert.deepEqual(out.moving_variance, [1, 1, 1]);
});
