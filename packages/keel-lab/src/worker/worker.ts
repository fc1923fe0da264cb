/**
 * The lab's training Worker: loads the Fashion-MNIST subset from the page's own origin, trains the
 * two runs on the same batches in turn, and posts what the charts need a few times a second. The
 * page only draws, so it stays responsive however long a step takes.
 *
 * Keel's kernels split across a Web Worker of their own when the page is cross-origin isolated
 * (the Worker inherits the page's isolation); elsewhere they run here, on one thread.
 */
import * as keel from 'keel';
import { DEFAULT_OPSET, toOnnx } from 'keel-onnx';
import type { FromWorker, RunId, ToWorker } from '../messages.js';
import type { LabState } from '../state.js';
import { loadData, type LabData } from './data.js';
import { LabRun } from './run.js';
import { foldReport, modelFiles, populationReport, type ToolData } from './tools.js';

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  crossOriginIsolated?: boolean;
}
const scope = globalThis as unknown as WorkerScope;
const post = (message: FromWorker, transfer: Transferable[] = []) => scope.postMessage(message, transfer);

/**
 * Validation images of the cnn's curves: its forward pass takes about 8 ms an image on the wasm
 * backend (measured on 2 cores), so 2,000 images for two runs would stall the curves for ~30 s.
 */
const CNN_VALIDATION = 200;
/** The cnn's buttons: population statistics over 1,000 training images, figures on 500 test images (a few seconds each). */
const CNN_POPULATION = 1_000;
const CNN_TOOLS_VALIDATION = 500;
/** Epochs after which training stops by itself. */
const MAX_EPOCHS = 20;
/** How often the page gets new points (ms): about 5 chart updates a second. */
const POST_EVERY_MS = 200;

let data: LabData;
let state: LabState | null = null;
let runs: Record<RunId, LabRun> | null = null;
let running = false;
let step = 0;
let order: ArrayLike<number> = new Int32Array(0);
let random: keel.Random;
let validationEvery = 50;
/** What the curves' validation points are measured on: the 2,000 test images, or CNN_VALIDATION of them for the cnn. */
let validation: { x: keel.Tensor; y: keel.Tensor };
let tools: () => ToolData;
let lastPost = 0;
/** Training loops started so far (see trainLoop). */
let loops = 0;
/** Messages are handled one at a time, in order, between training slices. */
let queue: Promise<void> = Promise.resolve();

const stepsPerEpoch = () => Math.floor(data.train.count / state!.batchSize);

function configure(next: LabState): void {
  state = next;
  running = false;
  step = 0;
  random = new keel.Random(next.seed);
  const cnn = next.model === 'cnn';
  // The cnn's activations are large (batch × 28 × 28 × 32): sorting them for the percentiles
  // costs more than a step, so it records less often, and validates on part of the test set.
  const probeEvery = cnn ? 10 : 5;
  validationEvery = cnn ? 100 : 50;
  runs = { a: new LabRun(next, next.a, probeEvery), b: new LabRun(next, next.b, probeEvery) };
  validation = cnn ? { x: keel.slice(data.validation.x, 0, CNN_VALIDATION), y: keel.slice(data.validation.y, 0, CNN_VALIDATION) } : data.validation;
  tools = () => ({
    train: cnn ? keel.slice(data.trainX(), 0, CNN_POPULATION) : data.trainX(),
    validation: cnn ? { x: keel.slice(data.validation.x, 0, CNN_TOOLS_VALIDATION), y: keel.slice(data.validation.y, 0, CNN_TOOLS_VALIDATION) } : data.validation,
  });
  post({ type: 'configured', a: runs.a.info, b: runs.b.info });
  // Step 0: the untrained networks, near chance (0.1), where both curves start.
  runs.a.validate(validation.x, validation.y, 0);
  runs.b.validate(validation.x, validation.y, 0);
  postProgress();
}

/** The batch for `step`: the epoch's seeded shuffle, the same for both runs. */
function batch(): [keel.Tensor, keel.Tensor] {
  const size = state!.batchSize;
  const perEpoch = stepsPerEpoch();
  const inEpoch = step % perEpoch;
  if (inEpoch === 0) order = shuffled(data.train.count, random);
  const pixels = 784;
  const xs = new Float32Array(size * pixels);
  const ys = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const src = order[inEpoch * size + i];
    ys[i] = data.train.labels[src];
    const from = src * pixels;
    for (let p = 0; p < pixels; p++) xs[i * pixels + p] = data.train.images[from + p] / 255;
  }
  return [keel.tensor(xs, [size, 28, 28]), keel.tensor(ys, [size])];
}

