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
 */
export function batchNormTrainStrided(
  x: usize, gamma: usize, beta: usize, rows: i32, cols: i32, ld: i32,
  y: usize, mean: usize, variance: usize, invStd: usize, scratch: usize, epsilon: f32,
): void {
  const cols4 = cols & ~3;
  const colBytes = <usize>cols << 2;
  const rowBytes = <usize>ld << 2;
  const n = <f32>rows;
  // Pass 1: column sums → mean. Two passes rather than E[x²]−E[x]², which cancels in float32
  // when |mean| ≫ std (raw 0–255 pixels); both passes read x from cache at these sizes.
  memory.fill(mean, 0, colBytes);
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * rowBytes;
    let c = 0;
    for (; c < cols4; c += 4) {
      const o = <usize>c << 2;
      v128.store(mean + o, f32x4.add(v128.load(mean + o), v128.load(row + o)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(mean + o, load<f32>(mean + o) + load<f32>(row + o));
    }
  }
  for (let c = 0; c < cols; c++) store<f32>(mean + (<usize>c << 2), load<f32>(mean + (<usize>c << 2)) / n);
  // Pass 2: squared deviations → variance.
  memory.fill(variance, 0, colBytes);
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * rowBytes;
    let c = 0;
    for (; c < cols4; c += 4) {
      const o = <usize>c << 2;
      const d = f32x4.sub(v128.load(row + o), v128.load(mean + o));
      v128.store(variance + o, f32x4.add(v128.load(variance + o), f32x4.mul(d, d)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      const d = load<f32>(row + o) - load<f32>(mean + o);
      store<f32>(variance + o, load<f32>(variance + o) + d * d);
    }
  }
  for (let c = 0; c < cols; c++) {
    const o = <usize>c << 2;
    const v = load<f32>(variance + o) / n;
    store<f32>(variance + o, v);
    const s = <f32>(1 / Math.sqrt(<f64>v + <f64>epsilon));
    store<f32>(invStd + o, s);
    store<f32>(scratch + o, load<f32>(gamma + o) * s);
  }
  // Pass 3: y = (x − mean)·(γ·invStd) + β.
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * rowBytes;
    const out = y + <usize>r * rowBytes;
    let c = 0;
    for (; c < cols4; c += 4) {
      const o = <usize>c << 2;
      const d = f32x4.sub(v128.load(row + o), v128.load(mean + o));
      v128.store(out + o, f32x4.add(f32x4.mul(d, v128.load(scratch + o)), v128.load(beta + o)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(out + o, (load<f32>(row + o) - load<f32>(mean + o)) * load<f32>(scratch + o) + load<f32>(beta + o));
    }
  }
}

/** Closed-form backward of batchNormTrain. `scratch` holds 3·cols floats; dx may alias dy. */
export function batchNormGrad(
  x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize, rows: i32, cols: i32,
  dx: usize, dgamma: usize, dbeta: usize, scratch: usize,
): void {
  batchNormGradStrided(x, dy, gamma, mean, invStd, rows, cols, cols, dx, dgamma, dbeta, scratch);
}

/** batchNormGrad on `cols` columns of matrices whose rows are `ld` values apart (x, dy and dx). */
export function batchNormGradStrided(
  x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize, rows: i32, cols: i32, ld: i32,
  dx: usize, dgamma: usize, dbeta: usize, scratch: usize,
): void {
  const cols4 = cols & ~3;
  const colBytes = <usize>cols << 2;
  const rowBytes = <usize>ld << 2;
  const sumDy = scratch, sumDyXhat = scratch + colBytes, coefA = scratch + 2 * colBytes;
  memory.fill(scratch, 0, 2 * colBytes);
  // Pass 1: Σdy and Σdy·x̂ per column.
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, dr = dy + <usize>r * rowBytes;
    let c = 0;
    for (; c < cols4; c += 4) {
      const o = <usize>c << 2;
      const g = v128.load(dr + o);
      const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), v128.load(mean + o)), v128.load(invStd + o));
      v128.store(sumDy + o, f32x4.add(v128.load(sumDy + o), g));
      v128.store(sumDyXhat + o, f32x4.add(v128.load(sumDyXhat + o), f32x4.mul(g, xhat)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      const g = load<f32>(dr + o);
      const xhat = (load<f32>(xr + o) - load<f32>(mean + o)) * load<f32>(invStd + o);
      store<f32>(sumDy + o, load<f32>(sumDy + o) + g);
      store<f32>(sumDyXhat + o, load<f32>(sumDyXhat + o) + g * xhat);
    }
  }
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
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, dr = dy + <usize>r * rowBytes, out = dx + <usize>r * rowBytes;
    let c = 0;
    for (; c < cols4; c += 4) {
      const o = <usize>c << 2;
      const d = f32x4.sub(v128.load(xr + o), v128.load(mean + o));
      const v = f32x4.sub(f32x4.mul(v128.load(coefA + o), v128.load(dr + o)), v128.load(sumDy + o));
      v128.store(out + o, f32x4.sub(v, f32x4.mul(d, v128.load(sumDyXhat + o))));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      const d = load<f32>(xr + o) - load<f32>(mean + o);
      store<f32>(out + o, load<f32>(coefA + o) * load<f32>(dr + o) - load<f32>(sumDy + o) - d * load<f32>(sumDyXhat + o));
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
