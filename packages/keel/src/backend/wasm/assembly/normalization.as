// AssemblyScript: group normalization of a batch of positions×channels samples, whose channels are
// split into `groups` groups of consecutive channels; layer normalization is its positions = 1,
// groups = 1 case. Formulas are those of the Backend interface (src/backend/backend.ts), per
// sample n and group g over its m = positions·channels/groups values:
//   mean = Σx/m, variance = Σ(x−mean)²/m, invStd = 1/sqrt(variance + ε), y = γ[c]·(x−mean)·invStd + β[c]
//   backward, with x̂ = (x−mean)·invStd and ĝ = dy·γ[c]:  dβ[c] += Σdy, dγ[c] += Σdy·x̂,
//   dx = invStd/m · (m·ĝ − Σĝ − x̂·Σĝ·x̂)
//
// SIMD runs along the channels of a position (4 per lane group), or along a group's values when
// they are contiguous in memory (one position, or one group): then a group is summed as one range.
// Statistics are per sample, so the outer loop is over samples and every pass stays within one
// sample, which at these sizes is in cache for the second and third passes. Threads split the
// samples (the backend's groupNorm and groupNormGrad); the backward's dγ and dβ, sums over samples,
// are then added in sample order by groupNormGradReduce, so that the bits do not depend on the split.

/** Σ p[0..len), in two 4-lane accumulators. */
@inline function sumRange(p: usize, len: i32): f32 {
  let a = f32x4.splat(0), b = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    const q = p + (<usize>i << 2);
    a = f32x4.add(a, v128.load(q));
    b = f32x4.add(b, v128.load(q + 16));
  }
  for (; i + 4 <= len; i += 4) a = f32x4.add(a, v128.load(p + (<usize>i << 2)));
  a = f32x4.add(a, b);
  let s = (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1)) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
  for (; i < len; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}

/** Σ (p[i] − mu)² over [0, len). */
@inline function sqDevRange(p: usize, len: i32, mu: f32): f32 {
  const m = f32x4.splat(mu);
  let a = f32x4.splat(0), b = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    const q = p + (<usize>i << 2);
    const d0 = f32x4.sub(v128.load(q), m), d1 = f32x4.sub(v128.load(q + 16), m);
    a = f32x4.add(a, f32x4.mul(d0, d0));
    b = f32x4.add(b, f32x4.mul(d1, d1));
  }
  for (; i + 4 <= len; i += 4) {
    const d = f32x4.sub(v128.load(p + (<usize>i << 2)), m);
    a = f32x4.add(a, f32x4.mul(d, d));
  }
  a = f32x4.add(a, b);
  let s = (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1)) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
  for (; i < len; i++) {
    const d = load<f32>(p + (<usize>i << 2)) - mu;
    s += d * d;
  }
  return s;
}

/** acc[c] += row[c] for c < cols. */
@inline function accumulateRow(row: usize, acc: usize, cols: i32): void {
  let c = 0;
  for (; c + 4 <= cols; c += 4) {
    const o = <usize>c << 2;
    v128.store(acc + o, f32x4.add(v128.load(acc + o), v128.load(row + o)));
  }
  for (; c < cols; c++) {
    const o = <usize>c << 2;
    store<f32>(acc + o, load<f32>(acc + o) + load<f32>(row + o));
  }
}

/** acc[c] += (row[c] − mean[c])² for c < cols. */
@inline function accumulateSqDevRow(row: usize, mean: usize, acc: usize, cols: i32): void {
  let c = 0;
  for (; c + 4 <= cols; c += 4) {
    const o = <usize>c << 2;
    const d = f32x4.sub(v128.load(row + o), v128.load(mean + o));
    v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.mul(d, d)));
  }
  for (; c < cols; c++) {
    const o = <usize>c << 2;
    const d = load<f32>(row + o) - load<f32>(mean + o);
    store<f32>(acc + o, load<f32>(acc + o) + d * d);
  }
}

/** out[c] = value for c in [c0, c1). */
@inline function fillRange(out: usize, c0: i32, c1: i32, value: f32): void {
  for (let c = c0; c < c1; c++) store<f32>(out + (<usize>c << 2), value);
}

/**
 * Forward. `mean` and `invStd` get batch·groups values; `scratch` holds 3·channels floats (per-channel
 * sums, the group mean of each channel, and γ·invStd of each channel).
 */
