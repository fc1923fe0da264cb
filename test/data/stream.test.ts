/**
 * keel.data's datasets: IDX files streamed (plain, gzipped, in chunks of any size, every way a file
 * can be wrong), and the steps shuffle (seeded, bounded), batch, map, take and repeat.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as keel from 'keel';

const { encodeIdx, parseIdx } = keel.data;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-stream-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** n images of 3×5 whose pixel p of image i is (i·11 + p) mod 256, labels i mod 10. */
function fake(n: number): { images: Uint8Array; labels: Uint8Array } {
  return {
    images: Uint8Array.from({ length: n * 15 }, (_, k) => (Math.floor(k / 15) * 11 + (k % 15)) % 256),
    labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
  };
}

/** The bytes handed out in chunks of `size` bytes, as a function source. */
const inChunks = (bytes: Uint8Array, size: number) => async function* () {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
};

test('idx streams the examples of plain and gzipped files, whatever the chunk size, as parseIdx reads them', async (t) => {
  const dir = tempDir(t);
  const n = 700; // 10,500 image bytes: several chunks of 1,024
  const { images, labels } = fake(n);
  const imageBytes = encodeIdx([n, 3, 5], images);
  const labelBytes = encodeIdx([n], labels);
  writeFileSync(join(dir, 'images'), imageBytes);
  writeFileSync(join(dir, 'labels.gz'), gzipSync(labelBytes));
  writeFileSync(join(dir, 'images.gz'), gzipSync(imageBytes));
  const whole = parseIdx(imageBytes, 'images', 3).data;
  const sources: [string, keel.data.IdxDatasetArgs][] = [
    ['plain and gzipped files', { images: join(dir, 'images'), labels: join(dir, 'labels.gz'), chunkBytes: 1024, scale: false }],
    ['both gzipped', { images: join(dir, 'images.gz'), labels: join(dir, 'labels.gz'), scale: false }],
    ['1-byte chunks (header split too)', { images: inChunks(imageBytes, 1), labels: inChunks(labelBytes, 1), scale: false }],
    ['chunks of 7 bytes', { images: inChunks(imageBytes, 7), labels: inChunks(labelBytes, 3), scale: false }],
    ['a ReadableStream', { images: () => new Blob([imageBytes as Uint8Array<ArrayBuffer>]).stream(), labels: () => new Blob([labelBytes as Uint8Array<ArrayBuffer>]).stream(), scale: false }],
  ];
  for (const [name, args] of sources) {
    const ds = keel.data.idx(args);
    assert.equal(ds.size, null, name);
    const examples = await ds.toArray();
    assert.equal(ds.size, n, name);
    assert.equal(examples.length, n, name);
    assert.deepEqual(examples[3].xs.shape, [3, 5], name);
    const pixels = new Uint8Array(n * 15);
    examples.forEach((e, i) => pixels.set(e.xs.dataSync(), i * 15));
    assert.deepEqual(pixels, whole, name);
    assert.deepEqual(examples.map((e) => e.ys), Array.from(labels), name);
  }
  // Scaled by default, with keel-datasets' arithmetic (x · (1/255)), and a second pass reads again.
  const scaled = keel.data.idx({ images: join(dir, 'images.gz'), labels: join(dir, 'labels.gz') });
  for (let pass = 0; pass < 2; pass++) {
    const first = (await scaled.take(2).toArray())[1].xs.dataSync();
    assert.deepEqual(first, Float32Array.from(images.subarray(15, 30), (v) => v * (1 / 255)));
  }
});

test('idx examples go through shuffle and batch as columns with the values and order the element path gives', async (t) => {
  const dir = tempDir(t);
  const n = 1001; // 3 reads of 334 examples of 3×5 (at 5 KiB per read) and change
  const { images, labels } = fake(n);
  writeFileSync(join(dir, 'images'), encodeIdx([n, 3, 5], images));
  writeFileSync(join(dir, 'labels'), encodeIdx([n], labels));
  const source = () => keel.data.idx({ images: join(dir, 'images'), labels: join(dir, 'labels'), chunkBytes: 5010 });
  const asArrays = async (ds: keel.data.Dataset<{ xs: keel.Tensor; ys: keel.Tensor }>) =>
    (await ds.toArray()).map((b) => [b.xs.shape, Array.from(b.xs.dataSync()), Array.from(b.ys.dataSync())]);
  const pipelines: [string, (d: keel.data.Dataset<keel.data.IdxExample>) => keel.data.Dataset<{ xs: keel.Tensor; ys: keel.Tensor }>][] = [
    ['batch(32)', (d) => d.batch(32)],
    ['batch(40): the last of 1 joins the one before', (d) => d.batch(40)],
    ['batch(7, false)', (d) => d.batch(7, false)],
    ['shuffle(100).batch(16)', (d) => d.shuffle(100, 3).batch(16)],
    ['shuffle(5000) (a buffer that grows, then drains).batch(64)', (d) => d.shuffle(5000, 4).batch(64)],
    ['take(500).shuffle(50).batch(10)', (d) => d.take(500).shuffle(50, 5).batch(10)],
    ['repeat(2).shuffle(300).batch(100)', (d) => d.repeat(2).shuffle(300, 6).batch(100)],
  ];
  for (const [name, pipeline] of pipelines) {
    const columns = await asArrays(pipeline(source()));
    const elements = await asArrays(pipeline(source().map((e) => e)));
    assert.ok(columns.length > 0, name);
    assert.deepEqual(columns, elements, name);
  }
  // Iterated or mapped, a block gives the elements the file holds.
  const first = (await source().shuffle(10, 1).take(3).toArray())[0];
  assert.deepEqual(first.xs.shape, [3, 5]);
  assert.equal(typeof first.ys, 'number');
});

