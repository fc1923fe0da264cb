// AssemblyScript: bias, column sums, activations and softmax. Pointers are byte offsets into the
// shared memory; sizes are counts of f32. Everything runs 4 lanes at a time; the transcendental
// activations use math.as's exp/tanh/logistic, and the last 1–3 values of an array go through
// the same lane code (loaded into a vector), so a value's result never depends on its position.
import { expv, expm1NonPositive, tanhv, sigmoidv } from './math';

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

/** out[0..n) = a[0..n) + b[0..n); out may alias a or b. */
export function addVectors(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
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

/** x[0..n) = value. */
export function fillValue(x: usize, n: i32, value: f32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), value);
}

/**
 * The index of the first NaN or ±∞ among x[0..n), or −1. x·0 is 0 for every finite x and NaN for
 * the others, so 16 values are checked with 4 multiplies, 3 adds and one comparison; a block that
 * fails is searched value by value.
 */
export function findNonFinite(x: usize, n: i32): i32 {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const a = f32x4.mul(v128.load(p), zero), b = f32x4.mul(v128.load(p, 16), zero);
    const c = f32x4.mul(v128.load(p, 32), zero), d = f32x4.mul(v128.load(p, 48), zero);
    const s = f32x4.add(f32x4.add(a, b), f32x4.add(c, d));
    if (v128.any_true(f32x4.ne(s, s))) break;
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v * 0 != 0) return i;
  }
  return -1;
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

/** The first `count` (1–3) values at p, in lanes 0..count−1 of a vector (the others 0). */
@inline function loadPartial(p: usize, count: i32): v128 {
  let v = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(p));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores lanes 0..count−1 (count 1–3) of v at p. */
@inline function storePartial(p: usize, v: v128, count: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Loads the 4 values at p, or the `count` < 4 left. */
@inline function loadAt(p: usize, count: i32): v128 {
  return count >= 4 ? v128.load(p) : loadPartial(p, count);
}

@inline function storeAt(p: usize, v: v128, count: i32): void {
  if (count >= 4) v128.store(p, v);
  else storePartial(p, v, count);
}

/** f(v) for the transcendental activations (ELU, SELU, tanh, sigmoid, swish). */
@inline function activate(kind: i32, v: v128, alpha: f32): v128 {
  const positive = f32x4.gt(v, f32x4.splat(0));
  if (kind == ELU) return v128.bitselect(v, expm1NonPositive(v), positive);
  if (kind == SELU) {
    const neg = f32x4.mul(f32x4.splat(SELU_ALPHA), expm1NonPositive(v));
    return f32x4.mul(f32x4.splat(SELU_SCALE), v128.bitselect(v, neg, positive));
  }
  if (kind == TANH) return tanhv(v);
  if (kind == SIGMOID) return sigmoidv(v);
  return f32x4.mul(v, sigmoidv(v)); // SWISH
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
  // One loop per kind, so that the kind is not tested per vector.
  if (kind == ELU) for (; i < n4; i += 4) v128.store(y + (<usize>i << 2), activate(ELU, v128.load(x + (<usize>i << 2)), alpha));
  else if (kind == SELU) for (; i < n4; i += 4) v128.store(y + (<usize>i << 2), activate(SELU, v128.load(x + (<usize>i << 2)), alpha));
  else if (kind == TANH) for (; i < n4; i += 4) v128.store(y + (<usize>i << 2), activate(TANH, v128.load(x + (<usize>i << 2)), alpha));
  else if (kind == SIGMOID) for (; i < n4; i += 4) v128.store(y + (<usize>i << 2), activate(SIGMOID, v128.load(x + (<usize>i << 2)), alpha));
  else for (; i < n4; i += 4) v128.store(y + (<usize>i << 2), activate(SWISH, v128.load(x + (<usize>i << 2)), alpha));
  if (i < n) storePartial(y + (<usize>i << 2), activate(kind, loadPartial(x + (<usize>i << 2), n - i), alpha), n - i);
}

/** dy·f'(x) for the transcendental activations, from x, y = f(x) and dy. */
@inline function activateGrad(kind: i32, v: v128, out: v128, g: v128): v128 {
  const one = f32x4.splat(1);
  const positive = f32x4.gt(v, f32x4.splat(0));
  // ELU: for x ≤ 0, d(eˣ − 1)/dx = eˣ = y + 1.
  if (kind == ELU) return v128.bitselect(g, f32x4.mul(g, f32x4.add(out, one)), positive);
  if (kind == SELU) {
    const neg = f32x4.mul(g, f32x4.add(out, f32x4.splat(SELU_SCALE * SELU_ALPHA)));
    return v128.bitselect(f32x4.mul(g, f32x4.splat(SELU_SCALE)), neg, positive);
  }
  if (kind == TANH) return f32x4.mul(g, f32x4.sub(one, f32x4.mul(out, out)));
  if (kind == SIGMOID) return f32x4.mul(f32x4.mul(g, out), f32x4.sub(one, out));
  // SWISH: d/dx x·σ(x) = σ + y(1 − σ).
  const s = sigmoidv(v);
  return f32x4.mul(g, f32x4.add(s, f32x4.mul(out, f32x4.sub(one, s))));
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
  // Only swish needs x (it recomputes σ); the others work from y. One loop per kind, as in unary.
  if (kind == SWISH) {
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, activateGrad(SWISH, v128.load(x + o), v128.load(y + o), v128.load(dy + o)));
    }
  } else if (kind == TANH) {
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, activateGrad(TANH, v128.load(x + o), v128.load(y + o), v128.load(dy + o)));
    }
  } else if (kind == SIGMOID) {
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, activateGrad(SIGMOID, v128.load(x + o), v128.load(y + o), v128.load(dy + o)));
    }
  } else {
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, activateGrad(kind, v128.load(x + o), v128.load(y + o), v128.load(dy + o)));
    }
  }
  if (i < n) {
    const o = <usize>i << 2, count = n - i;
    storePartial(dx + o, activateGrad(kind, loadPartial(x + o, count), loadPartial(y + o, count), loadPartial(dy + o, count)), count);
  }
}

/** Row-wise softmax, shifted by the row maximum. */
export function softmax(x: usize, y: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * cols << 2), yr = y + (<usize>r * cols << 2);
    let max = -Infinity as f32;
    for (let c = 0; c < cols; c++) max = Mathf.max(max, load<f32>(xr + (<usize>c << 2)));
    const m = f32x4.splat(max);
    for (let c = 0; c < cols; c += 4) {
      const o = <usize>c << 2;
      const count = cols - c;
      storeAt(yr + o, expv(f32x4.sub(loadAt(xr + o, count), m)), count);
    }
    let sum: f32 = 0;
    for (let c = 0; c < cols; c++) sum += load<f32>(yr + (<usize>c << 2));
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
