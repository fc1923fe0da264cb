/** Models and data shared by the io and inference tests: the chapter's two batch-normalized models. */
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';

export type Variant = 'seed' | 'seed-before';

/** `seed`: BN on the input and after each activation; `seed-before`: Dense (no bias) → BN → activation. */
export function seedModel(variant: Variant, inputShape: number[] = [28, 28], units: [number, number] = [300, 100]): keel.Sequential {
  const hidden = (n: number) =>
    variant === 'seed'
      ? [keel.layers.dense({ units: n, activation: 'relu', kernelInitializer: 'heNormal' }), keel.layers.batchNormalization()]
      : [
          keel.layers.dense({ units: n, useBias: false, kernelInitializer: 'heNormal' }),
          keel.layers.batchNormalization(),
          keel.layers.activation({ activation: 'relu' }),
        ];
  return keel.sequential({ layers: [
    keel.layers.flatten({ inputShape }),
    keel.layers.batchNormalization(),
    ...hidden(units[0]),
    ...hidden(units[1]),
    keel.layers.dense({ units: 10, activation: 'softmax' }),
  ] });
}

/** Gives every BN layer non-trivial γ, β and moving statistics, so that tests see them matter. */
export function randomizeBatchNorm(model: keel.Sequential, seed: number): void {
  const random = new Random(seed);
  for (const layer of model.layers) {
    if (!(layer instanceof keel.layers.BatchNormalization)) continue;
    const weights = layer.getWeights().map((w, i) => {
      const n = layer.weights[i].shortName;
      const values = Float32Array.from(w.dataSync(), () =>
        n === 'gamma' ? random.uniform(0.5, 1.5) : n === 'moving_variance' ? random.uniform(0.2, 3) : random.uniform(-1, 1));
      return keel.tensor(values, w.shape);
    });
    layer.setWeights(weights);
  }
}

/** n random inputs of a shape, uniform in [0, 1) (pixel-like). */
export function randomInputs(n: number, shape: number[], seed: number): keel.Tensor {
  const random = new Random(seed);
  const size = n * shape.reduce((a, b) => a * b, 1);
  return keel.tensor(Float32Array.from({ length: size }, () => random.next()), [n, ...shape]);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/**
 * CRC-32 (IEEE, as zlib) bit by bit, written apart from Keel's table-driven one so that tests can
 * tell whether a weights file agrees with the CRC recorded for it without asking the code under test.
 */
export function referenceCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** All of a model's weights, in `model.weights` order (the order of weights.bin), as one array. */
export function weightsOf(model: keel.Sequential): Float32Array {
  const parts = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return all;
}
