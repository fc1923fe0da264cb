/**
 * The API tour from the README, runnable: builds the book's batch-normalized model, trains it on a
 * synthetic 10-class problem shaped like Fashion-MNIST (28×28 inputs) and predicts one instance.
 *   node --import tsx examples/quickstart.ts
 */
import * as keel from 'keel';

keel.setRandomSeed(42);
const model = keel.sequential({ layers: [
  keel.layers.flatten({ inputShape: [28, 28] }),
  keel.layers.batchNormalization(),
  keel.layers.dense({ units: 300, activation: 'relu', kernelInitializer: 'heNormal' }),
  keel.layers.batchNormalization(),
  keel.layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
  keel.layers.batchNormalization(),
  keel.layers.dense({ units: 10, activation: 'softmax' }),
] });
model.summary();
model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

// Ten noisy prototypes, one per class, in [0, 1] like scaled pixels.
const random = new keel.Random(1);
const prototypes = Array.from({ length: 10 }, () => Float32Array.from({ length: 784 }, () => random.next()));
function makeSet(n: number) {
  const x = new Float32Array(n * 784);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = random.int(10);
    for (let j = 0; j < 784; j++) x[i * 784 + j] = Math.min(1, Math.max(0, prototypes[y[i]][j] + 0.6 * random.normal()));
  }
  return [keel.tensor(x, [n, 28, 28]), keel.tensor(y)] as const;
}
const [x, y] = makeSet(3000);
const [xValid, yValid] = makeSet(500);
const history = await model.fit(x, y, { epochs: 3, batchSize: 32, validationData: [xValid, yValid] });
console.log('validation accuracy per epoch:', history.val_accuracy.map((a) => a.toFixed(3)).join(', '));
const [loss, accuracy] = model.evaluate(xValid, yValid);   // scalar tensors, as in TF.js
console.log(`validation loss ${loss.dataSync()[0].toFixed(4)}, accuracy ${accuracy.dataSync()[0].toFixed(3)}`);
const probabilities = model.predict(keel.tensor(xValid.dataSync().subarray(0, 784), [1, 28, 28])).dataSync();
console.log(`one instance: predicted class ${probabilities.indexOf(Math.max(...probabilities))}, label ${yValid.dataSync()[0]}`);
