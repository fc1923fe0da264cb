/** The binary cache: round trip, and rebuilt (atomically) when missing, corrupt, truncated or stale. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('an unwritable cache folder still loads the data, and says the cache was not written', (t) => {
  const dir = tempDir(t);
  const blocker = join(dir, 'file');
  writeFileSync(blocker, 'not a folder');
  const result = loadOrBuildCache(join(blocker, 'set.keelds'), 1, small);
  assert.match(result.status, /^built \(not written: (ENOTDIR|EEXIST)\)/);
  assert.equal(result.set.count, 3);
});

test('fashionMnist(): 55,000 / 5,000 / 10,000, stratified, 2 malformed rows skipped, cached, deterministic', async (t) => {
  const cacheDir = tempDir(t);
  const first = await datasets.fashionMnist({ cacheDir });
  assert.match(first.info.cache, /^built/);
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

  const second = await datasets.fashionMnist({ cacheDir, scale: false, trainLimit: 1000 });
  assert.match(second.info.cache, /^hit/);
  assert.ok(second.info.seconds < 2, `cached load took ${second.info.seconds} s`);
  assert.deepEqual(second.train.ys.values, first.train.ys.values.subarray(0, 1000));
  // Raw pixels are integers 0-255; scaled ones are the same divided by 255.
  const raw = second.train.xs.values;
  assert.ok(raw.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
  assert.equal(Math.max(...raw.subarray(0, 784)), 255 * Math.max(...first.train.xs.values.subarray(0, 784)));
  // Pinned labels of the first training images (seed 42).
  assert.deepEqual([...second.train.ys.values.subarray(0, 10)], [3, 0, 5, 0, 0, 9, 3, 0, 8, 0]);
  await assert.rejects(datasets.fashionMnist({ cacheDir, trainLimit: 55001 }), /trainLimit 55001 is larger than the 55000 training images/);
  await assert.rejects(datasets.fashionMnist({ cacheDir, trainLimt: 5 } as never), /unknown option 'trainLimt'.*Did you mean 'trainLimit'/);

  // A damaged cache is rebuilt on the next load.
  const path = join(cacheDir, 'fashion-mnist.keelds');
  writeFileSync(path, readFileSync(path).subarray(0, 1000));
  const third = await datasets.fashionMnist({ cacheDir, trainLimit: 10 });
  assert.match(third.info.cache, /^rebuilt/);
  assert.ok(existsSync(path));
  assert.deepEqual(third.train.ys.values, first.train.ys.values.subarray(0, 10));
});
