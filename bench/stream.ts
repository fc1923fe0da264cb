/**
 * Streaming throughput: the seed model trained with `fit` on tensors in memory against `fitDataset`
 * over `keel.data.idx(...)` streaming the same images from an IDX file on disk (plain, and gzipped),
 * samples/s, medians of repetitions taken in turn, and the ratio stream / memory in the same run.
 *
 *   node --conditions=keel-source --import tsx bench/stream.ts [--images 20000] [--reps 5] [--shuffle 10000]
 *     [--batch-size 32] [--no-gzip]
 *
 * Wrap it in `flock /tmp/keel-cpu.lock` on a shared machine. The data: the first `--images` of
 * Fashion-MNIST's training set (keel-datasets), scaled to [0, 1] both ways (the stream with
 * `scale: true`, the same arithmetic). Both shuffle every epoch: fit its whole order, the stream
 * in a buffer of `--shuffle` examples. Each repetition is one epoch on a model of its own, after
 * one epoch of warm-up; the file is in the page cache after the first pass (as a data set that is
 * read every epoch would be), so what is measured is Keel's reading, parsing and batching, not the disk.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as keel from 'keel';
import { fashionMnist } from 'keel-datasets';
import { median } from './common.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '20000' },
    reps: { type: 'string', default: '5' },
    shuffle: { type: 'string', default: '10000' },
    'batch-size': { type: 'string', default: '32' },
    'no-gzip': { type: 'boolean', default: false },
  },
});
const n = Number(values.images);
const reps = Number(values.reps);
const bufferSize = Number(values.shuffle);
const batchSize = Number(values['batch-size']);

const set = await fashionMnist({ scale: false, trainLimit: n });
const raw = set.train;
const pixels = Uint8Array.from(raw.xs.dataSync());
const labels = Uint8Array.from(raw.ys.dataSync());
const xs = keel.tensor(Float32Array.from(pixels, (v) => v * (1 / 255)), [n, 28, 28]);
const ys = raw.ys;

const dir = mkdtempSync(join(tmpdir(), 'keel-bench-stream-'));
const files = {
  images: join(dir, 'images-idx3-ubyte'), labels: join(dir, 'labels-idx1-ubyte'), gzipped: join(dir, 'images-idx3-ubyte.gz'),
};
writeFileSync(files.images, keel.data.encodeIdx([n, 28, 28], pixels));
writeFileSync(files.labels, keel.data.encodeIdx([n], labels));
if (!values['no-gzip']) writeFileSync(files.gzipped, gzipSync(keel.data.encodeIdx([n, 28, 28], pixels)));

function model(): keel.Sequential {
  keel.setRandomSeed(1);
  const m = keel.zoo.buildModel('seed');
  m.compile({ optimizer: keel.optimizers.sgd({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

type Mode = 'fit on tensors' | 'fitDataset, IDX file' | 'fitDataset, gzipped IDX file';
const modes: Mode[] = ['fit on tensors', 'fitDataset, IDX file', ...(values['no-gzip'] ? [] : ['fitDataset, gzipped IDX file' as const])];
const run: Record<Mode, (m: keel.Sequential) => Promise<unknown>> = {
  'fit on tensors': (m) => m.fit(xs, ys, { batchSize, epochs: 1, verbose: 0, seed: 2 }),
  'fitDataset, IDX file': (m) => m.fitDataset(keel.data.idx({ images: files.images, labels: files.labels }).shuffle(bufferSize, 2).batch(batchSize), { verbose: 0 }),
  'fitDataset, gzipped IDX file': (m) =>
    m.fitDataset(keel.data.idx({ images: files.gzipped, labels: files.labels }).shuffle(bufferSize, 2).batch(batchSize), { verbose: 0 }),
};

const times: Record<string, number[]> = Object.fromEntries(modes.map((mode) => [mode, []]));
const models = Object.fromEntries(modes.map((mode) => [mode, model()])) as Record<Mode, keel.Sequential>;
for (const mode of modes) await run[mode](models[mode]); // warm-up: compiled code, buffers, threads, page cache
for (let r = 0; r < reps; r++) {
  for (const mode of modes) {
    const began = performance.now();
    await run[mode](models[mode]);
    times[mode].push((performance.now() - began) / 1000);
  }
  process.stderr.write(`repetition ${r + 1}/${reps}\n`);
}
rmSync(dir, { recursive: true, force: true });

const rate = (mode: Mode) => n / median(times[mode]);
console.log(`seed model, ${n.toLocaleString('en')} Fashion-MNIST images, batch ${batchSize}, shuffle buffer ${bufferSize}, ` +
  `backend ${keel.getBackend()}, median of ${reps} epochs each (taken in turn)`);
console.log('| source | samples/s (median) | per-rep samples/s | vs fit on tensors |');
console.log('| --- | --- | --- | --- |');
for (const mode of modes) {
  const each = times[mode].map((s) => Math.round(n / s)).join(', ');
  console.log(`| ${mode} | ${Math.round(rate(mode)).toLocaleString('en')} | ${each} | ${(rate(mode) / rate('fit on tensors')).toFixed(3)} |`);
}
