/** Models and inputs shared by the .keras tests. */
import assert from 'node:assert/strict';
import * as keel from 'keel';

/** Gives every BN-like weight a non-trivial value (γ near 1, β, moving mean and variance away from 0 and 1). */
export function randomizeNormalization(model: keel.LayersModel, seed: number): void {
  const random = new keel.Random(seed);
  const ranges: Record<string, [number, number]> = {
    gamma: [0.5, 1.5], beta: [-0.3, 0.3], moving_mean: [-0.4, 0.4], moving_variance: [0.2, 2],
    moving_stddev: [0.4, 1.4], renorm_mean: [-0.4, 0.4], renorm_stddev: [0.4, 1.4],
  };
  for (const layer of model.layers) {
    const values = layer.weights.map((v) => {
      const range = ranges[v.shortName];
      const t = v.read();
      if (range) for (let i = 0; i < t.size; i++) t.values[i] = random.uniform(range[0], range[1]);
      return t;
    });
    if (values.length) layer.setWeights(values);
  }
}

export function inputs(shape: number[], seed: number): keel.Tensor {
  const random = new keel.Random(seed);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => random.uniform(0, 1));
  return keel.tensor(values, shape);
}


/** Same layers (names, classes, trainable flags) and the same weights, bit for bit. */
export function sameModel(a: keel.LayersModel, b: keel.LayersModel): void {
  assert.deepEqual(b.layers.map((l) => [l.name, l.getClassName(), l.trainable]), a.layers.map((l) => [l.name, l.getClassName(), l.trainable]));
  const wa = a.layers.flatMap((l) => l.weights), wb = b.layers.flatMap((l) => l.weights);
  assert.deepEqual(wb.map((w) => w.name), wa.map((w) => w.name));
  wa.forEach((w, i) => assert.deepEqual(wb[i].read().dataSync(), w.read().dataSync(), w.name));
}
