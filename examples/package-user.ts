/**
 * Keel as a user of the package sees it: `import * as keel from 'keel'`, strict TypeScript, data in
 * plain arrays. Trains a small batch-normalized classifier on a synthetic 3-class problem, evaluates
 * it, predicts, saves it to a temporary folder and loads it back. `npm test` type-checks this file
 * and test/examples.test.ts runs it.
 *   node --conditions=keel-source --import tsx examples/package-user.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';

keel.setRandomSeed(7);

// Three classes, each a cloud of points around its own centre in 4 dimensions.
const random = new keel.Random(3);
const centres = [[2, 0, 0, 1], [0, 2, 1, 0], [-1, -1, 2, 2]];
function makeSet(n: number): { x: number[][]; y: Int32Array } {
  const x: number[][] = [];
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = random.int(3);
    x.push(centres[y[i]].map((c) => c + 1.3 * random.normal()));
  }
  return { x, y };
}
const train = makeSet(600);
const test = makeSet(200);

const model = keel.sequential({ layers: [
  keel.layers.dense({ units: 16, inputShape: [4], activation: 'relu', kernelInitializer: 'heNormal' }),
  keel.layers.batchNormalization(),
  keel.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'leCunNormal' }),
] });
model.compile({ optimizer: keel.optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

// Nested arrays and an Int32Array of labels go in as they are, as with tensors.
const history = await model.fit(train.x, train.y, { epochs: 5, batchSize: 32, verbose: 0, validationData: [test.x, test.y] });
console.log(`validation accuracy after ${history.epoch.length} epochs: ${history.val_accuracy[history.val_accuracy.length - 1].toFixed(3)}`);

// With metrics compiled, evaluate returns [loss, ...metrics] as scalar tensors.
const [loss, accuracy] = model.evaluate(test.x, test.y);
console.log(`test loss ${loss.dataSync()[0].toFixed(4)}, test accuracy ${accuracy.dataSync()[0].toFixed(3)}`);

const probabilities = model.predict(test.x);
const predicted = (probabilities.arraySync() as number[][]).map((p) => p.indexOf(Math.max(...p)));
console.log(`first predictions: ${predicted.slice(0, 8).join(' ')} (labels ${Array.from(test.y.subarray(0, 8)).join(' ')})`);

const dir = await mkdtemp(join(tmpdir(), 'keel-example-'));
try {
  await model.save(`file://${dir}`);
  const loaded = await keel.loadLayersModel(`file://${dir}/model.json`);
  const again = loaded.predict(test.x).dataSync();
  const same = probabilities.dataSync().every((p, i) => p === again[i]);
  console.log(`saved to a temporary folder and loaded back: ${same ? 'the same predictions' : 'DIFFERENT predictions'}`);
  if (!same) process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
