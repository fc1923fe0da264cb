/**
 * Memory while streaming a data set larger than memory should matter: the real Fashion-MNIST images
 * (all 70,000, from the `fashion-mnist` package through keel-datasets) repeated into an IDX file of
 * `--mb` megabytes (default 1,100: 1,470,000 images) in a temporary folder, then the seed model
 * trained on it with `fitDataset` over `keel.data.idx(...).shuffle(...).batch(...)`, one pass (or
 * `--batches` batches), while `process.memoryUsage()` is sampled.
 *
 *   node --conditions=keel-source --import tsx scripts/stream-memory.ts [--mb 1100] [--batches N]
 *     [--batch-size 32] [--shuffle 1000] [--gzip] [--model seed|tiny] [--json]
 *
 * The training runs in a child process started with --expose-gc, so that each sample follows a
 * full collection and measures live memory (rss, heapUsed, external, arrayBuffers), not garbage
 * awaiting collection; the parent, which builds the file, holds the data set and is not measured.
 * Prints start (the model compiled and warmed up by one step, nothing read), after the first tenth
 * of the batches, peak and end of each figure, and the peak's growth over the start and over that
 * tenth: live memory (heapUsed, arrayBuffers) grows by the chunks in flight and the shuffle buffer
 * and then stays flat; rss also grows once, by the V8 young generation's growth and the memory
 * the allocator keeps, and then stays flat too. `--model tiny` (Flatten → Dense(10)) keeps the pass short, for npm test
 * (test/data/streamMemory.test.ts).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { finished } from 'node:stream/promises';
import * as keel from 'keel';

const MB = 2 ** 20;
const FIELDS = ['rss', 'heapUsed', 'external', 'arrayBuffers'] as const;
type Sample = Record<(typeof FIELDS)[number], number>;

export interface StreamMemoryResult {
  images: number;
  fileBytes: number;
  gzip: boolean;
  batches: number;
  seconds: number;
  samplesPerSecond: number;
  samples: number;
  start: Sample;
  /** After the first tenth of the batches: the buffers filled, the heap grown to its working size. */
  warm: Sample;
  peak: Sample;
  end: Sample;
}

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '1100' },
    batches: { type: 'string' },
    'batch-size': { type: 'string', default: '32' },
    shuffle: { type: 'string', default: '1000' },
    gzip: { type: 'boolean', default: false },
    model: { type: 'string', default: 'seed' },
    json: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
    images: { type: 'string' },
    labels: { type: 'string' },
    count: { type: 'string' },
  },
});

if (values.child) {
  console.log(JSON.stringify(await measure()));
} else {
  await main();
}