test('idx refuses missing, truncated, too long, mismatched, swapped and gzipped-in-the-browser inputs, saying why', async (t) => {
  const dir = tempDir(t);
  const { images, labels } = fake(20);
  const imageBytes = encodeIdx([20, 3, 5], images);
  const labelBytes = encodeIdx([20], labels);
  const write = (name: string, bytes: Uint8Array) => { writeFileSync(join(dir, name), bytes); return join(dir, name); };
  const img = write('img', imageBytes);
  const lab = write('lab', labelBytes);
  const read = (args: keel.data.IdxDatasetArgs) => keel.data.idx(args).toArray();
  const cases: [string, keel.data.IdxDatasetArgs, RegExp][] = [
    ['missing file', { images: join(dir, 'nope'), labels: lab }, /nope: cannot read the file \(ENOENT\); check the path/],
    ['a folder', { images: dir, labels: lab }, /cannot read the file \(EISDIR\)/],
    ['truncated images', { images: write('short', imageBytes.subarray(0, imageBytes.length - 20)), labels: lab },
      /short: truncated: the header declares shape \[20,3,5\] \(20 records of 15 bytes\), the file ends after 18 and 10 bytes/],
    ['bytes past the end', { images: write('long', Uint8Array.from([...imageBytes, 1, 2, 3])), labels: lab }, /long: wrong size: .*more bytes after its 20 records/],
    ['labels past the end', { images: img, labels: write('longlab', Uint8Array.from([...labelBytes, 9])) }, /longlab: wrong size/],
    ['count mismatch', { images: img, labels: write('lab19', encodeIdx([19], labels.subarray(0, 19))) }, /img holds 20 images but .*lab19 holds 19 labels; they must match/],
    ['swapped', { images: lab, labels: img }, /magic number 0x00000803 declares 3 dimension\(s\); expected 0x00000801 \(labels, 1 dimension\)\. Are the images and labels files swapped\?/],
    ['not IDX', { images: write('text', new TextEncoder().encode('hello world, not idx')), labels: lab }, /text: bad magic number 0x68656c6c/],
    ['corrupt gzip', { images: write('bad.gz', gzipSync(imageBytes).subarray(0, 60)), labels: lab }, /bad\.gz: corrupt or truncated gzip file/],
    ['gzip bytes from a function', { images: inChunks(gzipSync(imageBytes), 100), labels: lab }, /gzip-compressed; decompress them first .*DecompressionStream/],
    ['chunks that are no bytes', { images: async function* () { yield 'abc' as unknown as Uint8Array; }, labels: lab }, /expected Uint8Array chunks/],
  ];
  for (const [name, args, message] of cases) {
    await assert.rejects(read(args), (e: Error) => {
      assert.equal(e.name, 'DataError', `${name}: ${e.message}`);
      assert.match(e.message, message, name);
      return true;
    }, name);
  }
  assert.throws(() => keel.data.idx({ images: img } as keel.data.IdxDatasetArgs), /expected labels to be a file path or a function/);
  assert.throws(() => keel.data.idx({ images: img, labels: lab, scaled: true } as keel.data.IdxDatasetArgs), /unknown option 'scaled'/);
});

test('shuffle is seeded per pass, a permutation, and keeps no element further back than its buffer', async () => {
  const items = Array.from({ length: 500 }, (_, i) => i);
  const ds = keel.data.array(items).shuffle(50, 7);
  const [a, b] = [await ds.toArray(), await ds.toArray()];
  assert.deepEqual([...a].sort((p, q) => p - q), items);
  assert.notDeepEqual(a, b); // a new order each pass
  assert.notDeepEqual(a, items);
  assert.deepEqual(await keel.data.array(items).shuffle(50, 7).toArray(), a); // same seed, same first pass
  // Element i is read after i others; with 50 in the buffer it goes out at position >= i - 50.
  a.forEach((v, position) => assert.ok(position >= v - 50, `${v} at ${position}`));
  // A buffer as large as the data: any element may come first.
  const firsts = new Set<number>();
  const full = keel.data.array(items.slice(0, 10)).shuffle(10, 1);
  for (let pass = 0; pass < 60; pass++) firsts.add((await full.toArray())[0]);
  assert.equal(firsts.size, 10);
  keel.setRandomSeed(3);
  const unseeded = await keel.data.array(items).shuffle(100).toArray();
  keel.setRandomSeed(3);
  assert.deepEqual(await keel.data.array(items).shuffle(100).toArray(), unseeded); // the global generator's seed
  assert.throws(() => keel.data.array(items).shuffle(0), /shuffle: expected bufferSize to be a positive integer, received 0/);
});

