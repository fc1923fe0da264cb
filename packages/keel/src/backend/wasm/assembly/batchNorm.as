// AssemblyScript: batch normalization over the rows of a rows×cols matrix, per column, 4 columns
// per SIMD lane group. Formulas are those of the Backend interface (src/backend/backend.ts):
//   mean = Σx/N, variance = Σ(x−mean)²/N, invStd = 1/sqrt(variance + ε), y = γ·(x−mean)·invStd + β
//   backward, with x̂ = (x−mean)·invStd:  dβ += Σdy, dγ += Σdy·x̂,
//   dx = γ·invStd/N · (N·dy − Σdy − x̂·Σdy·x̂)

/** Training forward. `scratch` holds cols floats. */
export function batchNormTrain(
  x: usize, gamma: usize, beta: usize, epsilon: f32, rows: i32, cols: i32,
  y: usize, mean: usize, variance: usize, invStd: usize, scratch: usize,
): void {
  batchNormTrainStrided(x, gamma, beta, rows, cols, cols, y, mean, variance, invStd, scratch, epsilon);
}

/**
 * batchNormTrain on `cols` columns of matrices whose rows are `ld` values apart (x and y), so that
 * threads can each take a range of columns. epsilon comes last for the thread pool's sake.
 *
 * Each pass walks the rows in order, four at a time: the four rows' values are added in registers
 * and the column accumulators (cols floats, in L1) loaded and stored once per four rows, which
 * halves the memory operations of a row-at-a-time pass. Rows stay the unit of access, so every
 * stream is sequential (the hardware prefetches it) whatever the stride; walking down columns
 * instead runs into 4 KB-stride cache-set conflicts at widths like 1024.
 */
export function batchNormTrainStrided(
  x: usize, gamma: usize, beta: usize, rows: i32, cols: i32, ld: i32,
  y: usize, mean: usize, variance: usize, invStd: usize, scratch: usize, epsilon: f32,
): void {
  const colBytes = <usize>cols << 2;
  const n = <f32>rows;
  // Pass 1: column sums → mean.
  memory.fill(mean, 0, colBytes);
  columnSumsInto(x, rows, cols, ld, mean);
  for (let c = 0; c < cols; c++) store<f32>(mean + (<usize>c << 2), load<f32>(mean + (<usize>c << 2)) / n);
  // Pass 2: squared deviations → variance. Two passes rather than E[x²]−E[x]², which cancels in
  // float32 when |mean| ≫ std (raw 0–255 pixels); the second reads x from cache at these sizes.
  memory.fill(variance, 0, colBytes);
  squaredDeviationsInto(x, mean, rows, cols, ld, variance);
  for (let c = 0; c < cols; c++) {
    const o = <usize>c << 2;
    const v = load<f32>(variance + o) / n;
    store<f32>(variance + o, v);
    const s = <f32>(1 / Math.sqrt(<f64>v + <f64>epsilon));
    store<f32>(invStd + o, s);
    store<f32>(scratch + o, load<f32>(gamma + o) * s);
  }
  // Pass 3: y = (x − mean)·(γ·invStd) + β.
  normalizeRows(x, mean, scratch, beta, rows, cols, ld, y);
}

/** acc[c] += Σ_r x[r, c] over `rows` rows `ld` values apart, four rows per load of acc. */
@inline function columnSumsInto(x: usize, rows: i32, cols: i32, ld: i32, acc: usize): void {
  const rowBytes = <usize>ld << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const p = x + <usize>r * rowBytes;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2, q = p + o;
      const s = f32x4.add(f32x4.add(v128.load(q), v128.load(q + rowBytes)), f32x4.add(v128.load(q + 2 * rowBytes), v128.load(q + 3 * rowBytes)));
      v128.store(acc + o, f32x4.add(v128.load(acc + o), s));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2, q = p + o;
      const s = (load<f32>(q) + load<f32>(q + rowBytes)) + (load<f32>(q + 2 * rowBytes) + load<f32>(q + 3 * rowBytes));
      store<f32>(acc + o, load<f32>(acc + o) + s);
    }
  }
  for (; r < rows; r++) addRow(x + <usize>r * rowBytes, acc, cols);
}

