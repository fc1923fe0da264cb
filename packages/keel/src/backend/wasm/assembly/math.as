// AssemblyScript: exp, expm1, tanh and the logistic function on 4 float32 lanes, for the
// activations and softmax. Each is within a few float32 ulps of the correctly rounded value
// (test/backend/kernels.test.ts measures it against float64), NaN gives NaN and infinities give
// the limits. Plain multiplies and adds, never fused: a value's activation is then the same bits
// with and without relaxed SIMD, and in every lane.
//
// exp: x = n·ln2 + r with n = round(x·log2 e) and |r| ≤ ln2/2 (Cody–Waite: ln2 split into a part
// exact in few bits and a correction), e^r − 1 = r + r²·P(r) with P the degree-5 minimax
// polynomial of Cephes' expf, and e^x = 2^n·(1 + (e^r − 1)). 2^n is applied as two halves so that
// results down to the subnormals, and overflow to +∞, come out of the arithmetic itself.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;
// tanh(x) = x + x·x²·T(x²) for |x| < 0.625 (Cephes' tanhf), where 1 − 2/(e^2|x| + 1) cancels.
const T0: f32 = -5.70498872745e-3;
const T1: f32 = 2.06390887954e-2;
const T2: f32 = -5.37397155531e-2;
const T3: f32 = 1.33314422036e-1;
const T4: f32 = -3.33332819422e-1;

/** e^r − 1 for |r| ≤ ln2/2. */
@inline function expm1Reduced(r: v128): v128 {
  let p = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P5));
  return f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r);
}

/** 2^k for integer lanes −126 ≤ k ≤ 127. */
@inline function pow2(k: v128): v128 {
  return i32x4.shl(i32x4.add(k, i32x4.splat(127)), 23);
}

/** Splits x into n (float lanes, whole numbers) and r = x − n·ln2. */
@inline function reduceN(x: v128): v128 {
  return f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
}
@inline function reduceR(x: v128, n: v128): v128 {
  return f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
}

/** e^x per lane. */
@inline export function expv(x: v128): v128 {
  // Beyond [−104, 89] the result is 0 or +∞ anyway; clamping keeps n within two halves' range.
  // (f32x4.min/max propagate NaN.)
  const xc = f32x4.max(f32x4.min(x, f32x4.splat(89)), f32x4.splat(-104));
  const n = reduceN(xc);
  const e = f32x4.add(expm1Reduced(reduceR(xc, n)), f32x4.splat(1));
  const k = i32x4.trunc_sat_f32x4_s(n);
  const half = i32x4.shr_s(k, 1);
  return f32x4.mul(f32x4.mul(e, pow2(half)), pow2(i32x4.sub(k, half)));
}

/** e^x − 1 per lane, for x ≤ 0 (ELU and SELU take it only there); accurate near 0, where e^x − 1 cancels. */
@inline export function expm1NonPositive(x: v128): v128 {
  // e^x − 1 rounds to −1 below −18; clamping keeps 2^n normal.
  const xc = f32x4.max(f32x4.min(x, f32x4.splat(0)), f32x4.splat(-30));
  const n = reduceN(xc);
  const s = pow2(i32x4.trunc_sat_f32x4_s(n));
  // 2^n·(e^r − 1) + (2^n − 1): exact in its second term, so no cancellation when n = 0.
  const r = f32x4.add(f32x4.mul(s, expm1Reduced(reduceR(xc, n))), f32x4.sub(s, f32x4.splat(1)));
  // NaN stays NaN (the clamp keeps it; the sum then does too).
  return r;
}

/** tanh per lane. */
@inline export function tanhv(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  const a = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.add(f32x4.mul(f32x4.splat(T0), z), f32x4.splat(T1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T3));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T4));
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(x, z), p));
  // 1 − 2/(e^2|x| + 1) ∈ [0, 1], with x's sign put back.
  const e = expv(f32x4.add(a, a));
  const large = v128.or(f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1)))), sign);
  // Lanes that are NaN fail both comparisons and take `large`, which is NaN for them.
  return v128.bitselect(small, large, f32x4.lt(a, f32x4.splat(0.625)));
}

/** The logistic function 1/(1 + e^−x) per lane, written so that e^… never overflows. */
@inline export function sigmoidv(x: v128): v128 {
  const e = expv(f32x4.neg(f32x4.abs(x))); // e^−|x| ∈ (0, 1]
  const s = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  // x ≥ 0: 1/(1 + e^−x); x < 0: e^x/(1 + e^x). NaN lanes take e·s, NaN.
  return v128.bitselect(s, f32x4.mul(e, s), f32x4.ge(x, f32x4.splat(0)));
}
