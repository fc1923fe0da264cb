/**
 * The library as a user gets it: `npm pack -w keel` (which builds it), installed into an empty
 * project with nothing else, must bring no other package, stay small, type-check under strict
 * TypeScript, and train, save and load a model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const MAX_INSTALLED_BYTES = 5 * 1024 * 1024;

function du(dir: string): number {
  let bytes = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path);
    bytes += s.isDirectory() ? du(path) : s.size;
  }
  return bytes;
}

const consumer = `
import * as keel from 'keel';

keel.setRandomSeed(1);
const model = keel.sequential({ layers: [
  keel.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }),
  keel.layers.batchNormalization(),
  keel.layers.dense({ units: 3, activation: 'softmax' }),
] });
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
const x = keel.tensor(Array.from({ length: 64 * 4 }, (_, i) => Math.sin(i)), [64, 4]);
const y = keel.tensor(Array.from({ length: 64 }, (_, i) => i % 3), [64]);
const history = await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
const [loss, accuracy] = model.evaluate(x, y);
const dir: string = process.argv[2];
await model.save('file://' + dir);
const again = await keel.loadLayersModel('file://' + dir + '/model.json');
const a = model.predict(x).dataSync();
const b = again.predict(x).dataSync();
let same = a.length === b.length;
for (let i = 0; i < a.length; i++) same &&= a[i] === b[i];
const info = await keel.ready();
console.log(JSON.stringify({ epochs: history.epoch.length, loss: loss.dataSync()[0], accuracy: accuracy.dataSync()[0], same, backend: info.name }));
`;

test('npm pack of keel installs alone into an empty project, type-checks, trains, saves and loads', { timeout: 180_000 }, (t) => {
  const work = mkdtempSync(join(tmpdir(), 'keel-pack-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const packed = execFileSync(npm, ['pack', '-w', 'keel', '--pack-destination', work, '--json'], {
    cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000,
  });
  const [{ filename }] = JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string }[];

  const project = join(work, 'app');
  execFileSync('mkdir', [project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync(npm, ['install', '--offline', '--no-audit', '--no-fund', join(work, filename)], {
    cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
  });
  const installed = readdirSync(join(project, 'node_modules')).filter((n) => !n.startsWith('.'));
  assert.deepEqual(installed, ['keel'], 'the library must bring no other package');
  const bytes = du(join(project, 'node_modules', 'keel'));
  assert.ok(bytes < MAX_INSTALLED_BYTES, `installed size ${bytes} bytes, expected under ${MAX_INSTALLED_BYTES}`);

  // Strict TypeScript against the installed declarations, as a user's project would compile.
  writeFileSync(join(project, 'main.ts'), consumer);
  // `process` is Node's; declare the little the consumer uses so the check needs no @types/node.
  writeFileSync(join(project, 'globals.d.ts'), 'declare const process: { argv: string[] };\n');
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, types: [], lib: ['ES2022', 'DOM'], outDir: 'out' },
    files: ['main.ts', 'globals.d.ts'],
  }));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (e) {
    assert.fail(`the consumer does not type-check against the installed keel:\n${(e as { stdout?: string }).stdout}`);
  }
  const out = execFileSync(process.execPath, [join(project, 'out', 'main.js'), join(work, 'model')], {
    cwd: project, encoding: 'utf8', timeout: 60_000,
  });
  const result = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(result.epochs, 2);
  assert.ok(Number.isFinite(result.loss) && result.accuracy >= 0 && result.accuracy <= 1, out);
  assert.equal(result.same, true, 'the loaded model must predict the same bits');
  assert.equal(result.backend, 'wasm');
});
