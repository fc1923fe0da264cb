// AssemblyScript: bias, column sums, activations and softmax. Pointers are byte offsets into the
// shared memory; sizes are counts of f32. Piecewise-linear activations run 4 lanes at a time; the
// transcendental ones call Mathf per value (correct to float32 rounding, not yet vectorized).

/** Activation codes, in the order of UNARY_CODES in ../kernels.ts. */
const LINEAR = 0, RELU = 1, ELU = 2, SELU = 3, LEAKY_RELU = 4, TANH = 5, SIGMOID = 6, SWISH = 7;
const SELU_ALPHA: f32 = 1.6732632423543772848170429916717;
const SELU_SCALE: f32 = 1.0507009873554804934193349852946;

/** x[r, c] += bias[c]. */
export function addBias(x: usize, bias: usize, rows: i32, cols: i32): void {
  const cols4 = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * cols << 2);
    let c = 0;
    for (; c < cols4; c += 4) {
      const o = <usize>c << 2;
      v128.store(row + o, f32x4.add(v128.load(row + o), v128.load(bias + o)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(row + o, load<f32>(row + o) + load<f32>(bias + o));
    }
  }
}

/**
 * x[r, c] += bias[c] and y[r, c] = f(x[r, c]) in one pass over each row (y may alias x). The
 * piecewise-linear activations run 4 lanes at a time; the others add the bias to a row and then
 * activate it while it is still in cache.
 */
export function addBiasActivation(x: usize, bias: usize, y: usize, rows: i32, cols: i32, kind: i32, alpha: f32): void {
  if (kind != RELU && kind != LEAKY_RELU && kind != LINEAR) {
    for (let r = 0; r < rows; r++) {
      const o = <usize>r * cols << 2;
      addBias(x + o, bias, 1, cols);
      unary(kind, x + o, y + o, cols, alpha);
    }
    return;
  }
  const cols4 = cols & ~3;
  const s: f32 = kind == RELU ? 0 : kind == LEAKY_RELU ? alpha : 1;
  const zero = f32x4.splat(0), slope = f32x4.splat(s);
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * cols << 2), yr = y + (<usize>r * cols << 2);
    let c = 0;
    for (; c < cols4; c += 4) {
      const o = <usize>c << 2;
      const v = f32x4.add(v128.load(xr + o), v128.load(bias + o));
      v128.store(xr + o, v);
      v128.store(yr + o, v128.bitselect(v, f32x4.mul(v, slope), f32x4.gt(v, zero)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      const v = load<f32>(xr + o) + load<f32>(bias + o);
      store<f32>(xr + o, v);
      store<f32>(yr + o, v > 0 ? v : s * v);
    }
  }
}

/** out[c] (+)= Σ_r x[r, c]. */
export function columnSums(x: usize, rows: i32, cols: i32, out: usize, accumulate: bool): void {
  if (!accumulate) memory.fill(out, 0, <usize>cols << 2);
  const cols4 = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * cols << 2);
    let c = 0;
    for (; c < cols4; c += 4) {
      const o = <usize>c << 2;
      v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(row + o)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(out + o, load<f32>(out + o) + load<f32>(row + o));
    }
  }
}

@inline function sigmoid(v: f32): f32 {
  // Written so that exp never overflows.
  if (v >= 0) return 1 / (1 + Mathf.exp(-v));
  const e = Mathf.exp(v);
  return e / (1 + e);
}