/** acc[c] += Σ_r (x[r, c] − mean[c])², as columnSumsInto. */
@inline function squaredDeviationsInto(x: usize, mean: usize, rows: i32, cols: i32, ld: i32, acc: usize): void {
  const rowBytes = <usize>ld << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const p = x + <usize>r * rowBytes;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2, q = p + o;
      const m = v128.load(mean + o);
      const d0 = f32x4.sub(v128.load(q), m), d1 = f32x4.sub(v128.load(q + rowBytes), m);
      const d2 = f32x4.sub(v128.load(q + 2 * rowBytes), m), d3 = f32x4.sub(v128.load(q + 3 * rowBytes), m);
      const s = f32x4.add(f32x4.add(f32x4.mul(d0, d0), f32x4.mul(d1, d1)), f32x4.add(f32x4.mul(d2, d2), f32x4.mul(d3, d3)));
      v128.store(acc + o, f32x4.add(v128.load(acc + o), s));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2, q = p + o;
      const m = load<f32>(mean + o);
      const d0 = load<f32>(q) - m, d1 = load<f32>(q + rowBytes) - m, d2 = load<f32>(q + 2 * rowBytes) - m, d3 = load<f32>(q + 3 * rowBytes) - m;
      store<f32>(acc + o, load<f32>(acc + o) + ((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)));
    }
  }
  for (; r < rows; r++) {
    const p = x + <usize>r * rowBytes;
    for (let c = 0; c < cols; c++) {
      const o = <usize>c << 2;
      const d = load<f32>(p + o) - load<f32>(mean + o);
      store<f32>(acc + o, load<f32>(acc + o) + d * d);
    }
  }
}

/** y = (x − mean)·k + b per column (k = γ·invStd), four rows per load of the coefficients. */
@inline function normalizeRows(x: usize, mean: usize, k: usize, beta: usize, rows: i32, cols: i32, ld: i32, y: usize): void {
  const rowBytes = <usize>ld << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const p = x + <usize>r * rowBytes, out = y + <usize>r * rowBytes;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2, q = p + o, w = out + o;
      const m = v128.load(mean + o), kk = v128.load(k + o), b = v128.load(beta + o);
      const x0 = v128.load(q), x1 = v128.load(q + rowBytes), x2 = v128.load(q + 2 * rowBytes), x3 = v128.load(q + 3 * rowBytes);
      v128.store(w, f32x4.add(f32x4.mul(f32x4.sub(x0, m), kk), b));
      v128.store(w + rowBytes, f32x4.add(f32x4.mul(f32x4.sub(x1, m), kk), b));
      v128.store(w + 2 * rowBytes, f32x4.add(f32x4.mul(f32x4.sub(x2, m), kk), b));
      v128.store(w + 3 * rowBytes, f32x4.add(f32x4.mul(f32x4.sub(x3, m), kk), b));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      const m = load<f32>(mean + o), kk = load<f32>(k + o), b = load<f32>(beta + o);
      for (let i: usize = 0; i < 4; i++) store<f32>(out + o + i * rowBytes, (load<f32>(p + o + i * rowBytes) - m) * kk + b);
    }
  }
  for (; r < rows; r++) {
    const p = x + <usize>r * rowBytes, out = y + <usize>r * rowBytes;
    for (let c = 0; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(out + o, (load<f32>(p + o) - load<f32>(mean + o)) * load<f32>(k + o) + load<f32>(beta + o));
    }
  }
}

// ---- Row-split BN, for matrices too narrow to split by columns (fewer than 32: a thread's
// columns would share cache lines with the other's). Each part of the rows writes its own
// partial sums; the calling thread adds them in part order and computes the per-column
// coefficients, so the bits depend only on how many parts there are. ----

/** out[c] = Σ x[r, c] over this part's rows (the partial sums of pass 1). */
export function batchNormRowsSums(x: usize, rows: i32, cols: i32, out: usize): void {
  memory.fill(out, 0, <usize>cols << 2);
  columnSumsInto(x, rows, cols, cols, out);
}

/** out[c] = Σ (x[r, c] − mean[c])² over this part's rows (pass 2). */
export function batchNormRowsSquares(x: usize, mean: usize, rows: i32, cols: i32, out: usize): void {
  memory.fill(out, 0, <usize>cols << 2);
  squaredDeviationsInto(x, mean, rows, cols, cols, out);
}

