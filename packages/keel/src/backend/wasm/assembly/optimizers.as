// AssemblyScript: optimizer updates, 4 lanes at a time, in float32 (the weights' precision). The
// formulas are the Backend interface's (Keras 3); pointers are byte offsets, n counts f32 values.

/** SGD: w −= lr·g, or with a velocity (pointer ≠ 0) v ← momentum·v − lr·g; w += v (nesterov: momentum·v − lr·g). */
export function sgdUpdate(w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, nesterov: bool): void {
  const n4 = n & ~3;
  const lr4 = f32x4.splat(lr), m4 = f32x4.splat(momentum);
  let i = 0;
  if (v == 0) {
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      v128.store(w + o, f32x4.sub(v128.load(w + o), f32x4.mul(lr4, v128.load(g + o))));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(w + o, load<f32>(w + o) - lr * load<f32>(g + o));
    }
    return;
  }
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const step = f32x4.mul(lr4, v128.load(g + o));
    const vel = f32x4.sub(f32x4.mul(m4, v128.load(v + o)), step);
    v128.store(v + o, vel);
    const dw = nesterov ? f32x4.sub(f32x4.mul(m4, vel), step) : vel;
    v128.store(w + o, f32x4.add(v128.load(w + o), dw));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const step = lr * load<f32>(g + o);
    const vel = momentum * load<f32>(v + o) - step;
    store<f32>(v + o, vel);
    store<f32>(w + o, load<f32>(w + o) + (nesterov ? momentum * vel - step : vel));
  }
}

/**
 * Adam: m += (g − m)·a1; v += (g² − v)·a2; w −= lrT·m/(sqrt(v) + ε), with a1 = 1 − β1 and
 * a2 = 1 − β2 computed by the caller in float64: 1 − f32(0.999) would be off by 1.3e-5 relative.
 */
export function adamUpdate(w: usize, g: usize, m: usize, v: usize, n: i32, lrT: f32, a1: f32, a2: f32, epsilon: f32): void {
  const n4 = n & ~3;
  const a14 = f32x4.splat(a1), a24 = f32x4.splat(a2), lr4 = f32x4.splat(lrT), eps4 = f32x4.splat(epsilon);
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    let mi = v128.load(m + o), vi = v128.load(v + o);
    mi = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), a14));
    vi = f32x4.add(vi, f32x4.mul(f32x4.sub(f32x4.mul(gi, gi), vi), a24));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const step = f32x4.div(f32x4.mul(lr4, mi), f32x4.add(f32x4.sqrt(vi), eps4));
    v128.store(w + o, f32x4.sub(v128.load(w + o), step));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    let mi = load<f32>(m + o), vi = load<f32>(v + o);
    mi += (gi - mi) * a1;
    vi += (gi * gi - vi) * a2;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(w + o, load<f32>(w + o) - (lrT * mi) / (Mathf.sqrt(vi) + epsilon));
  }
}

/**
 * RMSprop: s ← ρ·s + a·g²; centered (avg ≠ 0): ḡ ← ρ·ḡ + a·g, d = s − ḡ², else d = s;
 * Δ = lr·g/sqrt(d + ε); then w −= Δ, or with a momentum slot (mom ≠ 0) mom ← momentum·mom + Δ;
 * w −= mom. a = 1 − ρ comes from the caller in float64, as Adam's a1 and a2 do. The centered
 * difference is taken before ε is added: s − ḡ² is then exact when the two are close (Sterbenz),
 * and ε is not rounded away against a large s.
 */
export function rmspropUpdate(
  w: usize, g: usize, s: usize, mom: usize, avg: usize, n: i32, lr: f32, rho: f32, a: f32, momentum: f32, epsilon: f32,
): void {
  const n4 = n & ~3;
  const lr4 = f32x4.splat(lr), rho4 = f32x4.splat(rho), a4 = f32x4.splat(a);
  const mu4 = f32x4.splat(momentum), eps4 = f32x4.splat(epsilon);
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const si = f32x4.add(f32x4.mul(rho4, v128.load(s + o)), f32x4.mul(a4, f32x4.mul(gi, gi)));
    v128.store(s + o, si);
    let d = si;
    if (avg != 0) {
      const ai = f32x4.add(f32x4.mul(rho4, v128.load(avg + o)), f32x4.mul(a4, gi));
      v128.store(avg + o, ai);
      d = f32x4.sub(si, f32x4.mul(ai, ai));
    }
    let step = f32x4.div(f32x4.mul(lr4, gi), f32x4.sqrt(f32x4.add(d, eps4)));
    if (mom != 0) {
      step = f32x4.add(f32x4.mul(mu4, v128.load(mom + o)), step);
      v128.store(mom + o, step);
    }
    v128.store(w + o, f32x4.sub(v128.load(w + o), step));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const si = rho * load<f32>(s + o) + a * (gi * gi);
    store<f32>(s + o, si);
    let d = si;
    if (avg != 0) {
      const ai = rho * load<f32>(avg + o) + a * gi;
      store<f32>(avg + o, ai);
      d = si - ai * ai;
    }
    let step = (lr * gi) / Mathf.sqrt(d + epsilon);
    if (mom != 0) {
      step = momentum * load<f32>(mom + o) + step;
      store<f32>(mom + o, step);
    }
    store<f32>(w + o, load<f32>(w + o) - step);
  }
}

/**
 * Nadam: m += (g − m)·a1; v += (g² − v)·a2; w −= (lrM·m + lrG·g)/(sqrt(v·vScale) + ε). The caller
 * computes a1 = 1 − β1, a2 = 1 − β2 and the scalars lrM, lrG, vScale (Keras's momentum schedule and
 * bias corrections, see the Backend interface) in float64.
 */
export function nadamUpdate(
  w: usize, g: usize, m: usize, v: usize, n: i32, lrM: f32, lrG: f32, vScale: f32, a1: f32, a2: f32, epsilon: f32,
): void {
  const n4 = n & ~3;
  const a14 = f32x4.splat(a1), a24 = f32x4.splat(a2), eps4 = f32x4.splat(epsilon);
  const lrM4 = f32x4.splat(lrM), lrG4 = f32x4.splat(lrG), vs4 = f32x4.splat(vScale);
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    let mi = v128.load(m + o), vi = v128.load(v + o);
    mi = f32x4.add(mi, f32x4.mul(f32x4.sub(gi, mi), a14));
    vi = f32x4.add(vi, f32x4.mul(f32x4.sub(f32x4.mul(gi, gi), vi), a24));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const num = f32x4.add(f32x4.mul(lrM4, mi), f32x4.mul(lrG4, gi));
    const step = f32x4.div(num, f32x4.add(f32x4.sqrt(f32x4.mul(vi, vs4)), eps4));
    v128.store(w + o, f32x4.sub(v128.load(w + o), step));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    let mi = load<f32>(m + o), vi = load<f32>(v + o);
    mi += (gi - mi) * a1;
    vi += (gi * gi - vi) * a2;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(w + o, load<f32>(w + o) - (lrM * mi + lrG * gi) / (Mathf.sqrt(vi * vScale) + epsilon));
  }
}