export function groupNorm(
  x: usize, gamma: usize, beta: usize, epsilon: f32, batch: i32, positions: i32, channels: i32, groups: i32,
  y: usize, mean: usize, invStd: usize, scratch: usize,
): void {
  const colBytes = <usize>channels << 2;
  const sampleBytes = <usize>positions * colBytes;
  const perGroup = channels / groups;
  const m = positions * perGroup;
  const fm = <f32>m;
  const acc = scratch, meanC = scratch + colBytes, coefA = scratch + 2 * colBytes;
  // A group's values are one contiguous range when a sample has one position (group g starts at
  // channel g·perGroup) or one group (the whole sample).
  const contiguous = positions == 1 || groups == 1;
  for (let n = 0; n < batch; n++) {
    const xs = x + <usize>n * sampleBytes, ys = y + <usize>n * sampleBytes;
    const stats = <usize>(n * groups) << 2;
    if (contiguous) {
      for (let g = 0; g < groups; g++) {
        const p = xs + (<usize>(g * perGroup) << 2);
        const mu = sumRange(p, m) / fm;
        const v = sqDevRange(p, m, mu) / fm;
        store<f32>(mean + stats + (<usize>g << 2), mu);
        store<f32>(invStd + stats + (<usize>g << 2), <f32>(1 / Math.sqrt(<f64>v + <f64>epsilon)));
      }
    } else {
      // Pass 1: per-channel sums over the positions, then per group → mean.
      memory.fill(acc, 0, colBytes);
      for (let s = 0; s < positions; s++) accumulateRow(xs + <usize>s * colBytes, acc, channels);
      for (let g = 0; g < groups; g++) {
        const mu = sumRange(acc + (<usize>(g * perGroup) << 2), perGroup) / fm;
        store<f32>(mean + stats + (<usize>g << 2), mu);
        fillRange(meanC, g * perGroup, (g + 1) * perGroup, mu);
      }
      // Pass 2: squared deviations from the group's mean (two passes: E[x²] − E[x]² cancels in
      // float32 when |mean| ≫ std) → invStd.
      memory.fill(acc, 0, colBytes);
      for (let s = 0; s < positions; s++) accumulateSqDevRow(xs + <usize>s * colBytes, meanC, acc, channels);
      for (let g = 0; g < groups; g++) {
        const v = sumRange(acc + (<usize>(g * perGroup) << 2), perGroup) / fm;
        store<f32>(invStd + stats + (<usize>g << 2), <f32>(1 / Math.sqrt(<f64>v + <f64>epsilon)));
      }
    }
    // Per channel: the group's mean, and γ·invStd.
    for (let g = 0; g < groups; g++) {
      const mu = load<f32>(mean + stats + (<usize>g << 2)), inv = load<f32>(invStd + stats + (<usize>g << 2));
      for (let c = g * perGroup; c < (g + 1) * perGroup; c++) {
        const o = <usize>c << 2;
        store<f32>(meanC + o, mu);
        store<f32>(coefA + o, load<f32>(gamma + o) * inv);
      }
    }
    // Pass 3: y = (x − mean)·(γ·invStd) + β.
    for (let s = 0; s < positions; s++) {
      const xr = xs + <usize>s * colBytes, yr = ys + <usize>s * colBytes;
      let c = 0;
      for (; c + 4 <= channels; c += 4) {
        const o = <usize>c << 2;
        v128.store(yr + o, f32x4.add(f32x4.mul(f32x4.sub(v128.load(xr + o), v128.load(meanC + o)), v128.load(coefA + o)), v128.load(beta + o)));
      }
      for (; c < channels; c++) {
        const o = <usize>c << 2;
        store<f32>(yr + o, (load<f32>(xr + o) - load<f32>(meanC + o)) * load<f32>(coefA + o) + load<f32>(beta + o));
      }
    }
  }
}

/**
 * Closed-form backward of groupNorm. `scratch` holds 4·channels floats; dgamma and dbeta are
 * accumulated into, sample after sample; dx may alias dy (each value of dy is read before dx is
 * written there).
 */
export function groupNormGrad(
  x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize, batch: i32, positions: i32, channels: i32, groups: i32,
  dx: usize, dgamma: usize, dbeta: usize, scratch: usize,
): void {
  gradSamples(x, dy, gamma, mean, invStd, batch, positions, channels, groups, dx, dgamma, dbeta, scratch, false);
}

/**
 * groupNormGrad for the threads' share of the samples: dx as groupNormGrad computes it, and each
 * sample's contributions to dβ and dγ written (not added) to `partials`, 2·channels floats per
 * sample (Σdy, then Σdy·x̂). groupNormGradReduce then adds them in sample order, which gives
 * groupNormGrad's dγ and dβ bit for bit however the samples were split.
 */
export function groupNormGradPartial(
  x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize, batch: i32, positions: i32, channels: i32, groups: i32,
  dx: usize, partials: usize, scratch: usize,
): void {
  gradSamples(x, dy, gamma, mean, invStd, batch, positions, channels, groups, dx, partials + (<usize>channels << 2), partials, scratch, true);
}

/** dβ[c] += partials[n][0][c] and dγ[c] += partials[n][1][c], for n = 0, 1, ... batch − 1 in turn. */
export function groupNormGradReduce(partials: usize, batch: i32, channels: i32, dgamma: usize, dbeta: usize): void {
  const colBytes = <usize>channels << 2;
  for (let n = 0; n < batch; n++) {
    const row = partials + <usize>n * 2 * colBytes;
    accumulateRow(row, dbeta, channels);
    accumulateRow(row + colBytes, dgamma, channels);
  }
}

/**
 * The backward over `batch` samples. With `partial` false, each sample's Σdy·x̂ and Σdy are added
 * to dgamma[c] and dbeta[c]; with it true, they are stored at dgamma and dbeta + n·2·channels
 * floats (sample n's row of groupNormGradPartial's `partials`).
 */