/** y = (x − mean)·k + β over this part's rows (pass 3; k = γ·invStd). */
export function batchNormRowsNormalize(x: usize, mean: usize, k: usize, beta: usize, rows: i32, cols: i32, y: usize): void {
  normalizeRows(x, mean, k, beta, rows, cols, cols, y);
}

/** sumDy[c] = Σ dy, sumDyXhat[c] = Σ dy·x̂ over this part's rows (the backward's pass 1). */
export function batchNormRowsGradSums(x: usize, dy: usize, mean: usize, invStd: usize, rows: i32, cols: i32, sumDy: usize, sumDyXhat: usize): void {
  memory.fill(sumDy, 0, <usize>cols << 2);
  memory.fill(sumDyXhat, 0, <usize>cols << 2);
  gradSumsInto(x, dy, mean, invStd, rows, cols, cols, sumDy, sumDyXhat);
}

/** dx = A·dy − B − (x − mean)·K over this part's rows (the backward's pass 2). */
export function batchNormRowsGradApply(x: usize, dy: usize, mean: usize, a: usize, b: usize, k: usize, rows: i32, cols: i32, dx: usize): void {
  gradApplyRows(x, dy, mean, a, b, k, rows, cols, cols, dx);
}

/** acc[c] += row[c] for c < cols. */
@inline function addRow(row: usize, acc: usize, cols: i32): void {
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

/** Closed-form backward of batchNormTrain. `scratch` holds 3·cols floats; dx may alias dy. */
export function batchNormGrad(
  x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize, rows: i32, cols: i32,
  dx: usize, dgamma: usize, dbeta: usize, scratch: usize,
): void {
  batchNormGradStrided(x, dy, gamma, mean, invStd, rows, cols, cols, dx, dgamma, dbeta, scratch);
}

/**
 * batchNormGrad on `cols` columns of matrices whose rows are `ld` values apart (x, dy and dx),
 * two rows at a time in the first pass and four in the second (see batchNormTrainStrided).
 */
export function batchNormGradStrided(
  x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize, rows: i32, cols: i32, ld: i32,
  dx: usize, dgamma: usize, dbeta: usize, scratch: usize,
): void {
  const colBytes = <usize>cols << 2;
  const sumDy = scratch, sumDyXhat = scratch + colBytes, coefA = scratch + 2 * colBytes;
  memory.fill(scratch, 0, 2 * colBytes);
  // Pass 1: Σdy and Σdy·x̂ per column.
  gradSumsInto(x, dy, mean, invStd, rows, cols, ld, sumDy, sumDyXhat);
  // Per column, dx = A·dy − B − (x − mean)·C with A = γ·invStd, B = A·Σdy/N, C = A·invStd·Σdy·x̂/N.
  const n = <f32>rows;
  for (let c = 0; c < cols; c++) {
    const o = <usize>c << 2;
    const s1 = load<f32>(sumDy + o), s2 = load<f32>(sumDyXhat + o), inv = load<f32>(invStd + o);
    store<f32>(dbeta + o, load<f32>(dbeta + o) + s1);
    store<f32>(dgamma + o, load<f32>(dgamma + o) + s2);
    const a = load<f32>(gamma + o) * inv;
    store<f32>(coefA + o, a);
    store<f32>(sumDy + o, a * s1 / n);
    store<f32>(sumDyXhat + o, a * inv * s2 / n);
  }
  // Pass 2: dx, reading dy and x once more.
  gradApplyRows(x, dy, mean, coefA, sumDy, sumDyXhat, rows, cols, ld, dx);
}

/** sumDy[c] += Σ dy and sumDyXhat[c] += Σ dy·x̂ over `rows` rows `ld` apart, two rows at a time. */
@inline function gradSumsInto(x: usize, dy: usize, mean: usize, invStd: usize, rows: i32, cols: i32, ld: i32, sumDy: usize, sumDyXhat: usize): void {
  const rowBytes = <usize>ld << 2;
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const xr = x + <usize>r * rowBytes, dr = dy + <usize>r * rowBytes;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2;
      const m = v128.load(mean + o), inv = v128.load(invStd + o);
      const g0 = v128.load(dr + o), g1 = v128.load(dr + o + rowBytes);
      const h0 = f32x4.mul(f32x4.sub(v128.load(xr + o), m), inv), h1 = f32x4.mul(f32x4.sub(v128.load(xr + o + rowBytes), m), inv);
      v128.store(sumDy + o, f32x4.add(v128.load(sumDy + o), f32x4.add(g0, g1)));
      v128.store(sumDyXhat + o, f32x4.add(v128.load(sumDyXhat + o), f32x4.add(f32x4.mul(g0, h0), f32x4.mul(g1, h1))));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      const m = load<f32>(mean + o), inv = load<f32>(invStd + o);
      const g0 = load<f32>(dr + o), g1 = load<f32>(dr + o + rowBytes);
      const h0 = (load<f32>(xr + o) - m) * inv, h1 = (load<f32>(xr + o + rowBytes) - m) * inv;
      store<f32>(sumDy + o, load<f32>(sumDy + o) + (g0 + g1));
      store<f32>(sumDyXhat + o, load<f32>(sumDyXhat + o) + (g0 * h0 + g1 * h1));
    }
  }
  for (; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, dr = dy + <usize>r * rowBytes;
    for (let c = 0; c < cols; c++) {
      const o = <usize>c << 2;
      const g = load<f32>(dr + o);
      store<f32>(sumDy + o, load<f32>(sumDy + o) + g);
      store<f32>(sumDyXhat + o, load<f32>(sumDyXhat + o) + g * ((load<f32>(xr + o) - load<f32>(mean + o)) * load<f32>(invStd + o)));
    }
  }
}

