/**
 * The arithmetic of the merge layers on flat arrays (see merge.ts for the formulas). Elementwise
 * and memory-bound: plain loops, the same on every backend, except the sum of Add and Average,
 * which every residual block runs on its whole activation and so goes to the backend's vector add
 * (threaded on wasm).
 */
import type { Tensor } from '../core/tensor.js';
import { backendFor } from '../backend/backend.js';

type Values = Tensor['values'];

/** out = scale · Σ xs (all of out's length). */
export function elementwiseSum(xs: readonly Tensor[], scale: number, out: Tensor): void {
  const o = out.values;
  const n = o.length;
  const be = backendFor(out.dtype);
  if (xs.length === 1) o.set(xs[0].values.subarray(0, n));
  else be.add(xs[0].values, xs[1].values, o, n);
  for (let k = 2; k < xs.length; k++) be.add(o, xs[k].values, o, n);
  if (scale !== 1) for (let i = 0; i < n; i++) o[i] *= scale;
}

/**
 * out = (seed or 1) · Π xs[j] over j ≠ skip. With skip −1 and no seed, the product of all; with a
 * seed dy, Multiply's dx_skip.
 */
export function elementwiseProductOfOthers(xs: readonly Tensor[], skip: number, seed: Tensor | null, out: Tensor): void {
  const o = out.values;
  const n = o.length;
  if (seed) o.set(seed.values.subarray(0, n));
  else o.fill(1);
  for (let k = 0; k < xs.length; k++) {
    if (k === skip) continue;
    const x = xs[k].values;
    for (let i = 0; i < n; i++) o[i] *= x[i];
  }
}

/** Row r of the output is row r of each input in turn (`widths[i]` values each): `outer` rows. */
export function concatForward(inputs: readonly Values[], widths: readonly number[], outer: number, out: Values): void {
  const total = widths.reduce((a, b) => a + b, 0);
  for (let r = 0; r < outer; r++) {
    let at = r * total;
    for (let i = 0; i < inputs.length; i++) {
      const w = widths[i];
      out.set(inputs[i].subarray(r * w, (r + 1) * w), at);
      at += w;
    }
  }
}

/** The inverse split: each input's part of every row of `dy` (skipped where its target is null). */
export function concatBackward(dy: Values, widths: readonly number[], outer: number, targets: readonly (Values | null)[]): void {
  const total = widths.reduce((a, b) => a + b, 0);
  for (let r = 0; r < outer; r++) {
    let at = r * total;
    for (let i = 0; i < targets.length; i++) {
      const w = widths[i];
      targets[i]?.set(dy.subarray(at, at + w), r * w);
      at += w;
    }
  }
}