async function main(): Promise<void> {
  const mb = Number(values.mb);
  if (!(mb > 0)) throw new Error('--mb must be a positive number of megabytes');
  const log = (s: string) => { if (!values.json) console.log(s); };
  const dir = mkdtempSync(join(tmpdir(), 'keel-stream-memory-'));
  try {
    const { images, labels, count } = await writeFiles(dir, mb * MB, values.gzip);
    log(`${count.toLocaleString('en')} Fashion-MNIST images (${(statSync(images).size / MB).toFixed(0)} MB on disk${values.gzip ? ', gzipped' : ''}) in ${dir}`);
    const args = [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), '--child', '--images', images, '--labels', labels,
      '--count', String(count), '--batch-size', values['batch-size']!, '--shuffle', values.shuffle!, '--model', values.model!, ...(values.batches ? ['--batches', values.batches] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code: number = await new Promise((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`the measuring process exited with code ${code}`);
    const result: StreamMemoryResult = { ...JSON.parse(out.trim().split('\n').pop()!), fileBytes: statSync(images).size, gzip: values.gzip };
    if (values.json) {
      console.log(JSON.stringify(result));
      return;
    }
    log(`trained the ${values.model} model on ${result.batches.toLocaleString('en')} batches (${result.images.toLocaleString('en')} images) in ` +
      `${result.seconds.toFixed(1)} s (${Math.round(result.samplesPerSecond)} samples/s); ${result.samples} samples after a full GC each`);
    log('             start  after 10%      peak       end  peak - start  peak - 10%');
    for (const f of FIELDS) {
      const cell = (v: number, width = 10) => `${(v / MB).toFixed(1)} MB`.padStart(width);
      log(`${f.padEnd(12)}${cell(result.start[f])}${cell(result.warm[f], 11)}${cell(result.peak[f])}${cell(result.end[f])}` +
        `${cell(result.peak[f] - result.start[f], 14)}${cell(result.peak[f] - result.warm[f], 12)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes images and labels IDX files of at least `bytes` bytes of pixels: Fashion-MNIST's 70,000 images over and over. */
async function writeFiles(dir: string, bytes: number, gzip: boolean): Promise<{ images: string; labels: string; count: number }> {
  const { fashionMnist } = await import('keel-datasets');
  const set = await fashionMnist({ scale: false });
  const parts = [set.train, set.validation, set.test];
  const pixels = new Uint8Array(parts.reduce((n, p) => n + p.xs.size, 0));
  const classes = new Uint8Array(parts.reduce((n, p) => n + p.ys.size, 0));
  let [pi, ci] = [0, 0];
  for (const p of parts) {
    pixels.set(p.xs.dataSync(), pi);
    classes.set(p.ys.dataSync(), ci);
    pi += p.xs.size;
    ci += p.ys.size;
  }
  const perCopy = classes.length;
  const copies = Math.max(1, Math.ceil(bytes / pixels.length));
  const count = perCopy * copies;
  const header = (shape: number[]) => keel.data.encodeIdx(shape, new Uint8Array(0));
  const images = join(dir, gzip ? 'images-idx3-ubyte.gz' : 'images-idx3-ubyte');
  const labels = join(dir, 'labels-idx1-ubyte');
  if (gzip) {
    const zip = createGzip({ level: 1 });
    const done = finished(zip.pipe(createWriteStream(images)));
    const write = (b: Uint8Array) => new Promise<void>((resolve) => (zip.write(b) ? resolve() : zip.once('drain', resolve)));
    await write(header([count, 28, 28]));
    for (let c = 0; c < copies; c++) await write(pixels);
    zip.end();
    await done;
  } else {
    const fd = openSync(images, 'w');
    writeSync(fd, header([count, 28, 28]));
    for (let c = 0; c < copies; c++) writeSync(fd, pixels);
    closeSync(fd);
  }
  const fd = openSync(labels, 'w');
  writeSync(fd, header([count]));
  for (let c = 0; c < copies; c++) writeSync(fd, classes);
  closeSync(fd);
  return { images, labels, count };
}

/** The child: trains on the files and samples memory after a full collection. */
async function measure(): Promise<Omit<StreamMemoryResult, 'fileBytes' | 'gzip'>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the measuring process with --expose-gc');
  const batchSize = Number(values['batch-size']);
  const limit = values.batches === undefined ? undefined : Number(values.batches);
  const model = values.model === 'tiny'
    ? keel.sequential({ layers: [keel.layers.flatten({ inputShape: [28, 28] }), keel.layers.dense({ units: 10, activation: 'softmax' })] })
    : keel.zoo.buildModel(values.model!);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const dataset = keel.data.idx({ images: values.images!, labels: values.labels! }).shuffle(Number(values.shuffle), 1).batch(batchSize);
  const sample = (): Sample => {
    // Twice: array buffers freed by a collection leave the figures only once the next one starts.
    gc();
    gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
  };
  // The model's own memory first (its buffers, the backend's worker threads, compiled code), so
  // that what grows from the start is the data's.
  await model.trainOnBatch(keel.zeros([batchSize, 28, 28]), keel.zeros([batchSize]));
  const start = sample();
  const peak = { ...start };
  let samples = 0;
  let batches = 0;
  let images = 0;
  let warm: Sample | undefined;
  const record = () => {
    const s = sample();
    samples++;
    if (warm === undefined && samples > 10) warm = s;
    for (const f of FIELDS) peak[f] = Math.max(peak[f], s[f]);
  };
  // About 100 samples over the run, wherever it is.
  const every = Math.max(1, Math.round((limit ?? Number(values.count) / batchSize) / 100));
  const began = performance.now();
  await model.fitDataset(dataset, {
    epochs: 1, verbose: 0, ...(limit ? { batchesPerEpoch: limit } : {}),
    callbacks: { onBatchEnd: (b, logs) => { batches = b + 1; images += logs!.size; if (b % every === 0) record(); } },
  });
  const seconds = (performance.now() - began) / 1000;
  record();
  const end = sample();
  return { images, batches, seconds, samplesPerSecond: images / seconds, samples, start, warm: warm ?? end, peak, end };
}