/** dx = A·dy − B − (x − mean)·K per column, four rows per load of the coefficients. */
@inline function gradApplyRows(x: usize, dy: usize, mean: usize, coefA: usize, coefB: usize, coefK: usize, rows: i32, cols: i32, ld: i32, dx: usize): void {
  const rowBytes = <usize>ld << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const xr = x + <usize>r * rowBytes, dr = dy + <usize>r * rowBytes, out = dx + <usize>r * rowBytes;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2;
      const m = v128.load(mean + o), a = v128.load(coefA + o), b = v128.load(coefB + o), k = v128.load(coefK + o);
      for (let i: usize = 0; i < 4; i++) {
        const at = o + i * rowBytes;
        const v = f32x4.sub(f32x4.mul(a, v128.load(dr + at)), b);
        v128.store(out + at, f32x4.sub(v, f32x4.mul(f32x4.sub(v128.load(xr + at), m), k)));
      }
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      const m = load<f32>(mean + o), a = load<f32>(coefA + o), b = load<f32>(coefB + o), k = load<f32>(coefK + o);
      for (let i: usize = 0; i < 4; i++) {
        const at = o + i * rowBytes;
        store<f32>(out + at, a * load<f32>(dr + at) - b - (load<f32>(xr + at) - m) * k);
      }
    }
  }
  for (; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, dr = dy + <usize>r * rowBytes, out = dx + <usize>r * rowBytes;
    for (let c = 0; c < cols; c++) {
      const o = <usize>c << 2;
      const d = load<f32>(xr + o) - load<f32>(mean + o);
      store<f32>(out + o, load<f32>(coefA + o) * load<f32>(dr + o) - load<f32>(coefB + o) - d * load<f32>(coefK + o));
    }
  }
}

/** Inference: y = x·scale + shift with scale = γ/sqrt(variance + ε), shift = β − mean·scale. `scratch`: 2·cols floats. */
export function batchNormInfer(
  x: usize, mean: usize, variance: usize, gamma: usize, beta: usize, epsilon: f32, rows: i32, cols: i32,
  y: usize, scratch: usize,
): void {
  const cols4 = cols & ~3;
  const colBytes = <usize>cols << 2;
  const scale = scratch, shift = scratch + colBytes;
  for (let c = 0; c < cols; c++) {
    const o = <usize>c << 2;
    const s = <f32>(<f64>load<f32>(gamma + o) / Math.sqrt(<f64>load<f32>(variance + o) + <f64>epsilon));
    store<f32>(scale + o, s);
    store<f32>(shift + o, load<f32>(beta + o) - load<f32>(mean + o) * s);
  }
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * colBytes, out = y + <usize>r * colBytes;
    let c = 0;
    for (; c < cols4; c += 4) {
      const o = <usize>c << 2;
      v128.store(out + o, f32x4.add(f32x4.mul(v128.load(xr + o), v128.load(scale + o)), v128.load(shift + o)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(out + o, load<f32>(xr + o) * load<f32>(scale + o) + load<f32>(shift + o));
    }
  }
}
