/**
 * The examples run as a user would run them, each in its own Node process, importing `keel` by its
 * package name. (`npm test` type-checks them first, with `tsc --noEmit`.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));

async function runExample(file: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=keel-source', '--import', 'tsx', file], {
    cwd: root, timeout: 120_000, maxBuffer: 1 << 20,
  });
  return stdout;
}

test('examples/package-user.ts trains, evaluates, predicts, saves and loads back the same model', async () => {
  const out = await runExample('examples/package-user.ts');
  assert.match(out, /^validation accuracy after 5 epochs: (0\.[6-9]\d\d|1\.000)$/m);
  assert.match(out, /^test loss \d+\.\d{4}, test accuracy (0\.[6-9]\d\d|1\.000)$/m);
  assert.match(out, /^first predictions: [0-2]( [0-2]){7} \(labels [0-2]( [0-2]){7}\)$/m);
  assert.match(out, /^saved to a temporary folder and loaded back: the same predictions$/m);
});

test('examples/quickstart.ts (the README tour) still runs', async () => {
  const out = await runExample('examples/quickstart.ts');
  assert.match(out, /Total params: 271,346/);
  assert.match(out, /^validation accuracy per epoch: \d\.\d{3}, \d\.\d{3}, \d\.\d{3}$/m);
  assert.match(out, /^validation loss \d+\.\d{4}, accuracy \d\.\d{3}$/m);
  assert.match(out, /^one instance: predicted class \d, label \d$/m);
});
