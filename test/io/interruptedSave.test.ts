/**
 * Saves that stop midway, as when the process is killed, and the saves and loads that follow.
 *
 * The crash is simulated in the process: from the chosen change to the file system on (a mkdir,
 * open, rename, link, copyFile or rm made by the save), no call runs and none returns, so the save's
 * promise never settles and nothing after that point happens, as after a crash. The files are then
 * in the state the crash would leave; later saves and loads run normally. (Saves made through the
 * harness skip fsync, which only matters when the machine itself loses power, and takes most of a
 * save's time.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsPromises } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as keel from 'keel';
import { randomizeBatchNorm, referenceCrc32, seedModel, weightsOf } from './helpers.js';

const CHANGES = ['mkdir', 'open', 'rename', 'link', 'copyFile', 'rm'] as const;
type FsFunctions = Record<(typeof CHANGES)[number], (...args: unknown[]) => Promise<unknown>>;

/**
 * Saves `model` to `dir`, crashing just before the save's `crashAt`-th change to the file system
 * (1 for the first; Infinity for none), or before the first change `crashAt` picks. Returns the
 * changes that ran, e.g. 'rename .weights.bin.…tmp weights.bin', and whether the crash came.
 */
async function saveCrashingAt(
  model: keel.Sequential, dir: string, crashAt: number | ((change: string) => boolean),
): Promise<{ crashed: boolean; changes: string[] }> {
  const fs = fsPromises as unknown as FsFunctions;
  const originals = CHANGES.map((name) => [name, fs[name]] as const);
  const changes: string[] = [];
  const started: Promise<unknown>[] = [];
  let crashed = false;
  let onCrash!: () => void;
  const crash = new Promise<'crashed'>((resolve) => (onCrash = () => resolve('crashed')));
  for (const [name, original] of originals) {
    fs[name] = (...args: unknown[]) => {
      const change = [name, ...args.filter((a) => typeof a === 'string').map((a) => basename(a as string))].join(' ');
      if (!crashed && (typeof crashAt === 'number' ? changes.length + 1 === crashAt : crashAt(change))) {
        crashed = true;
        onCrash();
      }
      if (crashed) return new Promise(() => {});
      changes.push(change);
      const call = original.apply(fsPromises, args);
      started.push(call);
      if (name !== 'open') return call;
      return call.then((handle) => Object.assign(handle as object, { sync: async () => {} }));
    };
  }
  try {
    await Promise.race([model.save(`file://${dir}`).then(() => 'saved' as const), crash]);
  } finally {
    for (const [name, original] of originals) fs[name] = original;
  }
  // A change already under way when the crash came (the first of two started together) is taken as done.
  await Promise.allSettled(started);
  return { crashed, changes };
}

