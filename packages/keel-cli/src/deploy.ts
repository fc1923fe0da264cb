/**
 * Commands on saved models: `keel fold`, `keel evaluate`, `keel predict`. Uses only the public API.
 */
import { resolve } from 'node:path';
import * as keel from 'keel';
import * as datasets from 'keel-datasets';
import { confusionMatrix, formatConfusionMatrix } from './report.js';
import { writeOut } from './brokenPipe.js';
import { count } from './format.js';
import { makeFolders } from './files.js';

const log = (line = '') => writeOut(`${line}\n`);

/** A model path as given (`DIR/model.json`, `DIR`, or `file://...`) → a `file://` URL of model.json. */
export function modelUrl(path: string): string {
  if (path.startsWith('file://')) return path;
  const full = resolve(path);
  return `file://${full.endsWith('.json') ? full : `${full}/model.json`}`;
}

export interface DataOptions {
  dataset: 'fashion-mnist' | 'mnist';
  dataDir?: string;
  scale: boolean;
}

async function loadData(options: DataOptions) {
  const load = options.dataset === 'mnist' ? datasets.mnist : datasets.fashionMnist;
  const data = await load({ scale: options.scale, dataDir: options.dataDir });
  warnIfCacheNotWritten(data.info);
  return data;
}

/** A data cache that could not be written slows every load down: say why on stderr, and go on. */
export function warnIfCacheNotWritten(info: datasets.DatasetInfo): void {
  if (info.cacheNotWritten) process.stderr.write(`keel: warning: the data cache was not written: ${info.cacheNotWritten}. Going on without it.\n`);
}

/** `keel fold IN OUT`: fold every BN layer into its neighbouring Dense and save the result. */
export async function fold(input: string, output: string): Promise<void> {
  const model = await keel.loadLayersModel(modelUrl(input));
  const { model: folded, folded: done, notFolded } = keel.foldBatchNorm(model);
  for (const f of done) log(`folded ${f.layer} into ${f.into} (${f.direction === 'intoNext' ? 'the next layer' : 'the previous layer'})`);
  for (const n of notFolded) log(`kept ${n.layer}: ${n.reason}`);
  log(`${count(model.countParams())} parameters → ${count(folded.countParams())}; ${model.layers.length} layers → ${folded.layers.length}`);
  const dir = resolve(output);
  makeFolders('<out>', dir);
  await folded.save(`file://${dir}`);
  log(`Saved the folded model to ${dir}`);
}

/** `keel evaluate DIR/model.json`: test loss, accuracy and confusion matrix of a saved model. */
export async function evaluate(input: string, options: DataOptions): Promise<void> {
  const model = await keel.loadLayersModel(modelUrl(input));
  const data = await loadData(options);
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const [loss, accuracy] = (model.evaluate(data.test.xs, data.test.ys, { batchSize: 500 }) as keel.Tensor[]).map((t) => t.dataSync()[0]);
  log(`${data.name} test set, ${count(data.test.ys.size)} images: accuracy ${accuracy.toFixed(4)}, loss ${loss.toFixed(4)}`);
  log();
  const matrix = confusionMatrix(model.predict(data.test.xs, { batchSize: 500 }), data.test.ys, data.classNames.length);
  for (const line of formatConfusionMatrix(matrix, data.classNames)) log(line);
}

/** `keel predict DIR/model.json --index N`: one test image, drawn, with the model's probabilities. */
export async function predict(input: string, index: number, options: DataOptions): Promise<void> {
  const model = await keel.loadLayersModel(modelUrl(input));
  const data = await loadData(options);
  const n = data.test.ys.size;
  if (index >= n) throw new keel.ValueError(`--index ${index} is outside the test set of ${count(n)} images; use 0 to ${count(n - 1)}.`);
  const [rows, cols] = data.test.xs.shape.slice(1);
  const pixels = data.test.xs.dataSync().subarray(index * rows * cols, (index + 1) * rows * cols);
  const probabilities = model.predict(keel.tensor(pixels, [1, rows, cols])).dataSync();
  const label = data.test.ys.dataSync()[index];
  let best = 0;
  probabilities.forEach((p, c) => (p > probabilities[best] ? (best = c) : 0));
  for (const line of drawImage(pixels, rows, cols, options.scale ? 1 : 255)) log(line);
  log();
  log(`test image ${index}: predicted ${best} ${data.classNames[best]} (${(probabilities[best] * 100).toFixed(1)}%), true class ${label} ${data.classNames[label]}${best === label ? '' : ' — wrong'}`);
  const width = Math.max(...data.classNames.map((s, i) => `${i} ${s}`.length));
  probabilities.forEach((p, c) => {
    log(`  ${`${c} ${data.classNames[c]}`.padEnd(width)} ${(p * 100).toFixed(1).padStart(5)}% ${'█'.repeat(Math.round(p * 30))}`);
  });
}

/** Grey levels as characters, two per pixel so that the image keeps its aspect ratio. */
export function drawImage(values: ArrayLike<number>, rows: number, cols: number, max: number): string[] {
  const shades = ' .:-=+*#%@';
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let c = 0; c < cols; c++) {
      const v = Math.min(1, Math.max(0, values[r * cols + c] / max));
      const ch = shades[Math.min(shades.length - 1, Math.floor(v * shades.length))];
      line += ch + ch;
    }
    lines.push(line.trimEnd());
  }
  return lines;
}
