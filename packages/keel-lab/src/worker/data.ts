/**
 * The lab's Fashion-MNIST subset, fetched from the page's own origin (`data/` beside the bundle,
 * written at build time from keel-datasets): gzipped IDX files, gunzipped here with the
 * browser's DecompressionStream and parsed with keel.data.parseIdx.
 */
import * as keel from 'keel';

/** data/manifest.json, as the build writes it. */
export interface DataManifest {
  name: string;
  source: string;
  classNames: string[];
  train: { images: string; labels: string; count: number };
  test: { images: string; labels: string; count: number };
}

export interface ImageSet {
  count: number;
  /** count × 784 bytes, 0-255. */
  images: Uint8Array;
  labels: Uint8Array;
}

export interface LabData {
  classNames: string[];
  train: ImageSet;
  test: ImageSet;
  /** The test images as tensors in [0, 1], for validation and the buttons' figures. */
  validation: { x: keel.Tensor; y: keel.Tensor };
  /** The training images as a tensor in [0, 1], for the population statistics. */
  trainX: () => keel.Tensor;
}

async function bytesOf(url: URL): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${url.pathname}: HTTP ${response.status}. Was the lab built (npm run build -w keel-lab)?`);
  const raw = new Uint8Array(await response.arrayBuffer());
  // A server may have gunzipped it already (Content-Encoding: gzip); gzip data start with 1f 8b.
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function imageSet(base: URL, part: DataManifest['train']): Promise<ImageSet> {
  const [images, labels] = await Promise.all([bytesOf(new URL(part.images, base)), bytesOf(new URL(part.labels, base))]);
  const x = keel.data.parseIdx(images, part.images, 3);
  const y = keel.data.parseIdx(labels, part.labels, 1);
  if (x.shape[0] !== y.shape[0] || x.shape[1] !== 28 || x.shape[2] !== 28) {
    throw new Error(`${part.images}: expected [n, 28, 28] images and n labels, received ${JSON.stringify(x.shape)} and ${JSON.stringify(y.shape)}.`);
  }
  return { count: x.shape[0], images: x.data, labels: y.data };
}

function scaled(set: ImageSet): keel.Tensor {
  return keel.tensor(Float32Array.from(set.images, (v) => v / 255), [set.count, 28, 28]);
}

export async function loadData(): Promise<LabData> {
  const base = new URL('data/', globalThis.location.href);
  const response = await fetch(new URL('manifest.json', base));
  if (!response.ok) throw new Error(`could not load data/manifest.json: HTTP ${response.status}. Was the lab built (npm run build -w keel-lab)?`);
  const manifest = (await response.json()) as DataManifest;
  const [train, test] = await Promise.all([imageSet(base, manifest.train), imageSet(base, manifest.test)]);
  const validation = { x: scaled(test), y: keel.tensor(Float32Array.from(test.labels), [test.count]) };
  let trainX: keel.Tensor | null = null;
  return { classNames: manifest.classNames, train, test, validation, trainX: () => (trainX ??= scaled(train)) };
}
