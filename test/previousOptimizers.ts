/**
 * The RMSprop and Nadam rules exactly as src/optimizers ran them in JavaScript before they had
 * backend kernels, kept as an oracle independent of every backend and run on float64 arrays.
 * Imports nothing from the library, so kernel tests can use it without loading a backend.
 */
export interface PreviousRmspropState { s: Float64Array; mom: Float64Array; avg: Float64Array }
export interface RmspropHyper { lr: number; rho: number; momentum: number; epsilon: number; centered: boolean }

export function previousRmspropStep(w: Float64Array, g: ArrayLike<number>, state: PreviousRmspropState, h: RmspropHyper): void {
  const { s, mom, avg } = state;
  const { rho, momentum, epsilon, centered, lr } = h;
  for (let i = 0; i < w.length; i++) {
    s[i] = rho * s[i] + (1 - rho) * g[i] * g[i];
    let denominator = s[i] + epsilon;
    if (centered) {
      avg[i] = rho * avg[i] + (1 - rho) * g[i];
      denominator -= avg[i] * avg[i];
    }
    const step = (lr * g[i]) / Math.sqrt(denominator);
    if (momentum > 0) {
      mom[i] = momentum * mom[i] + step;
      w[i] -= mom[i];
    } else {
      w[i] -= step;
    }
  }
}

export interface PreviousNadamState { m: Float64Array; v: Float64Array; uProduct: number }
export interface NadamHyper { lr: number; beta1: number; beta2: number; epsilon: number }

/** One Nadam step t (1, 2, ...): Keras's momentum schedule (the optimizer's beginStep), then the update. */
export function previousNadamStep(w: Float64Array, g: ArrayLike<number>, state: PreviousNadamState, t: number, h: NadamHyper): void {
  const { beta1: b1, beta2: b2, epsilon, lr } = h;
  const muT = b1 * (1 - 0.5 * 0.96 ** t);
  const muNext = b1 * (1 - 0.5 * 0.96 ** (t + 1));
  const uProductT = state.uProduct * muT;
  state.uProduct = uProductT;
  const { m, v } = state;
  const uProductNext = uProductT * muNext;
  const b2Power = b2 ** t;
  for (let i = 0; i < w.length; i++) {
    m[i] += (g[i] - m[i]) * (1 - b1);
    v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
    const mHat = (muNext * m[i]) / (1 - uProductNext) + ((1 - muT) * g[i]) / (1 - uProductT);
    const vHat = v[i] / (1 - b2Power);
    w[i] -= (lr * mHat) / (Math.sqrt(vHat) + epsilon);
  }
}
