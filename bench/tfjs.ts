/** TensorFlow.js's side of the benchmark (its 'cpu' or 'wasm' backend), on the same workloads. */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { BN_SHAPES, PREDICT_MANY, TRAIN_SAMPLES, randomFloats, randomLabels, timeIt, type Figure } from './common.js';

/** The seed model of issue 6: 784-BN-300-BN-100-BN-10, ReLU, softmax. */
function seedModel(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.batchNormalization({ inputShape: [784] }),
      tf.layers.dense({ units: 300, activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.dense({ units: 100, activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  return model;
}

export async function runTfjs(backendName: 'cpu' | 'wasm', quick = false): Promise<Figure[]> {
  if (backendName === 'wasm') {
    // The binaries ship inside the npm package; point the loader at them (no download).
    const require = createRequire(import.meta.url);
    setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
  }
  await tf.setBackend(backendName);
  await tf.ready();
  const figures: Figure[] = [];
  const slow = backendName === 'cpu';
  const samples = quick || slow ? TRAIN_SAMPLES / 8 : TRAIN_SAMPLES / 2;
  const x = tf.tensor2d(randomFloats(samples * 784), [samples, 784]);
  const y = tf.tensor1d(randomLabels(samples), 'float32');

  for (const batchSize of [32, 256]) {
    const model = seedModel();
    const ms = await timeIt(() => model.fit(x, y, { batchSize, epochs: 1, verbose: 0, shuffle: true }), quick ? 2 : 3, 1);
    figures.push({ workload: `train batch ${batchSize}`, unit: 'samples/s', value: samples / (ms / 1000), higherIsBetter: true });
    model.dispose();
  }

  const model = seedModel();
  const one = tf.tensor2d(randomFloats(784, 7), [1, 784]);
  const reps = slow ? 50 : 300;
  const msOne = await timeIt(() => {
    for (let i = 0; i < reps; i++) tf.tidy(() => (model.predict(one) as tf.Tensor).dataSync());
  }, quick ? 3 : 5, 1);
  figures.push({ workload: 'predict 1', unit: 'µs', value: (msOne / reps) * 1000, higherIsBetter: false });

  const many = tf.tensor2d(randomFloats(PREDICT_MANY * 784, 9), [PREDICT_MANY, 784]);
  const msMany = await timeIt(
    () => tf.tidy(() => (model.predict(many, { batchSize: PREDICT_MANY }) as tf.Tensor).dataSync()), quick ? 2 : 3, 1);
  figures.push({ workload: `predict ${PREDICT_MANY}`, unit: 'samples/s', value: PREDICT_MANY / (msMany / 1000), higherIsBetter: true });

  for (const [rows, cols] of BN_SHAPES) {
    const xb = tf.tensor2d(randomFloats(rows * cols, 3), [rows, cols]);
    const dy = tf.tensor2d(randomFloats(rows * cols, 4), [rows, cols]);
    const gamma = tf.tensor1d(randomFloats(cols, 5)), beta = tf.tensor1d(randomFloats(cols, 6));
    // Training-mode BN forward and the gradients w.r.t. x, γ and β for an upstream gradient dy.
    const step = tf.grads((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(xi, 0);
      return tf.batchNorm(xi as tf.Tensor2D, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3).mul(dy).sum();
    });
    const inner = slow ? 2 : 10;
    const ms = await timeIt(() => {
      for (let i = 0; i < inner; i++) tf.tidy(() => step([xb, gamma, beta]).forEach((t) => t.dataSync()));
    }, quick ? 3 : 5, 1);
    figures.push({ workload: `BN fwd+bwd ${rows}x${cols}`, unit: 'µs', value: (ms / inner) * 1000, higherIsBetter: false });
  }
  tf.disposeVariables();
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runTfjs((process.argv[2] ?? 'wasm') as 'cpu' | 'wasm', process.argv.includes('--quick')), null, 1));
}
