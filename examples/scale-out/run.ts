/**
 * The scale-out path, end to end on one machine: Keel trains the `cnn` zoo model briefly on a
 * Fashion-MNIST subset and exports it as a Keras 3 `.keras` file; Keras 3 on JAX continues training
 * it data parallel over two devices (`continue_training.py`; two CPU devices stand in for two
 * machines); Keel loads the result back, checks that it predicts what Keras predicted, and
 * evaluates it. See docs/keras.md, "Scaling out".
 *
 *   node --conditions=keel-source --import tsx examples/scale-out/run.ts [--train 512] [--test 256] [--dir DIR]
 *
 * Needs python3 with keras and jax (pip install keras jax).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import { fashionMnist } from 'keel-datasets';
import { loadKerasModel, registerKerasIO } from 'keel-keras';

const BATCH = 64;

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at < 0 ? fallback : Number(process.argv[at + 1]);
  // Keras's DataParallel splits each batch between the devices: whole batches keep the split even.
  if (!Number.isInteger(value) || value <= 0 || value % BATCH !== 0) {
    throw new Error(`--${name}: expected a positive multiple of ${BATCH} (the batch size), received ${process.argv[at + 1]}.`);
  }
  return value;
}

const trainCount = option('train', 512);
const testCount = option('test', 256);
const dirAt = process.argv.indexOf('--dir');
const dir = dirAt >= 0 ? process.argv[dirAt + 1] : mkdtempSync(join(tmpdir(), 'keel-scale-out-'));

const { train, test } = await fashionMnist({ trainLimit: trainCount });
const xTest = keel.slice(test.xs, 0, testCount);
const yTest = keel.slice(test.ys, 0, testCount);

function accuracy(model: keel.LayersModel): number {
  const probabilities = model.predict(xTest).dataSync();
  const labels = yTest.dataSync();
  let right = 0;
  for (let i = 0; i < testCount; i++) {
    const row = probabilities.subarray(10 * i, 10 * i + 10);
    if (row.indexOf(Math.max(...row)) === labels[i]) right++;
  }
  return right / testCount;
}

// 1. Keel trains the cnn briefly (SGD with momentum, as `keel train --model cnn`).
keel.setRandomSeed(1);
const model = keel.zoo.buildModel('cnn');
model.compile({ optimizer: keel.optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
await model.fit(train.xs, train.ys, { epochs: 1, batchSize: BATCH, verbose: 0, seed: 1 });
// A few steps leave BN's moving averages near their initial 0 and 1 (momentum 0.99): replace them by
// the exact statistics of the training images, so that the model Keras receives predicts well.
const movingAccuracy = accuracy(model);
await keel.recomputeBatchNormStatistics(model, train.xs);
console.log(`keel: trained on ${trainCount} images, test accuracy ${movingAccuracy.toFixed(3)} with the moving statistics, ` +
  `${accuracy(model).toFixed(3)} with the exact ones, on ${testCount}`);

// 2. Export as .keras, and the data as raw little-endian arrays for the Python side.
registerKerasIO();
const exported = join(dir, 'keel-trained.keras');
await model.save(`keras://${exported}`);
const raw = (values: Float32Array | Int32Array) => {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => (values instanceof Int32Array ? view.setInt32(4 * i, v, true) : view.setFloat32(4 * i, v, true)));
  return bytes;
};
writeFileSync(join(dir, 'train-x.f32'), raw(train.xs.dataSync() as Float32Array));
writeFileSync(join(dir, 'train-y.i32'), raw(Int32Array.from(train.ys.dataSync())));
writeFileSync(join(dir, 'test-x.f32'), raw(xTest.dataSync() as Float32Array));
console.log(`keel: exported ${exported}`);

// 3. Keras 3 continues training, data parallel over two host devices.
const continued = join(dir, 'keras-trained.keras');
const script = join(import.meta.dirname, 'continue_training.py');
const report = await new Promise<string>((resolve, reject) => {
  execFile('python3', [script, exported, continued, dir, '1', String(BATCH)], {
    env: { ...process.env, KERAS_BACKEND: 'jax', JAX_PLATFORMS: 'cpu', XLA_FLAGS: '--xla_force_host_platform_device_count=2', TF_CPP_MIN_LOG_LEVEL: '3' },
    timeout: 150_000, maxBuffer: 16 << 20,
  }, (error, stdout, stderr) => (error ? reject(new Error(`continue_training.py failed:\n${stderr.slice(-3000)}`)) : resolve(stdout)));
});
const keras = JSON.parse(report.trim().split('\n').pop()!) as { devices: string[]; loss: number; accuracy: number };
console.log(`keras: trained one epoch on ${keras.devices.length} devices (${keras.devices.join(', ')}), loss ${keras.loss.toFixed(4)}, accuracy ${keras.accuracy.toFixed(3)}`);

// 4. Keel loads the result, checks it predicts what Keras predicted, and evaluates it.
const back = await loadKerasModel(continued);
const ours = back.predict(xTest).dataSync();
const bytes = readFileSync(join(dir, 'keras-test-predictions.f32'));
const theirs = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
let maxDifference = 0;
for (let i = 0; i < ours.length; i++) maxDifference = Math.max(maxDifference, Math.abs(ours[i] - theirs.getFloat32(4 * i, true)));
console.log(`keel: loaded ${continued}; predictions within ${maxDifference.toExponential(1)} of Keras's`);
const kerasAccuracy = accuracy(back);
await keel.recomputeBatchNormStatistics(back, train.xs);
console.log(`keel: test accuracy after Keras's epoch ${kerasAccuracy.toFixed(3)} with Keras's moving statistics, ` +
  `${accuracy(back).toFixed(3)} with the exact ones, on ${testCount}`);
if (dirAt < 0) rmSync(dir, { recursive: true, force: true });
if (!(maxDifference <= 1e-5)) {
  console.error(`keel: the model Keras trained predicts differently in Keel (by ${maxDifference}); expected within 1e-5.`);
  process.exitCode = 1;
}
