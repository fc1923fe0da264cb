/**
 * The process that the crash tests kill: it saves a model again and again into one folder, and says
 * on stdout what each save holds, so that the parent knows which models the folder may load as.
 *
 *   node --conditions=keel-source --import tsx saveChild.ts MODE DIR SEED [STRETCH_MS]
 *
 * MODE 'save': a loop of `model.save('file://DIR')`, alternating between two models of different
 * sizes (so that a save also changes the weights file's length), each time with new weights.
 * MODE 'fit': `model.fit` with a plain `{ onEpochEnd }` callback that awaits `model.save` each epoch.
 * MODE 'fit-graceful': as 'fit', and SIGINT stops the training after the epoch under way (through
 * `model.stopTraining`); the process then prints `finished` and exits.
 *
 * STRETCH_MS > 0 delays each change a save makes to the file system (open, link, copyFile, rm,
 * mkdir) by that long, and each rename by 5 times that: a save is mostly fsync (about 2 ms each of 3
 * on the test machine) and the rename of weights.bin is 0.2 ms from that of model.json, so random
 * kills would seldom fall between the steps, and almost never between the two renames, the moment
 * that decides whether a folder can hold a mix. Stretched, a kill falls there about one time in four.
 *
 * Protocol, one line each: `ready` once the models are built; then the child waits for a line on
 * stdin (so that a child can be started ahead of its turn) and begins. `announce HASH` before each
 * save (HASH: SHA-256 of the model's weights in save order, as `weightsHash` computes), `done HASH`
 * after it resolved. The child ends by itself after LIFETIME_MS, or when its stdin closes.
 */
import { promises as fsPromises } from 'node:fs';
import * as keel from 'keel';
import { weightsHash } from './hash.js';

const LIFETIME_MS = 30_000;
const [mode, dir, seedText, stretchText = '0'] = process.argv.slice(2);
const seed = Number(seedText);
const stretchMs = Number(stretchText);
if (stretchMs > 0) {
  const fs = fsPromises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['open', 'rename', 'link', 'copyFile', 'rm', 'mkdir']) {
    const original = fs[name];
    fs[name] = async (...args: unknown[]) => {
      await new Promise((r) => setTimeout(r, name === 'rename' ? 5 * stretchMs : stretchMs));
      return original.apply(fsPromises, args);
    };
  }
}
if (!['save', 'fit', 'fit-graceful'].includes(mode) || !dir || !Number.isInteger(seed)) {
  console.error('usage: saveChild.ts save|fit|fit-graceful DIR SEED [STRETCH_MS]');
  process.exit(2);
}
setTimeout(() => process.exit(3), LIFETIME_MS).unref();
process.stdin.once('end', () => process.exit(4));

const url = `file://${dir}`;
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Saves `model`, saying before and after what it holds. */
async function save(model: keel.Sequential): Promise<void> {
  const hash = weightsHash(model);
  say(`announce ${hash}`);
  await model.save(url);
  say(`done ${hash}`);
}

function denseModel(inputs: number, hidden: number, outputs: number): keel.Sequential {
  return keel.sequential({ layers: [
    keel.layers.dense({ units: hidden, activation: 'relu', inputShape: [inputs] }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: outputs, activation: 'softmax' }),
  ] });
}

keel.setRandomSeed(seed);
const random = new keel.Random(seed);
const started = new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

if (mode === 'save') {
  const models = [denseModel(8, 12, 4), denseModel(8, 20, 4)];
  say('ready');
  await started;
  for (let i = 0; ; i++) {
    const model = models[i % 2];
    model.setWeights(model.getWeights().map((w) => keel.tensor(Float32Array.from({ length: w.size }, () => random.uniform(-1, 1)), w.shape)));
    await save(model);
  }
} else {
  const model = denseModel(8, 16, 4);
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
  const n = 64;
  const x = keel.tensor(Float32Array.from({ length: n * 8 }, () => random.uniform(-1, 1)), [n, 8]);
  const y = keel.tensor(Int32Array.from({ length: n }, () => random.int(4)));
  if (mode === 'fit-graceful') process.once('SIGINT', () => { model.stopTraining = true; });
  say('ready');
  await started;
  await model.fit(x, y, {
    epochs: 1_000_000, batchSize: 16, verbose: 0, seed,
    callbacks: { onEpochEnd: () => save(model) },
  });
  say('finished');
  process.exit(0);
}
