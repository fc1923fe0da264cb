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