/** Models of the same layers and shapes with different weights (a new save of a model in training). */
function models(count: number): keel.Sequential[] {
  return Array.from({ length: count }, (_, i) => {
    const model = seedModel('seed', [4, 4], [6, 5]);
    randomizeBatchNorm(model, 100 + i);
    return model;
  });
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-crash-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Which of `candidates` the model in `dir` loads as (by its weights, bit for bit), or the error. */
async function loadsAs(dir: string, candidates: Record<string, keel.Sequential>): Promise<string> {
  let loaded: keel.Sequential;
  try {
    loaded = await keel.loadLayersModel(`file://${dir}/model.json`);
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  const weights = weightsOf(loaded);
  for (const [name, model] of Object.entries(candidates)) {
    const expected = weightsOf(model);
    if (expected.length === weights.length && expected.every((v, i) => Object.is(v, weights[i]))) return name;
  }
  return 'a model with weights of none of the saves';
}

/** The rename that puts a save's model.json into place: a save is complete for loading once it ran. */
const isModelRename = (change: string) => change.startsWith('rename ') && change.endsWith(' model.json');
/** A crash between the two renames: the new weights.bin is in place, model.json not yet. */
const betweenTheRenames = isModelRename;

test('the crash between the two renames leaves the new weights beside the old model.json, and the old pair as .prev', () =>
  withTempDir(async (dir) => {
    const [a, b] = models(2);
    await a.save(`file://${dir}`);
    const savedA = { json: await readFile(join(dir, 'model.json'), 'utf8'), weights: await readFile(join(dir, 'weights.bin')) };
    const { crashed, changes } = await saveCrashingAt(b, dir, betweenTheRenames);
    assert.ok(crashed);
    assert.match(changes.at(-1)!, /^rename \.weights\.bin\..*\.tmp weights\.bin$/);
    const names = await readdir(dir);
    assert.deepEqual(names.filter((n) => !n.endsWith('.tmp')).sort(), ['model.json', 'model.json.prev', 'weights.bin', 'weights.bin.prev']);
    assert.equal(await readFile(join(dir, 'model.json'), 'utf8'), savedA.json);
    assert.equal(await readFile(join(dir, 'model.json.prev'), 'utf8'), savedA.json);
    assert.deepEqual(await readFile(join(dir, 'weights.bin.prev')), savedA.weights);
    const weights = new Uint8Array(await readFile(join(dir, 'weights.bin')));
    assert.deepEqual(new Float32Array(weights.slice().buffer), weightsOf(b), 'weights.bin holds the new weights');
    // model.json's recorded CRC is A's, which the new weights do not match (judged independently).
    assert.notEqual(JSON.parse(savedA.json).keel.weightsCrc32, referenceCrc32(weights));
    assert.equal(await loadsAs(dir, { a, b }), 'a');
  }));

test('a save after an interrupted save keeps the intact previous pair: interrupted again, it still loads the last complete model', () =>
  withTempDir(async (dir) => {
    const [a, b, c, d] = models(4);
    await a.save(`file://${dir}`);
    assert.ok((await saveCrashingAt(b, dir, betweenTheRenames)).crashed); // crash between the renames
    assert.equal(await loadsAs(dir, { a, b }), 'a');
    // The current pair (A's model.json, B's weights) is inconsistent: it must not replace the .prev pair.
    assert.ok((await saveCrashingAt(c, dir, betweenTheRenames)).crashed); // the same crash again
    assert.equal(await loadsAs(dir, { a, b, c }), 'a');
    // A save that completes puts the folder right: the new model, no .prev pair left.
    await d.save(`file://${dir}`);
    assert.equal(await loadsAs(dir, { a, b, c, d }), 'd');
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.prev')), []);
  }));

test('crashes at every point of two saves in a row: loading gives the last save that renamed its model.json, never an error', () =>
  withTempDir(async (root) => {
    // Save A; save B crashing before its i-th change; save C crashing before its j-th; then load.
    // i and j run over every change each save makes in the state it finds, then past the last (no crash).
    const [a, b, c] = models(3);
    const failures: string[] = [];
    let cases = 0;
    for (let i = 1, bCrashed = true; bCrashed; i++) {
      for (let j = 1, cCrashed = true; cCrashed; j++) {
        const dir = join(root, `${i}-${j}`);
        await saveCrashingAt(a, dir, Infinity);
        const saveB = await saveCrashingAt(b, dir, i);
        const saveC = await saveCrashingAt(c, dir, j);
        [bCrashed, cCrashed] = [saveB.crashed, saveC.crashed];
        const expected = saveC.changes.some(isModelRename) ? 'c' : saveB.changes.some(isModelRename) ? 'b' : 'a';
        const got = await loadsAs(dir, { a, b, c });
        if (got !== expected) {
          failures.push(`B stopped after [${saveB.changes.join(', ')}], C after [${saveC.changes.join(', ')}]: loaded ${got}, expected ${expected}`);
        }
        cases++;
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(cases > 50, `${cases} cases`); // a save makes about ten changes
  }));

test('a save of a model of another size, interrupted between its renames, falls back to the previous pair', () =>
  withTempDir(async (dir) => {
    const a = seedModel('seed', [4, 4], [6, 5]);
    const wider = seedModel('seed', [4, 4], [7, 5]);
    await a.save(`file://${dir}`);
    assert.ok((await saveCrashingAt(wider, dir, betweenTheRenames)).crashed);
    assert.equal(await loadsAs(dir, { a, wider }), 'a');
  }));

test('a folder saved before Keel recorded a CRC (no stamp in model.json), interrupted between the renames of a new save, loads the old model', () =>
  withTempDir(async (dir) => {
    const [a, b, wider] = [...models(2), seedModel('seed', [4, 4], [7, 5])];
    // A's folder as an older Keel wrote it: the same files, without the `keel` stamp.
    await a.save(`file://${dir}`);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    delete json.keel;
    await fsPromises.writeFile(join(dir, 'model.json'), JSON.stringify(json));
    assert.equal(await loadsAs(dir, { a }), 'a', 'an unstamped folder loads');
    // Weights of the same size: without the check they would load under A's model.json, a mix.
    assert.ok((await saveCrashingAt(b, dir, betweenTheRenames)).crashed);
    assert.equal(await loadsAs(dir, { a, b }), 'a');
    // And of another size: without the check, an error with an intact previous pair beside.
    await rm(dir, { recursive: true, force: true });
    await a.save(`file://${dir}`);
    await fsPromises.writeFile(join(dir, 'model.json'), JSON.stringify(json));
    assert.ok((await saveCrashingAt(wider, dir, betweenTheRenames)).crashed);
    assert.equal(await loadsAs(dir, { a, wider }), 'a');
    // Crashed right after the links, before any rename: the current pair is intact and loads.
    await rm(dir, { recursive: true, force: true });
    await a.save(`file://${dir}`);
    await fsPromises.writeFile(join(dir, 'model.json'), JSON.stringify(json));
    assert.ok((await saveCrashingAt(b, dir, (change) => change.startsWith('rename .weights.bin'))).crashed);
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.prev')).sort(), ['model.json.prev', 'weights.bin.prev']);
    assert.equal(await loadsAs(dir, { a, b }), 'a');
  }));

test('the next save removes the temporary files of saves killed midway, and keeps those of saves still running', () =>
  withTempDir(async (dir) => {
    const [a, b] = models(2);
    await a.save(`file://${dir}`);
    // A pid that no longer runs: a child that has exited. One that runs: this test's parent.
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8', timeout: 30_000 }).stdout;
    assert.match(dead, /^\d+$/);
    const alive = String(process.ppid);
    const stale = [`.model.json.${dead}-0a1b2c3d.tmp`, `.weights.bin.${dead}-0a1b2c3d.tmp`];
    const kept = [`.model.json.${alive}-0a1b2c3d.tmp`, `.weights.bin.${alive}-0a1b2c3d.tmp`, `.other.json.${dead}-0a1b2c3d.tmp`, 'notes.tmp'];
    for (const name of [...stale, ...kept]) await fsPromises.writeFile(join(dir, name), 'partial');
    await b.save(`file://${dir}`);
    assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin', ...kept].sort());
    assert.equal(await loadsAs(dir, { a, b }), 'b');
  }));
