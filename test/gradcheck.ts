/**
 * Finite-difference gradient checks of a layer in float64: central differences with h = 1e-6
 * agree with an exact float64 gradient to about 1e-8 relative; the tolerance leaves room for that
 * and nothing more.
 */
import assert from 'node:assert/strict';
import 'keel'; // registers the backends
import { Random, setRandomSeed } from '../packages/keel/src/core/random.js';
import { empty } from '../packages/keel/src/ops/tensor.js';
import type { Layer } from '../packages/keel/src/layers/layer.js';
import type { Tensor } from '../packages/keel/src/core/tensor.js';
import type { InputData, LayersModel } from '../packages/keel/src/models/layersModel.js';

const H = 1e-6;
const TOL = 1e-6;

export function randomTensor(shape: number[], random: Random, scale = 1): Tensor {
  const t = empty(shape, 'float64');
  for (let i = 0; i < t.size; i++) t.values[i] = random.normal() * scale;
  return t;
}

/** Relative error as gradcheck measures it: |a − n| / max(1e-3, |a|, |n|). */
export function assertGradClose(analytic: number, numeric: number, what: string): void {
  const err = Math.abs(analytic - numeric) / Math.max(1e-3, Math.abs(analytic), Math.abs(numeric));
  assert.ok(err < TOL, `${what}: analytic ${analytic} vs numeric ${numeric} (relative error ${err.toExponential(2)})`);
}

/**
 * Checks dL/dx and dL/dw of a layer in training mode, with L = Σ r ⊙ layer(x) for a fixed random r,
 * so that every output contributes a different weight to the loss; x is standard normal plus
 * `inputOffset`. `samples` values of x and of each weight are checked, spread evenly. Returns the
 * analytic gradients (dL/dx, then each trainable weight's).
 */
export function checkLayerGradients(layer: Layer, inputShape: number[], what: string, seed = 1, inputOffset = 0, samples = 25): Float64Array[] {
  const random = new Random(seed);
  const x = randomTensor(inputShape, random);
  for (let i = 0; i < x.size; i++) x.values[i] += inputOffset;
  // The weights too come from `seed`: unseeded, they came from the clock, and a rare draw put a
  // gradient just below the relative error's 1e-3 floor with float64 rounding above 1e-9.
  setRandomSeed(seed);
  layer.build(inputShape.slice(1));
  const y0 = layer.forward(x, true);
  const r = randomTensor([...y0.shape], random);
  const loss = () => {
    const y = layer.forward(x, true);
    let s = 0;
    for (let i = 0; i < y.size; i++) s += r.values[i] * y.values[i];
    layer.discardState();
    return s;
  };
  layer.forward(x, true);
  for (const w of layer.trainableWeights) w.grad!.values.fill(0);
  const dx = layer.backward(r, true)!;
  const dxCopy = Float64Array.from(dx.values);
  layer.discardState();
  const numeric = (arr: Float64Array | Float32Array, i: number) => {
    const keep = arr[i];
    arr[i] = keep + H;
    const up = loss();
    arr[i] = keep - H;
    const down = loss();
    arr[i] = keep;
    return (up - down) / (2 * H);
  };
  for (let i = 0; i < x.size; i += Math.max(1, Math.floor(x.size / samples))) {
    assertGradClose(dxCopy[i], numeric(x.values, i), `${what} dL/dx[${i}]`);
  }
  const weightGrads = layer.trainableWeights.map((w) => Float64Array.from(w.grad!.values));
  for (const w of layer.trainableWeights) {
    for (let i = 0; i < w.value.size; i += Math.max(1, Math.floor(w.value.size / samples))) {
      assertGradClose(w.grad!.values[i], numeric(w.value.values, i), `${what} dL/d${w.shortName}[${i}]`);
    }
  }
  return [dxCopy, ...weightGrads];
}

/**
 * Checks every trainable weight's gradient of a compiled model's loss on (x, y) against central
 * differences, at about `checksPerWeight` values spread evenly over each weight (all of them when
 * omitted). The model must be float64.
 */
export function checkModelGradients(model: LayersModel, x: InputData, y: Tensor, checksPerWeight?: number): void {
  model.computeGradients(x, y);
  const analytic = model.trainableWeights.map((w) => Float64Array.from(w.grad!.values));
  model.trainableWeights.forEach((w, k) => {
    const step = checksPerWeight ? Math.max(1, Math.floor(w.value.size / checksPerWeight)) : 1;
    for (let i = 0; i < w.value.size; i += step) {
      const keep = w.value.values[i];
      w.value.values[i] = keep + H;
      const up = model.computeGradients(x, y);
      w.value.values[i] = keep - H;
      const down = model.computeGradients(x, y);
      w.value.values[i] = keep;
      assertGradClose(analytic[k][i], (up - down) / (2 * H), `${w.name}[${i}]`);
    }
  });
}