/** 0…n−1 in a seeded random order (Fisher-Yates). */
function shuffled(n: number, r: keel.Random): Int32Array {
  const out = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function postProgress(finished = false): void {
  if (!runs || !state) return;
  lastPost = Date.now();
  post({
    type: 'progress', epoch: Math.floor(step / stepsPerEpoch()), step, stepsPerEpoch: stepsPerEpoch(), finished,
    a: runs.a.take(), b: runs.b.take(),
  });
}

/** Trains until paused, reconfigured, stopped by both runs, or MAX_EPOCHS are done. */
async function trainLoop(): Promise<void> {
  // Only the newest loop goes on: Pause then Train, both handled while an older loop waited
  // between two steps, must not leave two loops stepping the same runs.
  const me = ++loops;
  while (running && me === loops && runs) {
    const [x, y] = batch();
    await runs.a.step(x, y, step);
    await runs.b.step(x, y, step);
    step++;
    if (step % validationEvery === 0) {
      runs.a.validate(validation.x, validation.y, step);
      runs.b.validate(validation.x, validation.y, step);
    }
    const finished = (runs.a.stopped !== null && runs.b.stopped !== null) || step >= MAX_EPOCHS * stepsPerEpoch();
    if (finished) running = false;
    if (!running || Date.now() - lastPost >= POST_EVERY_MS) postProgress(finished);
    // Let messages in (pause, the buttons) between steps; a MessageChannel turn is not throttled.
    await nextTurn();
    await settled();
  }
}

const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
}

/** Waits until every message received so far has been handled (they may queue more). */
async function settled(): Promise<void> {
  for (let q = queue; ; q = queue) {
    await q;
    if (q === queue) return;
  }
}

/**
 * Runs a button's `work`. Messages wait for the training loop's turn, so training is between
 * two steps meanwhile, and goes on afterwards if it was running.
 */
async function busy(what: string, work: () => Promise<void>): Promise<void> {
  post({ type: 'busy', what });
  await work();
}

async function handle(message: ToWorker): Promise<void> {
  if (message.type === 'configure') return configure(message.state);
  if (!runs || !state) throw new Error('the lab is not configured yet');
  const r = runs;
  switch (message.type) {
    case 'train':
      if (!running) {
        running = true;
        void trainLoop().catch(report);
      }
      return;
    case 'pause':
      running = false;
      postProgress();
      return;
    case 'follow':
      r.a.follow(message.layer, message.feature);
      r.b.follow(message.layer, message.feature);
      state.layer = message.layer;
      state.feature = message.feature;
      post({ type: 'configured', a: r.a.info, b: r.b.info });
      return;
    case 'recompute':
      return busy('recomputing population statistics', async () => {
        const a = await populationReport(r.a.model, tools());
        const b = await populationReport(r.b.model, tools());
        post({ type: 'recomputed', a: a.text, b: b.text, figures: { a: a.figures, b: b.figures } });
      });
    case 'fold':
      return busy('folding BN', async () => {
        post({ type: 'folded', a: foldReport(r.a.model, tools()), b: foldReport(r.b.model, tools()) });
      });
    case 'download':
      return busy('saving the model', async () => {
        const name = `keel-lab-${message.run.toUpperCase()}`;
        const weightsFile = `${name}.weights.bin`;
        const { modelJson, weights } = await modelFiles(r[message.run].model, weightsFile);
        post({ type: 'model', run: message.run, modelFile: `${name}.json`, weightsFile, modelJson, weights }, [weights]);
      });
    case 'downloadOnnx':
      return busy('writing ONNX', async () => {
        // The model as trained (BN in its inference form, moving statistics): what predict uses.
        const bytes = toOnnx(r[message.run].model).slice().buffer;
        post({ type: 'onnxModel', run: message.run, file: `keel-lab-${message.run.toUpperCase()}.onnx`, bytes, opset: DEFAULT_OPSET }, [bytes]);
      });
    case 'predict': {
      const x = keel.tensor(message.pixels, [1, 28, 28]);
      const probabilities = (m: keel.Sequential) => Array.from(m.predict(x).dataSync());
      post({ type: 'prediction', a: probabilities(r.a.model), b: probabilities(r.b.model) });
      return;
    }
    case 'testImage': {
      const n = data.test.count;
      const index = ((message.index % n) + n) % n;
      const pixels = Float32Array.from(data.test.images.subarray(index * 784, (index + 1) * 784), (v) => v / 255);
      post({ type: 'testImage', index, label: data.test.labels[index], pixels });
      return;
    }
  }
}

function report(e: unknown): void {
  running = false;
  post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}

async function start(): Promise<void> {
  const early: ToWorker[] = [];
  scope.onmessage = (event) => void early.push(event.data);
  const [info] = await Promise.all([keel.ready(), (async () => { data = await loadData(); })()]);
  scope.onmessage = (event) => {
    queue = queue.then(() => handle(event.data)).catch(report);
  };
  post({
    type: 'ready', backend: info.name, workers: info.workers, isolated: scope.crossOriginIsolated === true,
    train: data.train.count, test: data.test.count, classNames: data.classNames,
  });
  for (const message of early) queue = queue.then(() => handle(message)).catch(report);
}

start().catch(report);