@inline function gradSamples(
  x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize, batch: i32, positions: i32, channels: i32, groups: i32,
  dx: usize, dgamma: usize, dbeta: usize, scratch: usize, partial: bool,
): void {
  const colBytes = <usize>channels << 2;
  const sampleBytes = <usize>positions * colBytes;
  const perGroup = channels / groups;
  const fm = <f32>(positions * perGroup);
  // sumDy and sumDyXhat become the coefficients B and K of pass 2 once reduced; coefA holds invStd
  // per channel in pass 1, then A = γ·invStd.
  const sumDy = scratch, sumDyXhat = scratch + colBytes, meanC = scratch + 2 * colBytes, coefA = scratch + 3 * colBytes;
  for (let n = 0; n < batch; n++) {
    const xs = x + <usize>n * sampleBytes, ds = dy + <usize>n * sampleBytes, out = dx + <usize>n * sampleBytes;
    const stats = <usize>(n * groups) << 2;
    for (let g = 0; g < groups; g++) {
      const c0 = g * perGroup, c1 = c0 + perGroup;
      fillRange(meanC, c0, c1, load<f32>(mean + stats + (<usize>g << 2)));
      fillRange(coefA, c0, c1, load<f32>(invStd + stats + (<usize>g << 2)));
    }
    // Pass 1: Σdy and Σdy·x̂ per channel, over the sample's positions.
    memory.fill(scratch, 0, 2 * colBytes);
    for (let s = 0; s < positions; s++) {
      const xr = xs + <usize>s * colBytes, dr = ds + <usize>s * colBytes;
      let c = 0;
      for (; c + 4 <= channels; c += 4) {
        const o = <usize>c << 2;
        const d = v128.load(dr + o);
        const h = f32x4.mul(f32x4.sub(v128.load(xr + o), v128.load(meanC + o)), v128.load(coefA + o));
        v128.store(sumDy + o, f32x4.add(v128.load(sumDy + o), d));
        v128.store(sumDyXhat + o, f32x4.add(v128.load(sumDyXhat + o), f32x4.mul(d, h)));
      }
      for (; c < channels; c++) {
        const o = <usize>c << 2;
        const d = load<f32>(dr + o);
        const h = (load<f32>(xr + o) - load<f32>(meanC + o)) * load<f32>(coefA + o);
        store<f32>(sumDy + o, load<f32>(sumDy + o) + d);
        store<f32>(sumDyXhat + o, load<f32>(sumDyXhat + o) + d * h);
      }
    }
    // Per group: Σĝ = Σ γ·Σdy and Σĝ·x̂ = Σ γ·Σdy·x̂ over its channels; then per channel
    // dx = A·dy − B − (x − mean)·K with A = γ·invStd, B = invStd·Σĝ/m, K = invStd²·Σĝ·x̂/m.
    const row = partial ? <usize>n * 2 * colBytes : 0;
    for (let g = 0; g < groups; g++) {
      const c0 = g * perGroup, c1 = c0 + perGroup;
      let sumG: f32 = 0, sumGXhat: f32 = 0;
      for (let c = c0; c < c1; c++) {
        const o = <usize>c << 2;
        const s1 = load<f32>(sumDy + o), s2 = load<f32>(sumDyXhat + o), w = load<f32>(gamma + o);
        if (partial) {
          store<f32>(dbeta + row + o, s1);
          store<f32>(dgamma + row + o, s2);
        } else {
          store<f32>(dbeta + o, load<f32>(dbeta + o) + s1);
          store<f32>(dgamma + o, load<f32>(dgamma + o) + s2);
        }
        sumG += w * s1;
        sumGXhat += w * s2;
      }
      const inv = load<f32>(invStd + stats + (<usize>g << 2));
      const b = inv * sumG / fm, k = inv * inv * sumGXhat / fm;
      for (let c = c0; c < c1; c++) {
        const o = <usize>c << 2;
        store<f32>(coefA + o, load<f32>(gamma + o) * inv);
        store<f32>(sumDy + o, b);
        store<f32>(sumDyXhat + o, k);
      }
    }
    // Pass 2: dx, reading x and dy once more.
    for (let s = 0; s < positions; s++) {
      const xr = xs + <usize>s * colBytes, dr = ds + <usize>s * colBytes, outr = out + <usize>s * colBytes;
      let c = 0;
      for (; c + 4 <= channels; c += 4) {
        const o = <usize>c << 2;
        const v = f32x4.sub(f32x4.mul(v128.load(coefA + o), v128.load(dr + o)), v128.load(sumDy + o));
        v128.store(outr + o, f32x4.sub(v, f32x4.mul(f32x4.sub(v128.load(xr + o), v128.load(meanC + o)), v128.load(sumDyXhat + o))));
      }
      for (; c < channels; c++) {
        const o = <usize>c << 2;
        store<f32>(outr + o, load<f32>(coefA + o) * load<f32>(dr + o) - load<f32>(sumDy + o)
          - (load<f32>(xr + o) - load<f32>(meanC + o)) * load<f32>(sumDyXhat + o));
      }
    }
  }
}
