/**
 * Builds the lab page into dist/site/: the page and its training Worker bundled by esbuild (Keel
 * from its sources, through the keel-source condition), the HTML, CSS and uPlot's stylesheet, and
 * data/: the Fashion-MNIST subset as gzipped IDX files, made from keel-datasets.
 *
 * The data take a few seconds (keel-datasets reads and splits all 70,000 images), so they are
 * written only when data/manifest.json is missing or was made by another version of this script.
 * Every file is written to a temporary name and renamed, so an interrupted build leaves no half file.
 *
 *   node build.mjs            # what `npm run build -w keel-lab` runs after tsc
 */
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

const here = import.meta.dirname;
const site = join(here, 'dist', 'site');
const require = createRequire(import.meta.url);

/** The subset: the first images of keel-datasets' stratified train and test parts. */
export const DATA = { version: 1, train: 12_000, test: 2_000 };

function writeAtomically(path, bytes) {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes);
  renameSync(temporary, path);
}

/** An IDX file of unsigned bytes (magic 0x0000 08 rank, then each dimension as big-endian uint32). */
function idx(shape, values) {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header.writeUInt32BE(0x0800 + shape.length, 0);
  shape.forEach((n, i) => header.writeUInt32BE(n, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(values.buffer, values.byteOffset, values.byteLength)]);
}

async function bundles() {
  // Keel reaches its Node-only modules through import() behind a check that it runs on Node:
  // splitting puts them in chunks of their own, which a browser never loads, and node:* stays
  // external there. Both bundles are ES modules (the Worker is a module worker).
  await build({
    entryPoints: { lab: join(here, 'src', 'page', 'main.ts'), worker: join(here, 'src', 'worker', 'worker.ts') },
    outdir: site, chunkNames: 'chunks/[name]-[hash]', bundle: true, splitting: true, format: 'esm', target: 'es2022',
    platform: 'browser', conditions: ['keel-source'], external: ['node:*'],
    sourcemap: true, minify: true, logLevel: 'warning', legalComments: 'none',
  });
}

function staticFiles() {
  for (const name of ['index.html', 'lab.css']) copyFileSync(join(here, 'src', 'site', name), join(site, name));
  copyFileSync(join(dirname(require.resolve('uplot')), 'uPlot.min.css'), join(site, 'uPlot.min.css'));
}

async function data() {
  const manifestPath = join(site, 'data', 'manifest.json');
  if (existsSync(manifestPath)) {
    try {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      if (manifest.version === DATA.version) return false;
    } catch {
      // A damaged manifest: make the data again.
    }
  }
  const { fashionMnist, FASHION_MNIST_CLASS_NAMES } = await import('keel-datasets');
  const set = await fashionMnist({ scale: false });
  const part = (name, tensors, count) => {
    const pixels = Uint8Array.from(tensors.xs.dataSync().subarray(0, count * 784));
    const labels = Uint8Array.from(tensors.ys.dataSync().subarray(0, count));
    const images = `${name}-images-idx3-ubyte.gz`;
    const labelFile = `${name}-labels-idx1-ubyte.gz`;
    writeAtomically(join(site, 'data', images), gzipSync(idx([count, 28, 28], pixels), { level: 6 }));
    writeAtomically(join(site, 'data', labelFile), gzipSync(idx([count], labels), { level: 6 }));
    return { images, labels: labelFile, count };
  };
  const manifest = {
    version: DATA.version,
    name: 'Fashion-MNIST subset',
    source: `keel-datasets fashionMnist(): the first ${DATA.train} of its training part and the first ${DATA.test} of its test part (${set.info.split})`,
    classNames: [...FASHION_MNIST_CLASS_NAMES],
    train: part('train', set.train, DATA.train),
    test: part('test', set.test, DATA.test),
  };
  writeAtomically(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return true;
}

const started = Date.now();
mkdirSync(site, { recursive: true });
await bundles();
staticFiles();
const made = await data();
console.log(`keel-lab: built dist/site/ in ${((Date.now() - started) / 1000).toFixed(1)} s${made ? ' (with the Fashion-MNIST subset)' : ''}`);