/** y = f(x) over n values; y may alias x. */
export function unary(kind: i32, x: usize, y: usize, n: i32, alpha: f32): void {
  const n4 = n & ~3;
  let i = 0;
  if (kind == RELU || kind == LEAKY_RELU || kind == LINEAR) {
    const zero = f32x4.splat(0);
    const slope = f32x4.splat(kind == RELU ? 0 : kind == LEAKY_RELU ? alpha : 1);
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      // x > 0 ? x : slope·x  (bitselect picks lanes of the first operand where the mask is set)
      v128.store(y + o, v128.bitselect(v, f32x4.mul(v, slope), f32x4.gt(v, zero)));
    }
    const s: f32 = kind == RELU ? 0 : kind == LEAKY_RELU ? alpha : 1;
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const v = load<f32>(x + o);
      store<f32>(y + o, v > 0 ? v : s * v);
    }
    return;
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    let r: f32;
    if (kind == ELU) r = v > 0 ? v : Mathf.expm1(v);
    else if (kind == SELU) r = SELU_SCALE * (v > 0 ? v : SELU_ALPHA * Mathf.expm1(v));
    else if (kind == TANH) r = Mathf.tanh(v);
    else if (kind == SIGMOID) r = sigmoid(v);
    else r = v * sigmoid(v); // SWISH
    store<f32>(y + o, r);
  }
}

/** dx = dy·f'(x), from the forward's x and y; dx may alias dy. */
export function unaryGrad(kind: i32, x: usize, y: usize, dy: usize, dx: usize, n: i32, alpha: f32): void {
  const n4 = n & ~3;
  let i = 0;
  if (kind == RELU || kind == LEAKY_RELU || kind == LINEAR) {
    const zero = f32x4.splat(0);
    const slope = f32x4.splat(kind == RELU ? 0 : kind == LEAKY_RELU ? alpha : 1);
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      const g = v128.load(dy + o);
      v128.store(dx + o, v128.bitselect(g, f32x4.mul(g, slope), f32x4.gt(v128.load(x + o), zero)));
    }
    const s: f32 = kind == RELU ? 0 : kind == LEAKY_RELU ? alpha : 1;
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const g = load<f32>(dy + o);
      store<f32>(dx + o, load<f32>(x + o) > 0 ? g : s * g);
    }
    return;
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o), out = load<f32>(y + o), g = load<f32>(dy + o);
    let r: f32;
    if (kind == ELU) r = v > 0 ? g : g * (out + 1); // for x ≤ 0, d(eˣ − 1)/dx = eˣ = y + 1
    else if (kind == SELU) r = v > 0 ? g * SELU_SCALE : g * (out + SELU_SCALE * SELU_ALPHA);
    else if (kind == TANH) r = g * (1 - out * out);
    else if (kind == SIGMOID) r = g * out * (1 - out);
    else {
      const s = sigmoid(v); // SWISH: d/dx x·σ(x) = σ + y(1 − σ)
      r = g * (s + out * (1 - s));
    }
    store<f32>(dx + o, r);
  }
}

/** Row-wise softmax, shifted by the row maximum. */
export function softmax(x: usize, y: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * cols << 2), yr = y + (<usize>r * cols << 2);
    let max = -Infinity as f32;
    for (let c = 0; c < cols; c++) max = Mathf.max(max, load<f32>(xr + (<usize>c << 2)));
    let sum: f32 = 0;
    for (let c = 0; c < cols; c++) {
      const e = Mathf.exp(load<f32>(xr + (<usize>c << 2)) - max);
      store<f32>(yr + (<usize>c << 2), e);
      sum += e;
    }
    const inv: f32 = 1 / sum;
    for (let c = 0; c < cols; c++) store<f32>(yr + (<usize>c << 2), load<f32>(yr + (<usize>c << 2)) * inv);
  }
}

/** dx = y ⊙ (dy − Σ_c dy·y), row-wise. */
export function softmaxGrad(y: usize, dy: usize, dx: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * cols << 2;
    let dot: f32 = 0;
    for (let c = 0; c < cols; c++) dot += load<f32>(dy + o + (<usize>c << 2)) * load<f32>(y + o + (<usize>c << 2));
    for (let c = 0; c < cols; c++) {
      const q = o + (<usize>c << 2);
      store<f32>(dx + q, load<f32>(y + q) * (load<f32>(dy + q) - dot));
    }
  }
}