test('batch stacks elements, merges a last single example into the batch before, and refuses mixed shapes', async () => {
  const elements = (n: number) => Array.from({ length: n }, (_, i) => ({ xs: keel.tensor([i, -i], [2, 1]), ys: i, w: [i, 2 * i] }));
  const sizes = async (n: number, size: number, small = true) => {
    const ds = keel.data.array(elements(n)).batch(size, small);
    const got = (await ds.toArray()).map((b) => b.xs.shape[0]);
    assert.equal(ds.size, got.length, `size of ${n} by ${size}`);
    return got;
  };
  assert.deepEqual(await sizes(10, 4), [4, 4, 2]);
  assert.deepEqual(await sizes(9, 4), [4, 5]); // fit's batchBounds(9, 4)
  assert.deepEqual(await sizes(9, 4, false), [4, 4]);
  assert.deepEqual(await sizes(8, 4), [4, 4]);
  assert.deepEqual(await sizes(1, 4), [1]);
  assert.deepEqual(await sizes(3, 4, false), []);
  assert.deepEqual(await sizes(600, 32), [...Array(18).fill(32), 24]); // 600 spans chunks of 256
  assert.deepEqual(await sizes(577, 32), [...Array(17).fill(32), 33]);
  const [first] = await keel.data.array(elements(5)).batch(3).toArray();
  assert.deepEqual(first.xs.shape, [3, 2, 1]);
  assert.deepEqual(Array.from(first.xs.dataSync()), [0, -0, 1, -1, 2, -2]);
  assert.deepEqual(Array.from(first.ys.dataSync()), [0, 1, 2]);
  assert.deepEqual(first.w.shape, [3, 2]);
  const mixed = [{ xs: keel.zeros([28, 28]), ys: 1 }, { xs: keel.zeros([28, 27]), ys: 2 }];
  await assert.rejects(keel.data.array(mixed).batch(2).toArray(), {
    name: 'ShapeError', message: /batch: xs of element 1 of the batch is of shape \[28,27\], but that of the first is of shape \[28,28\]; every element of a batch needs the same shape/,
  });
  await assert.rejects(keel.data.array([{ xs: 'a' }]).batch(1).toArray(), { name: 'ValueError', message: /batch: cannot stack xs, 'a'/ });
  await assert.rejects(keel.data.array([{ xs: 1, ys: 2 }, { xs: 1 }]).batch(2).toArray(), { message: /elements differ in structure: one has no 'ys'/ });
});

test('map, take, repeat and fromTensorSlices; take closes its source; an empty dataset repeated forever ends', async () => {
  const xs = keel.tensor([[1, 2], [3, 4], [5, 6]]);
  const ys = keel.tensor([0, 1, 0]);
  const slices = keel.data.fromTensorSlices({ xs, ys });
  assert.equal(slices.size, 3);
  const rows = await slices.map(({ xs: x, ys: y }) => ({ xs: keel.tensor(Array.from((x as keel.Tensor).dataSync(), (v) => v * 10), [2]), ys: y })).toArray();
  assert.deepEqual(rows.map((r) => [Array.from(r.xs.dataSync()), r.ys]), [[[10, 20], 0], [[30, 40], 1], [[50, 60], 0]]);
  const repeated = slices.repeat(3);
  assert.equal(repeated.size, 9);
  assert.deepEqual((await repeated.toArray()).map((r) => r.ys), [0, 1, 0, 0, 1, 0, 0, 1, 0]);
  assert.equal(slices.repeat().take(7).size, 7);
  assert.equal((await slices.repeat().take(7).toArray()).length, 7);
  assert.deepEqual(await keel.data.array([]).repeat().take(5).toArray(), []);
  await assert.rejects(slices.repeat().toArray(), /toArray: the dataset is infinite/);
  let closed = false;
  const source = keel.data.generator(async function* () {
    try { for (let i = 0; ; i++) yield i; } finally { closed = true; }
  });
  assert.deepEqual(await source.take(4).toArray(), [0, 1, 2, 3]);
  assert.ok(closed);
  await assert.rejects(keel.data.array([1]).map(async (v) => v).toArray(), /map: the function returned a Promise/);
  assert.throws(() => keel.data.fromTensorSlices({ xs, ys: keel.tensor([1, 2]) }), /xs holds 3 rows but ys holds 2/);
  assert.throws(() => keel.data.array(3 as unknown as number[]), /array: expected an array of elements, received 3/);
});
